import Crypto

/// What a log entry does to its article.
public enum Operation: UInt8, Sendable, Codable, CustomStringConvertible {
    case put = 1
    case delete = 2

    public var description: String { self == .put ? "put" : "delete" }
}

/// One observed change of one article, as its origin site recorded it. Never changed once made.
///
/// `version` is the SHA-256 of every other field in `canonicalBytes`, including `previous`, the
/// version of the origin's preceding entry: each origin's entries form a hash chain, so changing
/// or dropping any entry breaks every later one. `signature` is the origin's key signing `version`,
/// so a site that forwards another's entries cannot forge or alter them.
///
/// `author` (protocol v5) is who made the change at the origin, signed by the origin apart from
/// the version: entries made before it, or relayed by a site on an older protocol, have none, and
/// their versions and chains are the same either way. Two entries are equal when their versions are.
public struct LogEntry: Hashable, Sendable {
    public let origin: SiteID
    /// 1, 2, 3 … per origin, with no gaps.
    public let sequence: UInt64
    public let article: ArticlePath
    public let operation: Operation
    /// The bytes' SHA-256 for `put`; nil for `delete`.
    public let contentHash: ContentHash?
    public let size: UInt64
    /// The heads of the article the origin knew when it made this entry: empty for a new article,
    /// one for an ordinary edit, several when the entry resolves a conflict.
    public let replaces: [VersionID]
    public let time: HybridTimestamp
    /// The version of this origin's previous entry; nil for sequence 1.
    public let previous: VersionID?
    public let version: VersionID
    public let signature: [UInt8]
    public var author: EntryAuthor?

    /// The same entry: the version hashes every field but the signature (ECDSA signs afresh each
    /// time) and the author (carried apart, and droppable by a relay).
    public static func == (a: LogEntry, b: LogEntry) -> Bool { a.version == b.version }
    public func hash(into hasher: inout Hasher) { hasher.combine(version) }

    /// Makes and signs a new entry of this site's own; `author` names who made the change.
    public init(
        signer: SiteKey, sequence: UInt64, article: ArticlePath, operation: Operation,
        contentHash: ContentHash?, size: UInt64, replaces: [VersionID], time: HybridTimestamp,
        previous: VersionID?, author: String? = nil
    ) throws {
        self.origin = signer.siteID
        self.sequence = sequence
        self.article = article
        self.operation = operation
        self.contentHash = contentHash
        self.size = size
        self.replaces = replaces.sorted()
        self.time = time
        self.previous = previous
        self.version = Self.computeVersion(
            origin: origin, sequence: sequence, article: article, operation: operation,
            contentHash: contentHash, size: size, replaces: self.replaces, time: time, previous: previous)
        self.signature = try signer.sign(version)
        self.author = try author.flatMap { try EntryAuthor(signer: signer, version: version, name: $0) }
    }

    /// Rebuilds an entry read from storage or the wire; `check()` says whether it is sound.
    public init(
        origin: SiteID, sequence: UInt64, article: ArticlePath, operation: Operation,
        contentHash: ContentHash?, size: UInt64, replaces: [VersionID], time: HybridTimestamp,
        previous: VersionID?, version: VersionID, signature: [UInt8], author: EntryAuthor? = nil
    ) {
        self.origin = origin
        self.sequence = sequence
        self.article = article
        self.operation = operation
        self.contentHash = contentHash
        self.size = size
        self.replaces = replaces
        self.time = time
        self.previous = previous
        self.version = version
        self.signature = signature
        self.author = author
    }

    /// The version these fields hash to; equal to `version` in every sound entry.
    public var computedVersion: VersionID {
        Self.computeVersion(
            origin: origin, sequence: sequence, article: article, operation: operation,
            contentHash: contentHash, size: size, replaces: replaces, time: time, previous: previous)
    }

    static let domain = Array("newsd log entry v1\0".utf8)

    static func computeVersion(
        origin: SiteID, sequence: UInt64, article: ArticlePath, operation: Operation,
        contentHash: ContentHash?, size: UInt64, replaces: [VersionID], time: HybridTimestamp,
        previous: VersionID?
    ) -> VersionID {
        var w = ByteWriter(capacity: 256)
        w.write(raw: domain)
        w.write(string: origin.rawValue)
        w.write(sequence)
        w.write(string: article.rawValue)
        w.write(operation.rawValue)
        w.write(raw: contentHash?.bytes ?? [UInt8](repeating: 0, count: 32))
        w.write(size)
        w.write(UInt32(replaces.count))
        for parent in replaces { w.write(raw: parent.bytes) }
        w.write(time.rawValue)
        w.write(raw: previous?.bytes ?? [UInt8](repeating: 0, count: 32))
        return VersionID(.sha256(of: w.bytes))
    }

    /// Why an entry is not sound, in words for `verify` and for a peer's error.
    public enum Problem: Error, Equatable, Sendable, CustomStringConvertible {
        case hashMismatch(VersionID)
        case badSignature(VersionID)
        case shape(String)

        public var description: String {
            switch self {
            case .hashMismatch(let v): "entry \(v.short): its fields do not hash to its version"
            case .badSignature(let v): "entry \(v.short): signature does not verify with its origin's key"
            case .shape(let s): s
            }
        }
    }

    /// Checks the entry on its own: shape, hash and signature. Chain links need the log.
    public func check(originKey: SiteKey.Public) throws(Problem) {
        guard sequence >= 1 else { throw .shape("entry \(version.short): sequence 0") }
        guard (sequence == 1) == (previous == nil) else {
            throw .shape("entry \(version.short): sequence \(sequence) with\(previous == nil ? "out" : "") a previous entry")
        }
        guard (operation == .put) == (contentHash != nil) else {
            throw .shape("entry \(version.short): \(operation) with\(contentHash == nil ? "out" : "") a content hash")
        }
        guard replaces == replaces.sorted(), Set(replaces).count == replaces.count else {
            throw .shape("entry \(version.short): replaced versions not sorted and unique")
        }
        guard computedVersion == version else { throw .hashMismatch(version) }
        guard originKey.siteID == origin, originKey.isValid(signature: signature, for: version) else {
            throw .badSignature(version)
        }
    }
}
