import Foundation
import Logging
import Store
import SyncProtocol
import Testing
import TestSupport
@testable import NewsDaemon

/// The web view's article list on the daemon: search, filters, paging with any number.
@Suite struct ArticleListTests {
    let folder = TemporaryFolder("article-list")

    @Test func searchIgnoresMarksFiltersAndPagesWithAnyNumber() async throws {
        let site = try InProcessSite("a", in: folder)
        site.save("ha-noi.txt", "Tin Hà Nội\n\nĐường phố đông đúc.\n")
        site.save("da-nang.txt", "\n  Tin Đà Nẵng  \nBiển xanh.\n")
        for n in 0..<7 { site.save("muc/bai-\(n).txt", "Bài số \(n)\n") }
        try await site.site.scanAll()

        let all = try await site.site.articles(ArticlesRequest(pageSize: 4))
        #expect(all.total == 9 && all.articles.count == 4)
        let found = try await site.site.articles(ArticlesRequest(query: "ha noi"))
        #expect(found.articles.map(\.article) == ["ha-noi.txt"])
        #expect(found.articles.first?.title == "Tin Hà Nội")
        let byTitle = try await site.site.articles(ArticlesRequest(query: "DA NANG tin"))
        #expect(byTitle.articles.map(\.article) == ["da-nang.txt"] && byTitle.articles.first?.title == "Tin Đà Nẵng")

        // Pages past the end, Int.max included, are the last page; negative ones the first.
        for page in [2, 3, 1_000, Int.max] {
            let last = try await site.site.articles(ArticlesRequest(page: page, pageSize: 4))
            #expect(last.page == 2 && last.articles.count == 1, "page \(page)")
        }
        #expect(try await site.site.articles(ArticlesRequest(page: Int.min, pageSize: Int.max)).articles.count == 9)

        // Deleted and changed-today filters.
        try FileManager.default.removeItem(atPath: site.path("da-nang.txt"))
        try await site.site.ingest(paths: ["da-nang.txt"])
        #expect(try await site.site.articles(ArticlesRequest(filter: .deleted)).articles.map(\.article) == ["da-nang.txt"])
        #expect(try await site.site.articles(ArticlesRequest()).total == 8)
        let tomorrow = UInt64(Date().addingTimeInterval(86_400).timeIntervalSince1970 * 1000)
        #expect(try await site.site.articles(ArticlesRequest(filter: .changedToday, todayStartMillis: tomorrow)).total == 0)
        #expect(try await site.site.articles(ArticlesRequest(filter: .changedToday, todayStartMillis: 0)).total == 8)
    }

    /// The list kept in memory and moved article by article agrees, after any interleaving of
    /// saves, deletes, conflicts from a peer, resolves and restarts, with one built afresh from
    /// the log: the same articles in the same order, with the same winners, titles, heads and
    /// flags, for every filter and for searches.
    @Test(arguments: [11, 12, 13] as [UInt64]) func theListKeptInMemoryAgreesWithOneBuiltAfresh(seed: UInt64) async throws {
        let folder = TemporaryFolder("article-index")
        let a = try InProcessSite("a", in: folder), b = try InProcessSite("b", in: folder)
        var random = SeededRandom(seed: seed)
        let articles = (0..<10).map { "muc-\($0 % 3)/bai-\($0).txt" }
        let words = ["Hà Nội", "Đà Nẵng", "Huế", "mưa", "bão", "giá vàng", "bóng đá"]
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }

        for step in 0..<120 {
            let site = random.next() % 4 == 0 ? b : a
            let article = pick(articles)
            switch random.next() % 10 {
            case 0..<5: try await site.saveAndRecord(article, "\(pick(words)) \(step)\n\n\(pick(words)) \(pick(words))\n")
            case 5: if site.read(article) != nil {
                try FileManager.default.removeItem(atPath: site.path(article))
                try await site.site.ingest(paths: [article])
            }
            case 6, 7:
                try await b.send(to: a)
                try await a.send(to: b)
            case 8:
                let conflicts = try await a.site.articles(ArticlesRequest(filter: .conflicts))
                if let first = conflicts.articles.first { _ = try await a.site.resolve(ResolveRequest(article: first.article, take: nil)) }
            default:
                if random.next() % 4 == 0 { try await a.restart() }
            }
            let today = UInt64(Date().timeIntervalSince1970 * 1000) - random.next() % 2_000
            for request in [ArticlesRequest(pageSize: 500), ArticlesRequest(filter: .deleted, pageSize: 500),
                            ArticlesRequest(filter: .conflicts, pageSize: 500), ArticlesRequest(filter: .changedToday, pageSize: 500, todayStartMillis: today),
                            ArticlesRequest(query: SearchFolding.fold(pick(words)), pageSize: 500), ArticlesRequest(query: "muc-1", page: 1, pageSize: 2)] {
                let kept = try await a.site.articles(request)
                // A new SiteLog over the same file builds its list whole on its first ask.
                let rebuilt = try await SiteLog(log: try ArticleLog(path: a.root + "/log.sqlite"), key: a.key, settings: a.settings,
                                                logger: Logger(label: "fresh")).articles(request)
                #expect(kept == rebuilt, "step \(step), \(request.filter) \(request.query ?? "")")
            }
        }
    }

    /// The search's shortcuts (byte pairs, memmem) find exactly what a plain substring test finds.
    @Test func searchFindsWhatAPlainSubstringTestFinds() throws {
        var random = SeededRandom(seed: 7)
        let syllables = ["ha", "noi", "da", "nang", "hue", "mua", "bao", "duong", "pho", "gia", "vang", "h", "ng", "a"]
        func text() -> String { (0..<Int(random.next() % 12)).map { _ in syllables[Int(random.next() % UInt64(syllables.count))] }.joined(separator: " ") }
        var index = ArticleIndex()
        var rows: [ArticleIndex.Row] = []
        for n in 0..<400 {
            let folded = text()
            rows.append(ArticleIndex.Row(article: try ArticlePath("bai-\(n).txt"), version: VersionID(.sha256(of: Array("\(n)".utf8))),
                                         time: HybridTimestamp(milliseconds: random.next() % 1_000, counter: 0), deleted: false, heads: 1,
                                         title: folded, folded: Array(folded.utf8)))
        }
        index.rebuild(rows)
        for _ in 0..<300 {
            let words = (0..<Int(1 + random.next() % 3)).map { _ in
                let syllable = syllables[Int(random.next() % UInt64(syllables.count))]
                return random.next() % 3 == 0 ? String(syllable.dropFirst()) : syllable
            }.filter { !$0.isEmpty }
            let found = Set(index.select(words: words, filter: .live, todayStartMillis: 0, page: 0, pageSize: 500).rows.map(\.article))
            let expected = Set(rows.filter { row in words.allSatisfy { row.title.contains($0) } }.map(\.article))
            #expect(found == expected, "\(words)")
        }
    }

    /// Many moves at once (a catch-up) go in one pass; few, one at a time: either way the order
    /// is the one a fresh build gives.
    @Test(arguments: [5, 300]) func movesInBulkKeepTheShownOrder(moves: Int) throws {
        var random = SeededRandom(seed: UInt64(moves))
        func row(_ n: Int) throws -> ArticleIndex.Row {
            ArticleIndex.Row(article: try ArticlePath("bai-\(n).txt"), version: VersionID(.sha256(of: Array("\(n)-\(random.next())".utf8))),
                             time: HybridTimestamp(milliseconds: random.next() % 500, counter: 0), deleted: random.next() % 5 == 0,
                             heads: 1, title: "", folded: [])
        }
        var current = try Dictionary(uniqueKeysWithValues: (0..<800).map { n in (try ArticlePath("bai-\(n).txt"), try row(n)) })
        var index = ArticleIndex()
        index.rebuild(Array(current.values))
        for _ in 0..<5 {
            var changes: [ArticlePath: ArticleIndex.Row?] = [:]
            for _ in 0..<moves {
                let n = Int(random.next() % 1_000)
                let article = try ArticlePath("bai-\(n).txt")
                let next: ArticleIndex.Row? = random.next() % 7 == 0 ? nil : try row(n)
                changes[article] = .some(next)
                current[article] = next
            }
            index.update(changes)
            var fresh = ArticleIndex()
            fresh.rebuild(Array(current.values))
            #expect(index.order.map(\.version) == fresh.order.map(\.version))
            #expect(index.count == current.count)
        }
    }
}
