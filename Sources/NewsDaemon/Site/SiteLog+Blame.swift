import Foundation
import Store
import SyncProtocol

extension SiteLog {
    /// The most versions one blame walks back.
    static let blameDepth = 2_000
    /// The most bytes of older text one blame reads.
    static let blameBytes = 32 << 20
    /// The longest one blame runs: a web viewer can ask for one, and the site waits meanwhile.
    static let blameTime = Duration.seconds(1)
    /// Of the versions an entry replaced, the most compared to pick the one it edited.
    static let blameParents = 16
    /// Answers kept, by version: a version never changes, nor does what came before it.
    static let blameAnswers = 16
    /// The most lines a blamed version may have: past it the answer is too large to be read.
    static let blameLines = 50_000

    /// Each line of a version with the version that last changed it (see `ArticleBlame`). The walk
    /// follows, from each version, the version it replaced that holds most of its lines.
    public func blame(_ request: BlameRequest) throws -> BlameRequest.Response {
        let path = try article(request.article)
        let target = try lookup(path, request.version)
        if let kept = blameAnswers.first(where: { $0.info.version == target.version.hex }) { return kept }
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
        let deadline = ContinuousClock.now + Self.blameTime
        var stop: BlameRequest.Stop?
        /// An older text, or nil (and `stop` set) when reading it would pass a limit: checked
        /// before each read, so no single version takes the walk past them.
        func text(of entry: LogEntry) throws -> [Int]? {
            guard entry.operation == .put, let hash = entry.contentHash else { return [] }
            if let lines = known[hash] { return lines }
            if bytesRead + Int(clamping: entry.size) > Self.blameBytes { stop = .size } else if ContinuousClock.now > deadline { stop = .time }
            guard stop == nil else { return nil }
            let bytes = try content(of: entry)
            bytesRead += bytes.count
            let split = Self.lines(of: bytes)
            guard split.count <= Self.blameLines else {
                stop = .size
                return nil
            }
            let lines = numbered(split)
            if known.count < 256 { known[hash] = lines }
            return lines
        }
        known[target.contentHash!] = numbered(texts)

        var walked = [target]
        var walk = ArticleBlame.Walk(known[target.contentHash!]!)
        while !walk.isDone {
            guard walk.versionsBack < Self.blameDepth else {
                stop = .depth
                break
            }
            // A delete ends the walk: the text after it was written anew.
            let child = walked[walk.versionsBack]
            guard child.operation == .put else { break }
            // The version it edited: the only one it replaced, or of several (a resolve, an edit
            // beside a conflict) the one sharing most of its paragraphs (distinct lines, blank
            // ones not counted), newest first, at most `blameParents` compared.
            let replaced = try replacedVersions(of: child)
            var parent = replaced.first
            if replaced.count > 1, let own = try text(of: child) {
                let mine = Set(own).subtracting(numbers[""].map { [$0] } ?? [])
                var most = -1
                for candidate in replaced.prefix(Self.blameParents) {
                    guard let theirs = try text(of: candidate) else { break }
                    let shared = mine.intersection(theirs).count
                    if shared > most { (most, parent) = (shared, candidate) }
                }
            }
            guard let parent, let lines = try text(of: parent) else { break }
            walked.append(parent)
            walk.step(lines)
        }
        let attribution = walk.finish()

        var versions: [VersionInfo] = []
        var slot: [Int: Int] = [:]
        for owner in attribution.owners.sorted() where slot[owner] == nil {
            slot[owner] = versions.count
            versions.append(VersionInfo(entry: walked[owner]))
        }
        let lines = texts.indices.map { BlameRequest.Line(line: $0 + 1, text: texts[$0], change: slot[attribution.owners[$0]]!) }
        let answer = BlameRequest.Response(info: VersionInfo(entry: target), versions: versions, lines: lines,
                                           walked: walked.count - 1, stopped: stop, approximate: attribution.approximate)
        // A walk cut by time may go further another time: only whole ones are kept.
        if stop != .time {
            if blameAnswers.count >= Self.blameAnswers { blameAnswers.removeFirst() }
            blameAnswers.append(answer)
        }
        return answer
    }

    /// The versions of the same article an entry replaced, newest first.
    private func replacedVersions(of entry: LogEntry) throws -> [LogEntry] {
        try entry.replaces.compactMap { try log.entry(version: $0) }.filter { $0.article == entry.article }.sorted { $0.time > $1.time }
    }

    /// An article's lines: its paragraphs and the blank lines between them, without the newline.
    static func lines(of bytes: [UInt8]) -> [String] {
        var text = String(decoding: bytes, as: UTF8.self)
        if let last = text.last, last == "\n" || last == "\r\n" { text.removeLast() }
        return text.isEmpty ? [] : text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.map(String.init)
    }
}
