import ArgumentParser
import NewsControl
import SyncProtocol

struct ConflictsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts", abstract: "Articles edited concurrently at two sites, with the competing versions.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let conflicts = try await options.send(ConflictsRequest())
        if options.json { return try options.printJSON(conflicts) }
        guard !conflicts.isEmpty else { return print("no conflicts") }
        for conflict in conflicts {
            print(ArticlePath.escape(conflict.article))
            for head in conflict.heads {
                let mark = head.version == conflict.winner ? "* in the folder" : "  kept in the log"
                print("  \(head.version.prefix(12))  \(TimeArgument.display(milliseconds: head.hlc >> 16))  \(head.origin.prefix(6))  \(head.op)  \(mark)")
            }
        }
        print("resolve with: newsctl resolve ARTICLE [--take VERSION]   (see both: newsctl diff ARTICLE --conflict)")
    }
}

struct ResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Close a conflict: record a version that replaces every competing one (default: keep the current winner).")

    @OptionGroup var options: ClientOptions

    @Argument(help: "The article.")
    var article: String

    @Option(help: ArgumentHelp("The competing version whose content to keep.", valueName: "VERSION"))
    var take: String?

    func validate() throws {
        if let take, VersionSpec(argument: take) == nil { throw ValidationError("'\(take)' is not a version") }
    }

    func run() async throws {
        let head = try await options.send(ResolveRequest(article: article, take: take.flatMap(VersionSpec.init(argument:))))
        if options.json { return try options.printJSON(head) }
        print("resolved \(head.article): new version \(head.version.prefix(12)) replaces \(head.replaces.map { String($0.prefix(12)) }.joined(separator: ", "))")
    }
}

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Dial peers now instead of waiting out the reconnect back-off.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "One peer's site ID; all peers when omitted.")
    var site: String?

    func run() async throws {
        let response = try await options.send(SyncRequest(site: site))
        if options.json { return try options.printJSON(response) }
        print(response.dialing.isEmpty ? "no peers to dial" : "dialling \(response.dialing.joined(separator: ", "))")
    }
}
