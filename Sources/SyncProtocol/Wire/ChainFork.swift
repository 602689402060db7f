/// Finding two sites that hold different chains of one origin (protocol v4).
///
/// Only an origin's own key signs its chain, so two chains of one origin mean that site signed
/// twice at one place: it ran on a copy of its log older than what its peers already held (a
/// whole-disk snapshot put back while no peer answered). Vectors compare sequences only and cannot
/// see that: equal numbers may hold different entries. So after the vector each side sends its
/// chain tips: per origin, its versions at a few places. A side that finds a place where the two
/// differ sends its entries of that origin past the highest place both agree on; a side that finds
/// none but receives the other's chain sends its own from where they part. Both end up holding both
/// chains: one numbered, the other kept beside it. Pure: the session does the I/O.

/// The versions a site holds at a few places of one origin's chain (its tip, then distances 1, 3,
/// 7, 15 … below it), and the entries of that origin it keeps beside its chain (another chain's,
/// after a fork): how many, and the XOR of the versions of the fork's region, every entry of the
/// origin it holds, chain or beside, from the lowest place one beside the chain takes. Two sites
/// that hold both chains hold the same region, whichever chain each numbers: nothing to send.
public struct ChainTip: Sendable, Equatable {
    public struct Checkpoint: Sendable, Equatable {
        public var sequence: UInt64
        public var version: VersionID
        public init(sequence: UInt64, version: VersionID) {
            self.sequence = sequence
            self.version = version
        }
    }

    public var origin: SiteID
    /// Highest sequence first; the first is the tip.
    public var checkpoints: [Checkpoint]
    public var besideCount: UInt32
    /// XOR of the versions of the fork's region (see above); all zero when nothing is beside.
    public var besideDigest: Digest32

    public init(origin: SiteID, checkpoints: [Checkpoint], besideCount: UInt32 = 0, besideDigest: Digest32 = ChainTip.noDigest) {
        self.origin = origin
        self.checkpoints = checkpoints
        self.besideCount = besideCount
        self.besideDigest = besideDigest
    }

    public var sequence: UInt64 { checkpoints.first?.sequence ?? 0 }

    public static let noDigest = Digest32(bytes: [UInt8](repeating: 0, count: 32))!

    /// The XOR of versions: order-free, so two sites holding the same set agree without sorting.
    public static func digest<S: Sequence>(of versions: S) -> Digest32 where S.Element == VersionID {
        var bytes = [UInt8](repeating: 0, count: 32)
        for version in versions {
            for index in 0..<32 { bytes[index] ^= version.bytes[index] }
        }
        return Digest32(bytes: bytes)!
    }

    /// At most this many checkpoints per origin (64 reach below any 64-bit tip).
    public static let maximumCheckpoints = 64
    /// What a peer's tips may cost the receiver in all (see `cost`): 16 MiB. A sender with many
    /// origins sends fewer checkpoints for each (`checkpointsPerOrigin`), so it never reaches it.
    public static let maximumTotalCost = 16 << 20

    /// The bytes a tip costs on the wire, about what it costs a receiver to hold.
    public var cost: Int { 80 + checkpoints.count * 40 }

    /// Checkpoints per origin for a site holding `origins` origins: 64 while the tips fit 12 MiB,
    /// fewer (at least the tip and #1) past that.
    public static func checkpointsPerOrigin(origins: Int) -> Int {
        max(2, min(maximumCheckpoints, ((12 << 20) / max(1, origins) - 80) / 40))
    }

    /// The places to send below `tip`: tip, tip−1, tip−3, tip−7 … and 1. A fork k entries below
    /// the shorter tip is found with at most about 2k entries sent again.
    public static func places(below tip: UInt64, limit: Int = maximumCheckpoints) -> [UInt64] {
        guard tip > 0 else { return [] }
        let limit = max(2, min(limit, maximumCheckpoints))
        var places: [UInt64] = []
        var distance: UInt64 = 0
        while distance < tip && places.count < limit - 1 {
            places.append(tip - distance)
            distance = distance * 2 + 1
        }
        if places.last != 1 { places.append(1) }
        return places
    }

    /// What this site should send a peer whose tip of the origin is `self`, given its own tip
    /// `mine` and its chain's version at a place (`versionAt`): nil when the two hold the same
    /// chain and the same entries beside it (the vector's backlog is all the peer lacks), else
    /// the sequence past which to send every entry of the origin, chain and beside.
    public func window(mine: ChainTip?, versionAt: (UInt64) throws -> VersionID?) rethrows -> UInt64? {
        // Both hold both chains (the same region past where they part): nothing to send.
        if besideCount > 0, let mine, mine.besideCount > 0, mine.besideDigest == besideDigest { return nil }
        var agreed: UInt64 = 0
        var differs = false
        for checkpoint in checkpoints {
            guard checkpoint.sequence <= (mine?.sequence ?? 0) else { continue }
            if try versionAt(checkpoint.sequence) == checkpoint.version {
                agreed = max(agreed, checkpoint.sequence)
            } else {
                differs = true
            }
        }
        // A checkpoint above an agreed one that differs cannot be an honest chain's; still, what
        // decides is the highest place both agree on.
        if !differs && (besideCount != (mine?.besideCount ?? 0) || besideDigest != (mine?.besideDigest ?? Self.noDigest)) {
            differs = true
        }
        return differs ? agreed : nil
    }
}

/// Chain tips travel in several frames: a site may hold up to `WireCodec.maximumVectorOrigins`
/// origins, and one frame holds a few megabytes.
public struct ChainTips: Sendable, Equatable {
    public var tips: [ChainTip]
    /// No more frames of tips follow.
    public var last: Bool

    public init(tips: [ChainTip], last: Bool) {
        self.tips = tips
        self.last = last
    }

    /// Tips split into frames of at most about `budget` bytes each; at least one frame.
    public static func frames(_ tips: [ChainTip], budget: Int = 1 << 20) -> [ChainTips] {
        var frames: [ChainTips] = []
        var current: [ChainTip] = []
        var size = 0
        for tip in tips {
            let cost = tip.cost
            if size + cost > budget && !current.isEmpty {
                frames.append(ChainTips(tips: current, last: false))
                current = []
                size = 0
            }
            current.append(tip)
            size += cost
        }
        frames.append(ChainTips(tips: current, last: true))
        return frames
    }
}
