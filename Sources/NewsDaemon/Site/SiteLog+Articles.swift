import Foundation
import Store
import SyncProtocol

extension SiteLog {
    /// Titles kept at most; past it the cache starts again (a search then reads blobs anew).
    static let maximumTitles = 120_000
    /// Versions larger than this show no title: finding one would decode the whole blob.
    static let maximumTitledBytes: UInt64 = 1 << 20

    /// The web view's list: every article's winning version and title, searched, filtered,
    /// newest first, one page of it.
    public func articles(_ request: ArticlesRequest) throws -> ArticlesRequest.Response {
        let pageSize = min(max(request.pageSize, 1), 500)
        let asked = max(request.page, 0)
        var rows: [(article: ArticlePath, winner: LogEntry, heads: Int)] = []
        for (article, heads) in try log.allHeadEntries() {
            guard let winner = ConflictRule.winner(of: heads) else { continue }
            let deleted = winner.operation == .delete
            switch request.filter {
            case .live: if deleted { continue }
            case .deleted: if !deleted { continue }
            case .conflicts: if heads.count < 2 { continue }
            case .changedToday:
                if deleted || winner.time.milliseconds < (request.todayStartMillis ?? 0) { continue }
            }
            rows.append((article, winner, heads.count))
        }
        let words = SearchFolding.fold(request.query ?? "").split(whereSeparator: { $0.isWhitespace }).map(String.init)
        if !words.isEmpty {
            rows = try rows.filter { row in
                let haystack = SearchFolding.fold(row.article.rawValue) + "\n" + (try titled(row.winner).folded)
                return words.allSatisfy { haystack.contains($0) }
            }
        }
        rows.sort { ($0.winner.time, $0.article.rawValue) > ($1.winner.time, $1.article.rawValue) }
        // A page past the end (any number a client sends, Int.max included) is the last one.
        let page = min(asked, max(0, rows.count - 1) / pageSize)
        let start = page * pageSize
        let shown = try rows[start..<min(start + pageSize, rows.count)].map { row in
            ArticleSummary(article: row.article.rawValue, title: try title(of: row.winner), head: VersionInfo(entry: row.winner),
                           heads: row.heads, deleted: row.winner.operation == .delete)
        }
        return .init(total: rows.count, page: page, pageSize: pageSize, articles: shown)
    }

    /// The first non-empty line of a version's text, at most 120 characters.
    func title(of entry: LogEntry) throws -> String { try titled(entry).title }

    /// The title and its folded form for search, kept by content (a version's text never changes).
    func titled(_ entry: LogEntry) throws -> (title: String, folded: String) {
        guard entry.operation == .put, let hash = entry.contentHash, entry.size <= Self.maximumTitledBytes else { return ("", "") }
        if let known = titles[hash] { return known }
        let bytes = try log.blob(hash) ?? []
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).lazy.map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty } ?? ""
        let title = String(line.prefix(120))
        if titles.count >= Self.maximumTitles { titles.removeAll(keepingCapacity: true) }
        let known = (title, SearchFolding.fold(title))
        titles[hash] = known
        return known
    }
}
