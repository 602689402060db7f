/// `newsctl restore ARTICLE[@VERSION]`: put an old version back in the folder as the newest one.
public struct RestoreRequest: ControlRequest {
    public static let method = "restore"

    public var article: String
    public var version: VersionSpec

    public init(article: String, version: VersionSpec) {
        self.article = article
        self.version = version
    }

    public struct Response: Codable, Sendable, Equatable {
        /// The version that was written back.
        public var restored: VersionInfo
        /// The article's head after the restore (a new version, or the same one if nothing changed).
        public var head: VersionInfo

        public init(restored: VersionInfo, head: VersionInfo) {
            self.restored = restored
            self.head = head
        }
    }
}
