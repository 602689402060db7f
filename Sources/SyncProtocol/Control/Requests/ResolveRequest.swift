/// `newsctl resolve ARTICLE [--take VERSION]`: record a version that descends from every head.
public struct ResolveRequest: ControlRequest {
    public static let method = "resolve"

    public var article: String
    /// Whose content to keep; nil for the current winner.
    public var take: VersionSpec?

    public init(article: String, take: VersionSpec?) {
        self.article = article
        self.take = take
    }

    public typealias Response = VersionInfo
}
