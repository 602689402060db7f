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
        /// Where in `Response.versions` the version that last changed the line is.
        public var change: Int

        public init(line: Int, text: String, change: Int) {
            self.line = line
            self.text = text
            self.change = change
        }
    }

    /// Why a walk stopped before every line was given: the lines left are given to the oldest
    /// version walked.
    public enum Stop: String, Codable, Sendable {
        /// It walked `SiteLog.blameDepth` versions back.
        case depth
        /// It read as much older text as one blame may.
        case size
        /// It ran as long as one blame may.
        case time
    }

    public struct Response: Codable, Sendable, Equatable {
        public var info: VersionInfo
        /// The versions that last changed some line, newest first.
        public var versions: [VersionInfo]
        public var lines: [Line]
        /// How many older versions the walk looked at.
        public var walked: Int
        /// Set when the walk stopped early.
        public var stopped: Stop?
        /// A step changed too many lines to match one by one: its newer version took them all.
        public var approximate: Bool

        public init(info: VersionInfo, versions: [VersionInfo], lines: [Line], walked: Int, stopped: Stop?, approximate: Bool) {
            self.info = info
            self.versions = versions
            self.lines = lines
            self.walked = walked
            self.stopped = stopped
            self.approximate = approximate
        }
    }
}
