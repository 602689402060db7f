import Foundation

/// Appends big-endian integers and length-prefixed fields to a byte buffer.
///
/// Used for the canonical encoding that entry hashes cover and for wire frames, so both sides of a
/// hash or a frame agree on every byte.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func write(_ value: UInt8) { bytes.append(value) }

    public mutating func write(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    public mutating func write(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    public mutating func write(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    /// Raw bytes with no length: for fixed-size fields such as hashes.
    public mutating func write<C: Collection>(raw: C) where C.Element == UInt8 { bytes.append(contentsOf: raw) }

    /// A field of up to 4 GiB: 32-bit length, then the bytes.
    public mutating func write<C: Collection>(lengthPrefixed field: C) where C.Element == UInt8 {
        write(UInt32(field.count))
        bytes.append(contentsOf: field)
    }

    public mutating func write(string: String) { write(lengthPrefixed: Array(string.utf8)) }
}
