import Crypto

/// A 32-byte SHA-256 value. `ContentHash` and `VersionID` wrap it so the two are never confused.
public struct Digest32: Hashable, Sendable, Comparable {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    public init?(hex: String) {
        guard let decoded = Hex.decode(hex), decoded.count == 32 else { return nil }
        self.bytes = decoded
    }

    public static func sha256<C: Collection>(of data: C) -> Digest32 where C.Element == UInt8 {
        var hasher = SHA256()
        if let done = data.withContiguousStorageIfAvailable({ hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }) {
            _ = done
        } else {
            hasher.update(data: Array(data))
        }
        return Digest32(unchecked: Array(hasher.finalize()))
    }

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    public var hex: String { Hex.encode(bytes) }

    public static func < (lhs: Digest32, rhs: Digest32) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}

/// SHA-256 of an article version's exact bytes; the key of the blob table.
public struct ContentHash: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let digest: Digest32
    public init(_ digest: Digest32) { self.digest = digest }
    public init?(hex: String) { guard let d = Digest32(hex: hex) else { return nil }; digest = d }
    public init?(bytes: [UInt8]) { guard let d = Digest32(bytes: bytes) else { return nil }; digest = d }
    public static func of<C: Collection>(_ data: C) -> ContentHash where C.Element == UInt8 { ContentHash(.sha256(of: data)) }
    public var hex: String { digest.hex }
    public var bytes: [UInt8] { digest.bytes }
    public var description: String { hex }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.digest < rhs.digest }
}

/// A version of an article: the hash of its log entry. Unique across all sites.
public struct VersionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let digest: Digest32
    public init(_ digest: Digest32) { self.digest = digest }
    public init?(hex: String) { guard let d = Digest32(hex: hex) else { return nil }; digest = d }
    public init?(bytes: [UInt8]) { guard let d = Digest32(bytes: bytes) else { return nil }; digest = d }
    public var hex: String { digest.hex }
    public var bytes: [UInt8] { digest.bytes }
    /// The form people read and type: 12 hex digits, as unique in practice as git's short hashes.
    public var short: String { String(hex.prefix(12)) }
    public var description: String { hex }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.digest < rhs.digest }
}
