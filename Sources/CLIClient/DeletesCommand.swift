import ArgumentParser
import NewsControl
import SyncProtocol

struct DeletesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deletes",
        abstract: "List deletes held back because too many articles vanished at once; --confirm records them.")

    @OptionGroup var options: ClientOptions

    @Flag(help: "Record the held deletes of files that are still gone.")
    var confirm = false

    func run() async throws {
        let response = try await options.send(DeletesRequest(action: confirm ? .confirm : .list))
        if options.json { return try options.printJSON(response) }
        if confirm {
            print("recorded \(response.recorded) delete(s)")
        } else if response.pending.isEmpty {
            print("no deletes are held")
        } else {
            if let reason = response.reason { print(reason) }
            for article in response.pending { print("  \(article)") }
        }
    }
}
