import Foundation
import Store
import SyncProtocol

extension SiteLog {
    /// Versions larger than this show no title: finding one would decode the whole blob.
    static let maximumTitledBytes: UInt64 = 1 << 20

    /// The web view's list: every article's winning version and title, searched, filtered,
    /// newest first, one page of it. Served from `ArticleIndex`, moved forward first by the
    /// articles whose heads moved since the last ask.
    public func articles(_ request: ArticlesRequest) throws -> ArticlesRequest.Response {
        try refreshArticleIndex()
        let pageSize = min(max(request.pageSize, 1), 500)
        let words = SearchFolding.fold(request.query ?? "").split(whereSeparator: { $0.isWhitespace }).map(String.init)
        let (rows, total, page) = articleIndex.select(words: words, filter: request.filter, todayStartMillis: request.todayStartMillis ?? 0,
                                                      page: request.page, pageSize: pageSize)
        let shown = try rows.map { row in
            guard let winner = try log.entry(version: row.version) else {
                throw ControlFailure(.internal, "the list names version \(row.version.short) of \(row.article), which the log does not hold")
            }
            return ArticleSummary(article: row.article.rawValue, title: row.title, head: VersionInfo(entry: winner),
                                  heads: row.heads, deleted: row.deleted)
        }
        return .init(total: total, page: page, pageSize: pageSize, articles: shown)
    }

    /// Builds the list ahead of the first page (at start, with the web view on), so no editor
    /// waits for it.
    public func prepareArticleList() throws { try refreshArticleIndex() }

    /// Brings the index up to the log: whole the first time (or after very many moves), else
    /// only the articles whose heads moved.
    func refreshArticleIndex() throws {
        let moved = log.takeMovedHeads()
        do {
            switch moved {
            case .all:
                let started = ContinuousClock.now
                var rows: [ArticleIndex.Row] = []
                rows.reserveCapacity(log.stats.liveArticles + log.stats.deletedArticles)
                for (article, heads) in try log.allHeadEntries() {
                    if let row = try indexRow(article, heads: heads) { rows.append(row) }
                }
                articleIndex.rebuild(rows)
                let took = ContinuousClock.now - started
                if took > .milliseconds(200) { logger.notice("web view: the article list of \(rows.count) articles was built in \(took)") }
            case .some(let names):
                var changes: [ArticlePath: ArticleIndex.Row?] = [:]
                for name in names {
                    guard let article = try? ArticlePath(name) else { continue }
                    changes[article] = .some(try indexRow(article, heads: try log.heads(of: article)))
                }
                articleIndex.update(changes)
            }
        } catch {
            // What was taken is not in the list yet: the next ask builds it whole.
            log.forgetMovedHeads()
            throw error
        }
    }

    /// An article's row: its winner, how many heads compete, its title and the folded text searched.
    private func indexRow(_ article: ArticlePath, heads: [LogEntry]) throws -> ArticleIndex.Row? {
        guard let winner = ConflictRule.winner(of: heads) else { return nil }
        // A version whose text cannot be read is listed without a title, not left out.
        let title = (try? title(of: winner)) ?? ""
        let folded = SearchFolding.fold(article.rawValue) + "\n" + SearchFolding.fold(title)
        return ArticleIndex.Row(article: article, version: winner.version, time: winner.time, deleted: winner.operation == .delete,
                                heads: heads.count, title: title, folded: Array(folded.utf8))
    }

    /// The first non-empty line of a version's text, at most 120 characters.
    func title(of entry: LogEntry) throws -> String {
        guard entry.operation == .put, let hash = entry.contentHash, entry.size <= Self.maximumTitledBytes else { return "" }
        let bytes = try log.blob(hash) ?? []
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).lazy.map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty } ?? ""
        return String(line.prefix(120))
    }
}
