import Foundation
import Store
import SyncProtocol

extension SiteLog {
    /// The most versions one blame walks back.
    static let blameDepth = 2_000
    /// The most bytes of older text one blame reads.
    static let blameBytes = 32 << 20
    /// The longest one blame runs: a web viewer can ask for one, so it is bounded like a page.
    static let blameTime = Duration.seconds(2)
    /// The most lines a blamed version may have: past it the answer is too large to be read.
    static let blameLines = 50_000

    /// Each line of a version with the version that last changed it (see `ArticleBlame`). The walk
    /// follows, from each version, the version it replaced that holds most of its lines.
    public func blame(_ request: BlameRequest) throws -> BlameRequest.Response {
        let path = try article(request.article)
        let target = try lookup(path, request.version)
        guard target.operation == .put else {
            throw ControlFailure(.badRequest, "version \(target.version.short) of \(path) is a delete; name a version with content")
        }
        let texts = Self.lines(of: try content(of: target))
        guard texts.count <= Self.blameLines else {
            throw ControlFailure(.badRequest, "version \(target.version.short) of \(path) has \(texts.count) lines; blame takes at most \(Self.blameLines)")
        }
        // Lines become small integers, so each step compares numbers, and texts met twice are read once.
        var numbers: [String: Int] = [:]
        var known: [ContentHash: [Int]] = [:]
        var bytesRead = 0
        func numbered(_ lines: [String]) -> [Int] {
            lines.map { line in
                if let n = numbers[line] { return n }
                numbers[line] = numbers.count
                return numbers.count - 1
            }
        }
        func text(of entry: LogEntry) throws -> [Int] {
            guard entry.operation == .put, let hash = entry.contentHash else { return [] }
            if let lines = known[hash] { return lines }
            let bytes = try content(of: entry)
            bytesRead += bytes.count
            let lines = numbered(Self.lines(of: bytes))
            if known.count < 256 { known[hash] = lines }
            return lines
        }

        let deadline = ContinuousClock.now + Self.blameTime
        var walked = [target]
        var stop: BlameRequest.Stop?
        let attribution = try ArticleBlame.attribute(numbered(texts)) { index in
            if index > Self.blameDepth { stop = .depth } else if bytesRead > Self.blameBytes { stop = .size } else if ContinuousClock.now > deadline { stop = .time }
            guard stop == nil else { return nil }
            // A delete ends the walk: the text after it was written anew.
            let child = walked[index - 1]
            guard child.operation == .put, let parent = try parent(of: child, text: text) else { return nil }
            walked.append(parent)
            return try text(of: parent)
        }

        var versions: [VersionInfo] = []
        var slot: [Int: Int] = [:]
        for owner in attribution.owners.sorted() where slot[owner] == nil {
            slot[owner] = versions.count
            versions.append(VersionInfo(entry: walked[owner]))
        }
        let lines = texts.indices.map { BlameRequest.Line(line: $0 + 1, text: texts[$0], change: slot[attribution.owners[$0]]!) }
        return BlameRequest.Response(info: VersionInfo(entry: target), versions: versions, lines: lines,
                                     walked: walked.count - 1, stopped: stop, approximate: attribution.approximate)
    }

    /// The version an entry most likely edited. One replaced version (an ordinary edit) is it; of
    /// several (a resolve, an edit made beside a conflict), the one holding most of the entry's
    /// lines, then the newest by origin time: a resolve that keeps one side passes every line to it.
    private func parent(of entry: LogEntry, text: (LogEntry) throws -> [Int]) throws -> LogEntry? {
        let replaced = try entry.replaces.compactMap { try log.entry(version: $0) }.filter { $0.article == entry.article }
        guard replaced.count > 1 else { return replaced.first }
        let mine = Set(try text(entry))
        var best: (entry: LogEntry, shared: Int)?
        for candidate in replaced {
            let shared = try text(candidate).reduce(0) { $0 + (mine.contains($1) ? 1 : 0) }
            if best.map({ shared > $0.shared || (shared == $0.shared && candidate.time > $0.entry.time) }) ?? true {
                best = (candidate, shared)
            }
        }
        return best?.entry
    }

    /// An article's lines: its paragraphs and the blank lines between them, without the newline.
    static func lines(of bytes: [UInt8]) -> [String] {
        var text = String(decoding: bytes, as: UTF8.self)
        if let last = text.last, last == "\n" || last == "\r\n" { text.removeLast() }
        return text.isEmpty ? [] : text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.map(String.init)
    }
}
