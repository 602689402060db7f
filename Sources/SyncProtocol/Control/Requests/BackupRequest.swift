/// `newsctl backup FILE`: a consistent copy of the log, made while newsd runs.
///
/// The response is followed on the same connection by the copy itself: `bytes` bytes in frames
/// of at most `BackupRequest.chunkBytes`, then nothing more. The client writes them to its own
/// file (so its permissions, not newsd's, decide where a backup may go) and checks `sha256`.
public struct BackupRequest: ControlRequest {
    public static let method = "backup"
    public static let chunkBytes = 1 << 20

    /// Include the site's private key (`--with-key`): a restore then needs nothing else.
    public var withKey: Bool

    public init(withKey: Bool) { self.withKey = withKey }

    public struct Response: Codable, Sendable, Equatable {
        public var bytes: Int64
        public var sha256: String
        public var entries: Int
        public var articles: Int
        public var withKey: Bool
        /// The site the backup is of.
        public var site: String
        public init(bytes: Int64, sha256: String, entries: Int, articles: Int, withKey: Bool, site: String) {
            self.bytes = bytes
            self.sha256 = sha256
            self.entries = entries
            self.articles = articles
            self.withKey = withKey
            self.site = site
        }
    }
}
