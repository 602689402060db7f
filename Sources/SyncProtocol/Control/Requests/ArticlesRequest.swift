import Foundation

/// The web view's article list: every article with its title and last change, searched,
/// filtered and paged on the daemon, so a page of 100k articles costs one page's bytes.
public struct ArticlesRequest: ControlRequest {
    public static let method = "articles"

    public enum Filter: String, Codable, Sendable, CaseIterable {
        case live, changedToday = "changed_today", conflicts, deleted
    }

    /// Words every article shown has in its name or title, ignoring case and marks ("Ha Noi"
    /// finds "Hà Nội").
    public var query: String?
    public var filter: Filter
    /// From 0.
    public var page: Int
    /// At most 500.
    public var pageSize: Int
    /// Start of "today" in this site's time zone, milliseconds since the epoch (for
    /// `changed_today`); the client knows the zone it shows.
    public var todayStartMillis: UInt64?

    public init(query: String? = nil, filter: Filter = .live, page: Int = 0, pageSize: Int = 100, todayStartMillis: UInt64? = nil) {
        self.query = query
        self.filter = filter
        self.page = page
        self.pageSize = pageSize
        self.todayStartMillis = todayStartMillis
    }

    public struct Response: Codable, Sendable, Equatable {
        /// Articles matching, on every page.
        public var total: Int
        public var page: Int
        public var pageSize: Int
        public var articles: [ArticleSummary]

        public init(total: Int, page: Int, pageSize: Int, articles: [ArticleSummary]) {
            self.total = total
            self.page = page
            self.pageSize = pageSize
            self.articles = articles
        }
    }
}

/// One article in a list: its winning version and what a person reads first.
public struct ArticleSummary: Codable, Sendable, Equatable {
    public var article: String
    /// The first non-empty line of its text (at most 120 characters); empty for a deleted one or
    /// one over 1 MiB.
    public var title: String
    public var head: VersionInfo
    /// Competing heads, when more than one.
    public var heads: Int
    public var deleted: Bool

    public init(article: String, title: String, head: VersionInfo, heads: Int, deleted: Bool) {
        self.article = article
        self.title = title
        self.head = head
        self.heads = heads
        self.deleted = deleted
    }
}

/// Text folded for search: lower case, no marks, đ as d: "Hà Nội" and "ha noi" fold alike.
public enum SearchFolding {
    public static func fold(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.decomposedStringWithCanonicalMapping.unicodeScalars {
            if scalar.properties.generalCategory == .nonspacingMark { continue }
            switch scalar {
            case "đ", "Đ": out.unicodeScalars.append("d")
            default: out.unicodeScalars.append(contentsOf: String(scalar).lowercased().unicodeScalars)
            }
        }
        return out
    }
}
