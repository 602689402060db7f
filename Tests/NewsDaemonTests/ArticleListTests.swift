import Foundation
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
}
