import Foundation
import Store
import SyncProtocol

extension SiteLog {
    /// The most versions one blame walks back: past it, the lines left are the oldest walked's.
    static let blameDepth = 20_000

    /// Each line of a version with the version that last changed it (see `ArticleBlame`). The walk
    /// follows each version's newest replaced version: the one its editor most likely saw.
    public func blame(_ request: BlameRequest) throws -> BlameRequest.Response {
        let path = try article(request.article)
        let target = try lookup(path, request.version)
        guard target.operation == .put else {
            throw ControlFailure(.badRequest, "version \(target.version.short) of \(path) is a delete; name a version with content")
        }
        var lines: [ContentHash: [String]] = [:]
        func text(of entry: LogEntry) throws -> [String] {
            guard let hash = entry.contentHash else { return [] }
            if let known = lines[hash] { return known }
            let split = Self.lines(of: try content(of: entry))
            if lines.count < 256 { lines[hash] = split }
            return split
        }
        var walked = [target]
        var stopped = false
        let owners = try ArticleBlame.attribute(try text(of: target)) { index in
            guard index < Self.blameDepth else {
                stopped = true
                return nil
            }
            // A delete ends the walk: the text after it was written anew.
            let child = walked[index - 1]
            guard child.operation == .put, let parent = try parent(of: child) else { return nil }
            walked.append(parent)
            return parent.operation == .put ? try text(of: parent) : []
        }
        let texts = try text(of: target)
        let infos = Dictionary(uniqueKeysWithValues: Set(owners).map { ($0, VersionInfo(entry: walked[$0])) })
        let out = texts.indices.map { BlameRequest.Line(line: $0 + 1, text: texts[$0], change: infos[owners[$0]]!) }
        return BlameRequest.Response(info: VersionInfo(entry: target), lines: out, stoppedAfter: stopped ? walked.count : nil)
    }

    /// The version an entry most likely edited: of those it replaces, the newest by origin time.
    private func parent(of entry: LogEntry) throws -> LogEntry? {
        var best: LogEntry?
        for version in entry.replaces {
            guard let replaced = try log.entry(version: version), replaced.article == entry.article else { continue }
            if best.map({ replaced.time > $0.time }) ?? true { best = replaced }
        }
        return best
    }

    /// An article's lines: its paragraphs and the blank lines between them, without the newline.
    static func lines(of bytes: [UInt8]) -> [String] {
        var text = String(decoding: bytes, as: UTF8.self)
        if let last = text.last, last == "\n" || last == "\r\n" { text.removeLast() }
        return text.isEmpty ? [] : text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.map(String.init)
    }
}
