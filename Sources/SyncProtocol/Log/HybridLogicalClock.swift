/// A hybrid logical timestamp: milliseconds since 1970 in the high 48 bits, a counter in the low 16.
///
/// Ordered like wall time when clocks agree, and never behind anything a site has seen, so "later
/// edit wins" means the same on every site even when their clocks drift.
public struct HybridTimestamp: Hashable, Sendable, Comparable, Codable {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Milliseconds past 48 bits (the year 10889) are held at the largest: nothing wraps.
    public init(milliseconds: UInt64, counter: UInt16) {
        rawValue = min(milliseconds, Self.maximumMilliseconds) << 16 | UInt64(counter)
    }

    public static let maximumMilliseconds: UInt64 = (1 << 48) - 1
    public static let maximum = HybridTimestamp(rawValue: .max)

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
        let now = HybridTimestamp(milliseconds: wallMillis, counter: 0)
        last = now > last ? now : advance(last)
        return last
    }

    /// Takes in a timestamp from another site so later local ticks order after it: unless it lies
    /// more than `maximumSkewMillis` ahead of this site's wall clock. A site whose clock says 2200
    /// would otherwise win every later conflict and drag every clock forward for good; its entries
    /// are still stored (they are signed and must replicate), just not followed. Returns false for
    /// a time not observed.
    @discardableResult
    public mutating func observe(_ remote: HybridTimestamp, wallMillis: UInt64, maximumSkewMillis: UInt64) -> Bool {
        let (limit, overflow) = wallMillis.addingReportingOverflow(maximumSkewMillis)
        guard overflow || remote.milliseconds <= limit else { return false }
        if remote > last { last = remote }
        return true
    }

    /// The next timestamp; saturates at the largest instead of wrapping.
    private func advance(_ t: HybridTimestamp) -> HybridTimestamp {
        if t.counter < .max { return HybridTimestamp(milliseconds: t.milliseconds, counter: t.counter + 1) }
        if t.milliseconds >= HybridTimestamp.maximumMilliseconds { return .maximum }
        return HybridTimestamp(milliseconds: t.milliseconds + 1, counter: 0)
    }
}
