import Foundation

/// `newsctl show ARTICLE[@VERSION]`, and what `diff` fetches: one version and its exact bytes.
public struct ShowRequest: ControlRequest {
    public static let method = "show"

    public var article: String
    public var version: VersionSpec

    public init(article: String, version: VersionSpec) {
        self.article = article
        self.version = version
    }

    public struct Response: Codable, Sendable, Equatable {
        public var info: VersionInfo
        /// The version's bytes; empty for a delete.
        public var content: Data

        public init(info: VersionInfo, content: Data) {
            self.info = info
            self.content = content
        }
    }
}
