/// `newsctl conflicts`: articles with more than one head.
public struct ConflictsRequest: ControlRequest {
    public static let method = "conflicts"
    public init() {}

    public struct Conflict: Codable, Sendable, Equatable {
        public var article: String
        /// The competing version IDs.
        public var versions: [String]
        /// The one every site puts in the folder until someone resolves it.
        public var winner: String
        public var heads: [VersionInfo]

        public init(article: String, versions: [String], winner: String, heads: [VersionInfo]) {
            self.article = article
            self.versions = versions
            self.winner = winner
            self.heads = heads
        }
    }

    public typealias Response = [Conflict]
}
