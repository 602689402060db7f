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
        let authors = response.versions.map { $0.author.map(EntryAuthor.display).map(Self.printable) ?? "unknown" }
        let width = min(24, response.lines.map { authors[$0.change].count }.max() ?? 0)
        for line in response.lines {
            let change = response.versions[line.change], author = authors[line.change]
            let who = author.count > width ? String(author.prefix(width - 1)) + "…" : author.padding(toLength: width, withPad: " ", startingAt: 0)
            print("\(change.version.prefix(12)) \(change.origin.prefix(6)) \(who) \(TimeArgument.display(milliseconds: change.hlc >> 16))  \(Self.printable(line.text))")
        }
        let note: String? = switch response.stopped {
        case .depth: "the history was walked \(response.walked) versions back, the most one blame walks"
        case .size: "the history was walked \(response.walked) versions back, as much text as one blame reads"
        case .time: "the history was walked \(response.walked) versions back in the time one blame may take"
        case nil: nil
        }
        if let note { FileHandle.standardError.write(Data("newsctl: \(note); older lines are given to the oldest version walked\n".utf8)) }
        if response.approximate {
            FileHandle.standardError.write(Data("newsctl: a version changed too many lines to match them one by one; its lines are all given to it\n".utf8))
        }
    }

    /// Text as a terminal should get it: control characters (but tab) and bidi or zero-width format
    /// characters shown as `\u{…}`, so an article or a name cannot move the cursor or reorder the line.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control where scalar != "\t", .format: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
