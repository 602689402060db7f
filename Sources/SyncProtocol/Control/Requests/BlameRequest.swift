import Foundation

/// `newsctl blame ARTICLE[@VERSION]`: each paragraph (line) of a version with the version that
/// last changed it, its site, author and time.
public struct BlameRequest: ControlRequest {
    public static let method = "blame"

    public var article: String
    public var version: VersionSpec

    public init(article: String, version: VersionSpec) {
        self.article = article
        self.version = version
    }

    public struct Line: Codable, Sendable, Equatable {
        /// 1-based line number in the version's text.
        public var line: Int
        public var text: String
        /// The version that last changed the line.
        public var change: VersionInfo

        public init(line: Int, text: String, change: VersionInfo) {
            self.line = line
            self.text = text
            self.change = change
        }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var info: VersionInfo
        public var lines: [Line]
        /// The walk stopped this many versions back before every line was given (its limit): the
        /// lines left are given to the oldest version walked. Nil when the walk was whole.
        public var stoppedAfter: Int?

        public init(info: VersionInfo, lines: [Line], stoppedAfter: Int?) {
            self.info = info
            self.lines = lines
            self.stoppedAfter = stoppedAfter
        }
    }
}
