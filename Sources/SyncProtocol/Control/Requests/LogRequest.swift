/// `newsctl log [ARTICLE] [--since T] [--until T]`: versions, newest first.
public struct LogRequest: ControlRequest {
    public static let method = "log"

    /// One article's history; nil for every article (then `since`/`until` usually narrow it).
    public var article: String?
    /// Origin time window, milliseconds since 1970, inclusive.
    public var sinceMillis: UInt64?
    public var untilMillis: UInt64?
    public var limit: Int?
    /// Versions passed over first (newest first), for a page further back; nil for none.
    public var skip: Int?

    public init(article: String? = nil, sinceMillis: UInt64? = nil, untilMillis: UInt64? = nil, limit: Int? = nil, skip: Int? = nil) {
        self.article = article
        self.skip = skip
        self.sinceMillis = sinceMillis
        self.untilMillis = untilMillis
        self.limit = limit
    }

    public typealias Response = [VersionInfo]
}
