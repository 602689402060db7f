import ArgumentParser
import Foundation
import NewsControl
import SyncProtocol

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Print a version's exact bytes (ARTICLE, ARTICLE@VERSION or ARTICLE~N).")

    @OptionGroup var options: ClientOptions

    @Argument(help: "ARTICLE[@VERSION] or ARTICLE~N.")
    var reference: String

    func run() async throws {
        let (article, version) = VersionSpec.split(reference)
        let response = try await options.send(ShowRequest(article: article, version: version))
        if options.json { return try options.printJSON(response) }
        if response.info.op == "delete" {
            throw fail("version \(response.info.version.prefix(12)) of \(response.info.article) is a delete; it has no content", kind: "not_found", status: .notFound)
        }
        FileHandle.standardOutput.write(response.content)
    }
}
