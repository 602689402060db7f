import Foundation
import SyncProtocol

extension ArticleLog {
    static let entryColumns = """
        e.origin, coalesce(e.fork_seq, e.origin_seq), e.article, e.op, e.content_hash, e.size, e.replaces, e.hlc, e.previous, e.version, e.signature, \
        (SELECT a.name FROM authors a WHERE a.version = e.version), (SELECT a.signature FROM authors a WHERE a.version = e.version)
        """
    /// How many columns `entryColumns` selects: a query's own columns after them start here.
    static let entryColumnCount: Int32 = 13

    /// Decodes a row selected with `entryColumns`. Rows that do not decode are reported by verify;
    /// here they are passed over rather than trapping.
    static func entry(from row: Statement, offset: Int32 = 0) -> LogEntry? {
        guard let origin = SiteID(row.text(offset)),
              let article = try? ArticlePath(row.text(offset + 2)),
              let operation = Operation(rawValue: UInt8(truncatingIfNeeded: row.int(offset + 3))),
              let version = VersionID(bytes: row.blob(offset + 9))
        else { return nil }
        let replacesBytes = row.blob(offset + 6)
        guard replacesBytes.count % 32 == 0 else { return nil }
        let replaces = stride(from: 0, to: replacesBytes.count, by: 32).compactMap {
            VersionID(bytes: Array(replacesBytes[$0..<($0 + 32)]))
        }
        let contentHash = row.optionalBlob(offset + 4).flatMap(ContentHash.init(bytes:))
        let previous = row.optionalBlob(offset + 8).flatMap(VersionID.init(bytes:))
        let author = row.optionalText(offset + 11).map { EntryAuthor(version: version, name: $0, signature: row.blob(offset + 12)) }
        return LogEntry(
            origin: origin, sequence: row.uint64(offset + 1), article: article, operation: operation,
            contentHash: contentHash, size: row.uint64(offset + 5), replaces: replaces,
            time: HybridTimestamp(rawValue: row.uint64(offset + 7)), previous: previous,
            version: version, signature: row.blob(offset + 10), author: author)
    }

    private func entries(_ sql: String, _ values: [SQLiteValue]) throws -> [LogEntry] {
        var out: [LogEntry] = []
        try db.statement(sql).query(values) { row in
            if let entry = Self.entry(from: row) { out.append(entry) }
        }
        return out
    }

    /// The article's current heads: one normally, several while a conflict is open, none if unknown.
    public func heads(of article: ArticlePath) throws -> [LogEntry] {
        try entries("SELECT \(Self.entryColumns) FROM heads h JOIN entries e ON e.version = h.version WHERE h.article = ? ORDER BY e.local_seq",
                    [.text(article.rawValue)])
    }

    /// The head that goes in the folder: the only head, or the conflict rule's winner.
    public func winningHead(of article: ArticlePath) throws -> LogEntry? {
        ConflictRule.winner(of: try heads(of: article))
    }

    /// Every version of an article, newest first (by arrival at this site).
    public func history(of article: ArticlePath, limit: Int? = nil, skip: Int = 0) throws -> [LogEntry] {
        try entries("SELECT \(Self.entryColumns) FROM entries e WHERE e.article = ? ORDER BY e.local_seq DESC LIMIT ? OFFSET ?",
                    [.text(article.rawValue), .int(limit ?? -1), .int(max(0, skip))])
    }

    /// Every change whose origin time lies in the window, newest first.
    public func changes(sinceMillis: UInt64?, untilMillis: UInt64?, limit: Int? = nil) throws -> [LogEntry] {
        let low = HybridTimestamp(milliseconds: sinceMillis ?? 0, counter: 0).rawValue
        let high = untilMillis.map { HybridTimestamp(milliseconds: $0, counter: .max).rawValue } ?? UInt64(Int64.max)
        return try entries("SELECT \(Self.entryColumns) FROM entries e WHERE e.hlc BETWEEN ? AND ? ORDER BY e.hlc DESC, e.local_seq DESC LIMIT ?",
                           [.uint(low), .uint(high), .int(limit ?? -1)])
    }

    public func entry(version: VersionID) throws -> LogEntry? {
        try entries("SELECT \(Self.entryColumns) FROM entries e WHERE e.version = ?", [.blob(version.bytes)]).first
    }

    /// Live articles and their winning content, for the start-up scan's deleted-file check.
    public func liveArticles() throws -> Set<ArticlePath> {
        var live = Set<ArticlePath>()
        try db.statement("SELECT DISTINCT article FROM heads WHERE op = 1")
            .query([]) { row in
                if let article = try? ArticlePath(row.text(0)) { live.insert(article) }
            }
        return live
    }

    public enum LookupError: Error, Equatable, CustomStringConvertible {
        case unknownArticle(String)
        case unknownVersion(article: String, spec: String)
        case ambiguous(prefix: String, candidates: [String])
        case tooFewVersions(article: String, back: Int, available: Int)

        public var description: String {
            switch self {
            case .unknownArticle(let a): "no article '\(a)' in the log"
            case .unknownVersion(let a, let s): "article '\(a)' has no version \(s)"
            case .ambiguous(let p, let c): "version prefix \(p) is ambiguous: \(c.joined(separator: ", "))"
            case .tooFewVersions(let a, let n, let have): "article '\(a)' has \(have) version(s); ~\(n) goes back too far"
            }
        }
    }

    /// Finds the version a user named: the winning head, `~N` back along the winner's history, or a
    /// version ID prefix (which must belong to this article).
    public func resolve(article: ArticlePath, _ spec: VersionSpec) throws -> LogEntry {
        switch spec {
        case .head:
            guard let head = try winningHead(of: article) else { throw LookupError.unknownArticle(article.rawValue) }
            return head
        case .back(let n):
            guard var current = try winningHead(of: article) else { throw LookupError.unknownArticle(article.rawValue) }
            for step in 0..<n {
                // Follow the newest replaced version; versions that came from another path (a rename)
                // end the walk.
                let parents = try current.replaces.compactMap { try entry(version: $0) }
                guard let parent = ConflictRule.winner(of: parents) else {
                    throw LookupError.tooFewVersions(article: article.rawValue, back: n, available: step + 1)
                }
                current = parent
            }
            return current
        case .prefix(let prefix):
            let low = Hex.decode(String(prefix.padding(toLength: 64, withPad: "0", startingAt: 0))) ?? []
            let high = Hex.decode(String(prefix.padding(toLength: 64, withPad: "f", startingAt: 0))) ?? []
            let found = try entries("SELECT \(Self.entryColumns) FROM entries e WHERE e.version BETWEEN ? AND ? LIMIT 6",
                                    [.blob(low), .blob(high)])
            let mine = found.filter { $0.article == article }
            if mine.count > 1 { throw LookupError.ambiguous(prefix: prefix, candidates: mine.map(\.version.short)) }
            guard let match = mine.first else {
                if try heads(of: article).isEmpty && history(of: article, limit: 1).isEmpty {
                    throw LookupError.unknownArticle(article.rawValue)
                }
                throw LookupError.unknownVersion(article: article.rawValue, spec: prefix)
            }
            return match
        }
    }

    /// Every article's head entries, in one pass: for the web view's article list.
    public func allHeadEntries() throws -> [ArticlePath: [LogEntry]] {
        var out: [ArticlePath: [LogEntry]] = [:]
        try db.statement("SELECT \(Self.entryColumns) FROM heads h JOIN entries e ON e.version = h.version").query([]) { row in
            if let entry = Self.entry(from: row) { out[entry.article, default: []].append(entry) }
        }
        return out
    }

    /// Every article's heads: for checks that compare whole sites.
    public func allHeads() throws -> [ArticlePath: Set<VersionID>] {
        var out: [ArticlePath: Set<VersionID>] = [:]
        try db.statement("SELECT article, version FROM heads").query([]) { row in
            if let article = try? ArticlePath(row.text(0)), let version = VersionID(bytes: row.blob(1)) {
                out[article, default: []].insert(version)
            }
        }
        return out
    }
}
