/// Per origin, the highest sequence a site holds with no gap below it.
///
/// Two sites compare vectors on connect; each sends the other the entries past the other's
/// numbers. The vector has one number per site ever seen, so a reconnect costs O(sites) bytes
/// plus the changes, however many articles there are.
public struct VersionVector: Sendable, Equatable, Codable {
    public private(set) var sequences: [SiteID: UInt64]

    public init(_ sequences: [SiteID: UInt64] = [:]) { self.sequences = sequences.filter { $0.value > 0 } }

    public subscript(origin: SiteID) -> UInt64 { sequences[origin] ?? 0 }

    public mutating func advance(_ origin: SiteID, to sequence: UInt64) {
        if sequence > self[origin] { sequences[origin] = sequence }
    }

    /// For each origin where this vector is ahead of `other`: the first sequence `other` lacks.
    public func ahead(of other: VersionVector) -> [SiteID: UInt64] {
        var out: [SiteID: UInt64] = [:]
        for (origin, sequence) in sequences where sequence > other[origin] { out[origin] = other[origin] + 1 }
        return out
    }

    /// Entries this vector holds that `other` does not. Saturates: a peer's vector can hold any
    /// number (an origin at 2^63), and `status`, `peers` and the metrics scrape must not trap on it.
    public func count(aheadOf other: VersionVector) -> UInt64 {
        sequences.reduce(0) { sum, item in
            Self.saturatingAdd(sum, item.value > other[item.key] ? item.value - other[item.key] : 0)
        }
    }

    public var total: UInt64 { sequences.values.reduce(0, Self.saturatingAdd) }

    static func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }
}
