import Foundation

/// Reads what `ByteWriter` wrote, checking every length against what is left.
///
/// Never traps on malformed input: every read that runs past the end throws `DecodingError.truncated`,
/// and a length field larger than the remaining bytes is caught before anything is allocated.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    public enum ReadError: Error, Equatable, Sendable {
        case truncated(needed: Int, remaining: Int)
        case badLength(Int)
        case invalidUTF8
    }

    private mutating func take(_ count: Int) throws(ReadError) -> ArraySlice<UInt8> {
        guard count >= 0 else { throw .badLength(count) }
        guard count <= remaining else { throw .truncated(needed: count, remaining: remaining) }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    public mutating func readUInt8() throws(ReadError) -> UInt8 { try take(1).first! }

    public mutating func readUInt16() throws(ReadError) -> UInt16 {
        try take(2).reduce(0) { $0 << 8 | UInt16($1) }
    }

    public mutating func readUInt32() throws(ReadError) -> UInt32 {
        try take(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    public mutating func readUInt64() throws(ReadError) -> UInt64 {
        try take(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    public mutating func readRaw(count: Int) throws(ReadError) -> [UInt8] { Array(try take(count)) }

    /// A length-prefixed field; `limit` bounds it before the bytes are copied.
    public mutating func readLengthPrefixed(limit: Int = .max) throws(ReadError) -> [UInt8] {
        let length = Int(try readUInt32())
        guard length <= limit else { throw .badLength(length) }
        return try readRaw(count: length)
    }

    public mutating func readString(limit: Int = 1 << 16) throws(ReadError) -> String {
        let raw = try readLengthPrefixed(limit: limit)
        guard let string = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8 }
        return string
    }
}
