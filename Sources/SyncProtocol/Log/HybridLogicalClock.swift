/// A hybrid logical timestamp: milliseconds since 1970 in the high 48 bits, a counter in the low 16.
///
/// Ordered like wall time when clocks agree, and never behind anything a site has seen, so "later
/// edit wins" means the same on every site even when their clocks drift.
public struct HybridTimestamp: Hashable, Sendable, Comparable, Codable {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(milliseconds: UInt64, counter: UInt16) { rawValue = milliseconds << 16 | UInt64(counter) }

    public var milliseconds: UInt64 { rawValue >> 16 }
    public var counter: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The clock that stamps this site's entries. Pure: the wall time is passed in.
public struct HybridLogicalClock: Sendable {
    public private(set) var last: HybridTimestamp

    public init(last: HybridTimestamp = HybridTimestamp(rawValue: 0)) { self.last = last }

    /// A timestamp for a new local entry: after everything seen, and after `wallMillis` when possible.
    public mutating func tick(wallMillis: UInt64) -> HybridTimestamp {
        if wallMillis > last.milliseconds {
            last = HybridTimestamp(milliseconds: wallMillis, counter: 0)
        } else {
            last = advance(last)
        }
        return last
    }

    /// Takes in a timestamp from another site so later local ticks order after it.
    public mutating func observe(_ remote: HybridTimestamp) {
        if remote > last { last = remote }
    }

    private func advance(_ t: HybridTimestamp) -> HybridTimestamp {
        t.counter == .max
            ? HybridTimestamp(milliseconds: t.milliseconds + 1, counter: 0)
            : HybridTimestamp(milliseconds: t.milliseconds, counter: t.counter + 1)
    }
}
