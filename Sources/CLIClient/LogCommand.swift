import ArgumentParser
import NewsControl
import SyncProtocol

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "Versions, newest first: of one article, or of every article in a time window.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "An article, relative to the watched folder. Omit for every article.")
    var article: String?

    @Option(help: ArgumentHelp("Changes at or after TIME (2026-11-23, 2026-11-23T09:30, 2h, 7d).", valueName: "TIME"))
    var since: String?

    @Option(help: ArgumentHelp("Changes at or before TIME.", valueName: "TIME"))
    var until: String?

    @Option(name: [.customShort("n"), .long], help: "Show at most N versions.")
    var limit: Int?

    func validate() throws {
        if let since, TimeArgument.milliseconds(since) == nil { throw ValidationError("cannot read --since '\(since)' as a time") }
        if let until, TimeArgument.milliseconds(until) == nil { throw ValidationError("cannot read --until '\(until)' as a time") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let request = LogRequest(
            article: article, sinceMillis: since.flatMap { TimeArgument.milliseconds($0) },
            untilMillis: until.flatMap { TimeArgument.milliseconds($0) }, limit: limit ?? (article == nil && since == nil && until == nil ? 50 : nil))
        let versions = try await options.send(request)
        if options.json { return try options.printJSON(versions) }
        var table = Table(header: ["VERSION", "TIME", "ORIGIN", "AUTHOR", "OP", "SIZE", "SHA-256", "ARTICLE"], rightAligned: [5])
        for v in versions {
            table.add([String(v.version.prefix(12)), TimeArgument.display(milliseconds: v.hlc >> 16),
                       String(v.origin.prefix(6)), v.author.map(EntryAuthor.display) ?? "unknown", v.op, String(v.size), v.contentHash.map { String($0.prefix(12)) } ?? "-", ArticlePath.escape(v.article)])
        }
        print(table.render(), terminator: "")
    }
}
