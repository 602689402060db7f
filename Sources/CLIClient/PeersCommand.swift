import ArgumentParser
import NewsControl
import SyncProtocol

struct PeersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peers", abstract: "Peer sites: list them, add and remove them while newsd runs.",
        subcommands: [PeersListCommand.self, PeerAddCommand.self, PeerRemoveCommand.self],
        defaultSubcommand: PeersListCommand.self)
}

struct PeersListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Peer sites: connected or not, traffic, how far apart (the default).")

    @OptionGroup var options: ClientOptions
    @Flag(help: "List the revoked sites instead: what of each the log keeps, how many later entries were held aside.")
    var revoked = false
    @Flag(help: "List the sites that tried to connect and were refused as not peers, with the command that accepts each.")
    var pending = false

    func validate() throws {
        if revoked && pending { throw ValidationError("--revoked and --pending list different things: give one") }
    }

    func run() async throws {
        if pending {
            let sites = try await options.send(PendingPeersRequest())
            if options.json { return try options.printJSON(sites) }
            if sites.isEmpty { print("no site has been refused as not a peer since newsd started") } else {
                print("anyone can make a site ID: compare each with `newsd id` at that site (by phone, say) before accepting it")
            }
            for site in sites {
                print("\(site.id)  from \(site.address)  \(site.attempts) attempt\(site.attempts == 1 ? "" : "s"), first \(site.firstSeen), last \(site.lastSeen)")
                print("  to accept it: \(site.accept)")
            }
            return
        }
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
            print("no peers (newsctl peers add SITEID@HOST:PORT, or `peers` in the config file)")
            return
        }
        let style = options.style
        for peer in peers {
            let state = peer.connected ? style.color(.green, "connected") : style.color(.red, "not connected")
            let names = [peer.label, peer.name.flatMap { $0 == peer.label ? nil : $0 }].compactMap { $0 }
            print("\(peer.id)\(names.isEmpty ? "" : " (\(names.joined(separator: ", ")))")  \(peer.address ?? "accept only")  \(state)\(peer.since.map { " since \($0)" } ?? "")")
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

struct PeerAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Trust a site from now on: dial it at HOST:PORT, or only accept it. No restart; kept in the data folder.",
        discussion: "Run it at both sites, each with the other's ID (`newsd id` prints it). `newsctl peers --pending` lists sites that tried to connect.")

    @OptionGroup var options: ClientOptions
    @Argument(help: ArgumentHelp("The other site: SITEID@HOST:PORT to dial and accept it, SITEID to accept it only.", valueName: "SITEID[@HOST:PORT]"))
    var peer: String
    @Option(help: ArgumentHelp("A name for it in listings (the city, say).", valueName: "NAME"))
    var name: String?

    func run() async throws {
        // A mistyped ID is said here, naming the group, before anything is asked of newsd.
        let id = String(peer.split(separator: "@", maxSplits: 1).first ?? "")
        do { _ = try SiteID.parse(id) } catch { throw fail("\(error)") }
        let change = try await options.send(PeerAddRequest(peer: peer, name: name))
        if options.json { return try options.printJSON(change) }
        let what = change.address.map { "dialled at \($0) and accepted" } ?? "accepted when it dials"
        switch change.change {
        case .added: print("added peer \(change.site)\(change.name.map { " (\($0))" } ?? ""): \(what); kept in \(change.keptIn)")
        case .updated: print("changed peer \(change.site)\(change.name.map { " (\($0))" } ?? ""): \(what); kept in \(change.keptIn)")
        case .unchanged: print("\(change.site) is already a peer (\(change.keptIn)): \(what)")
        case .removed: break
        }
        for warning in change.warnings { print(options.style.color(.yellow, "note: ") + warning) }
        let port = change.listening.flatMap { $0.split(separator: ":").last }.map(String.init) ?? "PORT"
        print("at \(change.site), unless done already: newsctl peers add \(change.thisSite)@ADDRESS-OF-THIS-SITE:\(port)")
    }
}

struct PeerRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Stop trusting a site added with `peers add`; its session closes at once.")

    @OptionGroup var options: ClientOptions
    @Argument(help: ArgumentHelp("The site's ID.", valueName: "SITEID"))
    var site: String

    func run() async throws {
        do { _ = try SiteID.parse(site) } catch { throw fail("\(error)") }
        let change = try await options.send(PeerRemoveRequest(site: site))
        if options.json { return try options.printJSON(change) }
        print("removed peer \(change.site)\(change.name.map { " (\($0))" } ?? ""); its entries stay in the log; kept in \(change.keptIn)")
    }
}
