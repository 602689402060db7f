import ArgumentParser
import NewsControl
import SyncProtocol

struct PeersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peers", abstract: "Configured peer sites: connected or not, traffic, how far apart.")

    @OptionGroup var options: ClientOptions
    @Flag(help: "List the revoked sites instead: what of each the log keeps, how many later entries were held aside.")
    var revoked = false

    func run() async throws {
        if revoked {
            let sites = try await options.send(RevokedRequest())
            if options.json { return try options.printJSON(sites) }
            if sites.isEmpty { print("no revoked sites (`revoked` in the config file)") }
            for site in sites {
                print("\(site.id)  revoked: \(site.keptText); \(site.refused) later ones held aside since start")
            }
            return
        }
        let peers = try await options.send(PeersRequest())
        if options.json { return try options.printJSON(peers) }
        guard !peers.isEmpty else {
            print("no peers configured (newsd --peer SITEID@HOST:PORT, or `peers` in the config file)")
            return
        }
        let style = options.style
        for peer in peers {
            let state = peer.connected ? style.color(.green, "connected") : style.color(.red, "not connected")
            print("\(peer.id)\(peer.name.map { " (\($0))" } ?? "")  \(peer.address ?? "accept only")  \(state)\(peer.since.map { " since \($0)" } ?? "")")
            print("  \(peer.syncState); last exchange \(peer.lastExchange ?? "never")")
            print("  sent \(peer.entriesSent) entries (\(humanBytes(Int64(peer.bytesSent)))), received \(peer.entriesReceived) entries (\(humanBytes(Int64(peer.bytesReceived))))")
            if let reported = peer.reported {
                print("  reports \(reported.articles) articles, \(reported.logEntries) log entries, \(reported.peersConnected) of \(reported.peersConfigured) peers connected")
            }
            if let error = peer.lastError, !peer.connected { print("  last error: \(error)") }
            if let failures = peer.sessionFailures, failures > 0, let last = peer.lastFailure {
                print("  \(failures) session\(failures == 1 ? "" : "s") ended on an error since start; last at \(last)")
            }
            if let ahead = peer.clockAheadSeconds {
                print("  clock \(ahead) s ahead of this site's (over max_clock_skew): its entries are stored, its time is not followed")
            }
        }
    }
}
