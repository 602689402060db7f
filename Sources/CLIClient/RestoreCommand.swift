import ArgumentParser
import NewsControl
import SyncProtocol

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Write a version back into the folder as the newest version; works for deleted articles.")

    @OptionGroup var options: ClientOptions

    @Argument(help: "ARTICLE[@VERSION] or ARTICLE~N (default: the last version with content).")
    var reference: String

    func run() async throws {
        let (article, version) = VersionSpec.split(reference)
        let response = try await options.send(RestoreRequest(article: article, version: version))
        if options.json { return try options.printJSON(response) }
        print("restored \(response.restored.article) from \(response.restored.version.prefix(12)); head is now \(response.head.version.prefix(12))")
    }
}
