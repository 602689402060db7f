import Foundation

/// One version of one article as newsctl shows it (`log`, `show`, `restore`).
public struct VersionInfo: Codable, Sendable, Equatable {
    /// Full version ID, lowercase hex.
    public var version: String
    public var article: String
    /// `put` or `delete`.
    public var op: String
    /// Lowercase hex SHA-256 of the bytes; nil for a delete.
    public var contentHash: String?
    public var origin: String
    /// Origin time, ISO 8601 UTC with milliseconds.
    public var time: String
    /// Origin time as the raw hybrid logical clock value, for exact ordering.
    public var hlc: UInt64
    public var size: UInt64
    public var sequence: UInt64
    /// Versions this one replaces, lowercase hex.
    public var replaces: [String]
    /// Who made the change at its origin (protocol v5; see `EntryAuthor`): a system account,
    /// `uid N`, or `web:NAME`. Absent for entries made before, or relayed without it.
    public var author: String?

    public init(entry: LogEntry) {
        version = entry.version.hex
        article = entry.article.rawValue
        op = entry.operation.description
        contentHash = entry.contentHash?.hex
        origin = entry.origin.description
        time = Self.format(entry.time)
        hlc = entry.time.rawValue
        size = entry.size
        sequence = entry.sequence
        replaces = entry.replaces.map(\.hex)
        author = entry.author?.name
    }

    public static func format(_ time: HybridTimestamp) -> String {
        format(milliseconds: time.milliseconds)
    }

    public static func format(milliseconds: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
