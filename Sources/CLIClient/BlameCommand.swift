import ArgumentParser
import Foundation
import NewsControl
import SyncProtocol

struct BlameCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blame",
        abstract: "Show who last changed each paragraph of an article (ARTICLE, ARTICLE@VERSION or ARTICLE~N).",
        discussion: "Each line of the version with the version that last changed it, its site, its author and its time. Entries made before authors were recorded show \"unknown\".")

    @OptionGroup var options: ClientOptions

    @Argument(help: "ARTICLE[@VERSION] or ARTICLE~N.")
    var reference: String

    func run() async throws {
        let (article, version) = VersionSpec.split(reference)
        let response = try await options.send(BlameRequest(article: article, version: version))
        if options.json { return try options.printJSON(response) }
        let authors = response.lines.map { $0.change.author.map(EntryAuthor.display) ?? "unknown" }
        let width = min(24, authors.map(\.count).max() ?? 0)
        for (line, author) in zip(response.lines, authors) {
            let change = line.change
            let who = author.count > width ? String(author.prefix(width - 1)) + "…" : author.padding(toLength: width, withPad: " ", startingAt: 0)
            print("\(change.version.prefix(12)) \(change.origin.prefix(6)) \(who) \(TimeArgument.display(milliseconds: change.hlc >> 16))  \(line.text)")
        }
        if let stopped = response.stoppedAfter {
            FileHandle.standardError.write(Data("newsctl: history walked \(stopped) versions back; older lines are given to the oldest walked\n".utf8))
        }
    }
}
