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
    var article: String

    @Argument(help: "Older version: ID prefix, ~N or head (default ~1).")
    var from: String?

    @Argument(help: "Newer version (default head).")
    var to: String?

    @Flag(help: "Word-level diff for prose: changed paragraphs, [-removed-] {+added+}.")
    var word = false

    func validate() throws {
        for text in [from, to].compactMap({ $0 }) where VersionSpec(argument: text) == nil {
            throw ValidationError("'\(text)' is not a version: give 6+ hex digits of its ID, ~N, or head")
        }
    }

    func run() async throws {
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
