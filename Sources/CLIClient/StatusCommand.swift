import ArgumentParser
import NewsControl
import SyncProtocol

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "The site at a glance: articles, log, blobs, problems.")

    @OptionGroup var options: ClientOptions

    @Flag(name: .long, help: "Exit 1 when status lists problems (for Nagios-style checks).")
    var check = false

    func run() async throws {
        let s = try await options.send(StatusRequest())
        if options.json { try options.printJSON(s) } else { print(render(s), terminator: "") }
        if check && !s.problems.isEmpty { throw ExitCode(ExitStatus.problems.rawValue) }
    }

    private func render(_ s: StatusRequest.Response) -> String {
        let style = options.style
        var out = ""
        out += "site        \(s.siteId) (\(s.siteName))\n"
        let state = s.ready ? "ready" + (s.scanning.map { " (\($0))" } ?? "") : s.rejoining.map { "rejoining: \($0); local changes are recorded after" }
            ?? s.scanning.map { "starting: \($0) (the rest as it stood when the scan began)" } ?? "starting: reconciling the folder"
        out += "state       \(state)\n"
        if let signing = s.signingAs { out += "signs as    \(signing)\n" }
        out += "watching    \(s.watchDir)  [\(s.folderState == "ok" ? style.color(.green, "ok") : style.color(.red, s.folderState))]\n"
        out += "data        \(s.dataDir)\n"
        if let writes = s.folderWrites { out += "writes      \(writes == "exchange" ? "swapped in atomically (renameat2 exchange)" : writes)\n" }
        out += "articles    \(s.articles) live, \(s.deletedArticles) deleted\n"
        out += "log         \(s.logEntries) entries\(s.walBytes.map { ", write-ahead log \(humanBytes($0))" } ?? "")\n"
        out += "blobs       \(s.blobs.count), \(humanBytes(s.blobs.storedBytes)) stored for \(humanBytes(s.blobs.rawBytes)) of content\n"
        if let last = s.lastChange {
            out += "last change \(TimeArgument.display(milliseconds: last.hlc >> 16))  \(last.op) \(last.article) (\(last.version.prefix(12)))\n"
        }
        out += "skipped     \(s.skipped.count) file(s)\n"
        for file in s.skipped.prefix(20) { out += "              \(ArticlePath.escape(file.path)): \(file.reason)\n" }
        if s.skipped.count > 20 { out += "              … and \(s.skipped.count - 20) more (see --json)\n" }
        if let unwatched = s.unwatched, !unwatched.isEmpty {
            out += "unwatched   \(unwatched.count) folder(s), rescanned periodically instead\n"
            for folder in unwatched.prefix(10) { out += "              \(ArticlePath.escape(folder.path)): \(folder.reason)\n" }
            if unwatched.count > 10 { out += "              … and \(unwatched.count - 10) more (see --json)\n" }
        }
        if let listening = s.listening { out += "listening   \(listening)\n" }
        for fork in s.forks ?? [] { out += "forked      \(fork.text)\n" }
        for site in s.revoked ?? [] { out += "revoked     \(site.id): \(site.keptText); \(site.refused) later ones held aside\n" }
        if s.peers.isEmpty {
            out += s.scanning == nil ? "peers       none configured\n" : "peers       (shown once the scan is done)\n"
        } else {
            out += "peers       \(s.peers.filter(\.connected).count) of \(s.peers.count) connected\n"
            for peer in s.peers {
                let link = peer.connected ? style.color(.green, "connected") : style.color(.red, "not connected")
                out += "              \(peer.id)  \(peer.address ?? "accept only")  \(link), \(peer.state)\n"
            }
        }
        out += "conflicts   \(s.conflicts)\(s.conflicts > 0 ? " (newsctl conflicts)" : "")\n"
        if s.refusedConnections > 0 { out += "refused     \(s.refusedConnections) connection(s) from unlisted or bad peers\n" }
        if let pending = s.pendingPeers, pending > 0 {
            out += "pending     \(pending) site(s) asked to connect and are not peers (newsctl peers --pending)\n"
        }
        if s.pendingDeletes > 0 { out += "held        \(s.pendingDeletes) delete(s) waiting for `newsctl deletes --confirm`\n" }
        out += "uptime      \(humanDuration(s.uptimeSeconds))\n"
        out += "version     \(s.version)\n"
        if s.problems.isEmpty {
            out += style.color(.green, "all is well") + "\n"
        } else {
            for problem in s.problems { out += style.color(.red, "problem: ") + ArticlePath.escape(problem) + "\n" }
        }
        return out
    }
}
