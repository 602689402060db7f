import ArgumentParser
import Foundation
import NewsControl
import SyncProtocol

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Unified diff between two versions of an article (default: previous -> current).")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The article.")
    var article: String?

    @Argument(help: "Older version: ID prefix, ~N or head (default ~1).")
    var from: String?

    @Argument(help: "Newer version (default head).")
    var to: String?

    @Flag(help: "Word-level diff for prose: changed paragraphs, [-removed-] {+added+}.")
    var word = false

    @Flag(help: "The article's competing versions in a conflict: the folder's winner against each other.")
    var conflict = false

    @Option(help: ArgumentHelp("Articles whose versions here the peer has not received, as last exchanged.", valueName: "SITEID"))
    var peer: String?

    func validate() throws {
        if peer == nil && article == nil { throw ValidationError("name an article, or use --peer SITEID") }
        if peer != nil && (article != nil || conflict) { throw ValidationError("--peer takes no article") }
        for text in [from, to].compactMap({ $0 }) where VersionSpec(argument: text) == nil {
            throw ValidationError("'\(text)' is not a version: give 6+ hex digits of its ID, ~N, or head")
        }
    }

    func run() async throws {
        if let peer { return try await peerDiff(peer) }
        guard let article else { return }
        if conflict { return try await conflictDiff(article) }
        let (name, embedded) = VersionSpec.split(article)
        let toSpec = to.flatMap(VersionSpec.init(argument:)) ?? embedded
        let fromSpec = from.flatMap(VersionSpec.init(argument:)) ?? {
            if case .back(let n) = toSpec { return .back(n + 1) }
            return .back(1)
        }()
        async let older = options.send(ShowRequest(article: name, version: fromSpec))
        async let newer = options.send(ShowRequest(article: name, version: toSpec))
        let (a, b) = try await (older, newer)
        if options.json {
            let text = render(a, b, style: .plain)
            return try options.printJSON(DiffOutput(article: b.info.article, from: a.info.version, to: b.info.version, diff: text))
        }
        print(render(a, b, style: options.style), terminator: "")
    }

    private func peerDiff(_ site: String) async throws {
        let response = try await options.send(PeerDiffRequest(site: site))
        if options.json { return try options.printJSON(response) }
        let when = response.connected ? "connected" : "not connected; as of the last exchange"
        print("\(response.site) (\(when)): \(response.articlesAhead.count) article(s) with versions it has not received; \(response.entriesBehind) of its entries not received here")
        for name in response.articlesAhead { print("  \(name)") }
    }

    private func conflictDiff(_ article: String) async throws {
        let conflicts = try await options.send(ConflictsRequest())
        let name = article.precomposedStringWithCanonicalMapping
        guard let conflict = conflicts.first(where: { $0.article == name || article.hasSuffix("/" + $0.article) }) else {
            throw fail("\(article) has no open conflict", kind: "not_found", status: .notFound)
        }
        let winner = try await options.send(ShowRequest(article: conflict.article, version: .prefix(conflict.winner)))
        var out = ""
        for version in conflict.versions where version != conflict.winner {
            let other = try await options.send(ShowRequest(article: conflict.article, version: .prefix(version)))
            out += render(other, winner, style: options.json ? .plain : options.style)
        }
        if options.json {
            return try options.printJSON(DiffOutput(article: conflict.article, from: conflict.versions.filter { $0 != conflict.winner }.joined(separator: ","), to: conflict.winner, diff: out))
        }
        print(out, terminator: "")
    }

    private func render(_ a: ShowRequest.Response, _ b: ShowRequest.Response, style: TerminalStyle) -> String {
        guard let old = String(data: a.content, encoding: .utf8), let new = String(data: b.content, encoding: .utf8) else {
            return "Binary versions differ: \(a.info.version.prefix(12)) (\(a.info.size) bytes) -> \(b.info.version.prefix(12)) (\(b.info.size) bytes)\n"
        }
        if word { return WordDiff.render(old: old, new: new, style: style) }
        let labels = UnifiedDiff(oldLabel: "\(a.info.article)@\(a.info.version.prefix(12))\(a.info.op == "delete" ? " (deleted)" : "")",
                                 newLabel: "\(b.info.article)@\(b.info.version.prefix(12))\(b.info.op == "delete" ? " (deleted)" : "")")
        return labels.render(old: old, new: new, style: style)
    }
}

struct DiffOutput: Encodable {
    var article: String
    var from: String
    var to: String
    var diff: String
}
