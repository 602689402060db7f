import Foundation
import SyncProtocol

/// An origin of which this log holds two chains: the one it numbers and entries kept beside it.
public struct ForkSummary: Sendable, Equatable {
    public var origin: SiteID
    /// The lowest place of the chain an entry beside it takes: the two chains part at or before it.
    public var firstSequence: UInt64
    public var besideEntries: Int
    /// Articles those entries are versions of.
    public var articles: Int
    /// When this site stored the latest of them (wall milliseconds).
    public var lastReceivedMillis: UInt64
}

extension ArticleLog {
    /// Entries of `origin` kept beside its chain.
    public func besideCount(of origin: SiteID) -> Int { stats.besideByOrigin[origin] ?? 0 }

    /// The lowest place an entry kept beside `origin`'s chain takes: below it, every chain of that
    /// origin this log holds agrees. Nil when none is kept.
    public func forkRegionStart(of origin: SiteID) throws -> UInt64? {
        guard besideCount(of: origin) > 0 else { return nil }
        return try db.scalar("SELECT min(fork_seq) FROM entries WHERE origin = ? AND fork_seq IS NOT NULL", .text(origin.rawValue))
            .map { UInt64(max(1, $0)) }
    }

    /// Per origin, this log's chain at a few places and what it keeps beside it, for a peer to find
    /// a second chain (protocol v4). O(origins × log(entries)) point reads.
    public func chainTips() throws -> [ChainTip] {
        // Per origin with entries beside its chain: how many, and every version of the fork's region.
        var beside: [SiteID: (count: Int, region: [VersionID])] = [:]
        if stats.besideEntries > 0 {
            var lowest: [SiteID: (count: Int, place: UInt64)] = [:]
            try db.statement("SELECT origin, count(*), min(fork_seq) FROM entries WHERE fork_seq IS NOT NULL GROUP BY origin").query([]) { row in
                if let origin = SiteID(row.text(0)) { lowest[origin] = (row.int(1), row.uint64(2)) }
            }
            // Two queries, each on its own index, not one that walks every entry of the origin.
            let region = try db.statement("""
                SELECT version FROM entries WHERE origin = ?1 AND origin_seq >= ?2
                UNION ALL SELECT version FROM entries WHERE origin = ?1 AND fork_seq IS NOT NULL
                """)
            for (origin, found) in lowest {
                var versions: [VersionID] = []
                try region.query([.text(origin.rawValue), .uint(found.place)]) { row in
                    if let version = VersionID(bytes: row.blob(0)) { versions.append(version) }
                }
                beside[origin] = (found.count, versions)
            }
        }
        let at = try db.statement("SELECT version FROM entries WHERE origin = ? AND origin_seq = ?")
        var tips: [ChainTip] = []
        let perOrigin = ChainTip.checkpointsPerOrigin(origins: stats.vector.sequences.count)
        for (origin, tip) in stats.vector.sequences.sorted(by: { $0.key < $1.key }) {
            var checkpoints: [ChainTip.Checkpoint] = []
            for place in ChainTip.places(below: tip, limit: perOrigin) {
                try at.query([.text(origin.rawValue), .uint(place)]) { row in
                    if let version = VersionID(bytes: row.blob(0)) { checkpoints.append(.init(sequence: place, version: version)) }
                }
            }
            let kept = beside[origin]
            tips.append(ChainTip(origin: origin, checkpoints: checkpoints, besideCount: UInt32(clamping: kept?.count ?? 0),
                                 besideDigest: kept.map { ChainTip.digest(of: $0.region) } ?? ChainTip.noDigest))
        }
        return tips
    }

    /// Arrival positions of every entry of `origin` a peer holding another chain may lack: the
    /// chain's past `sequence`, and all kept beside it (`beside`). In arrival order, so each entry's
    /// previous one and the versions it replaces go first.
    public func forkWindow(of origin: SiteID, after sequence: UInt64) throws -> [(position: Int64, beside: Bool)] {
        var positions: [(position: Int64, beside: Bool)] = []
        try db.statement("""
            SELECT local_seq, 0 FROM entries WHERE origin = ?1 AND origin_seq > ?2
            UNION ALL SELECT local_seq, 1 FROM entries WHERE origin = ?1 AND fork_seq IS NOT NULL
            ORDER BY 1
            """).query([.text(origin.rawValue), .uint(min(sequence, UInt64(Int64.max)))]) { positions.append(($0.int64(0), $0.int(1) != 0)) }
        return positions
    }

    /// Which of `versions` are kept beside a chain.
    public func besideVersions(among versions: [VersionID]) throws -> Set<VersionID> {
        guard stats.besideEntries > 0 else { return [] }
        var out = Set<VersionID>()
        let stmt = try db.statement("SELECT 1 FROM entries WHERE version = ? AND fork_seq IS NOT NULL")
        for version in versions where try stmt.first([.blob(version.bytes)], { _ in true }) == true { out.insert(version) }
        return out
    }

    /// Every origin with entries kept beside its chain.
    public func forks() throws -> [ForkSummary] {
        guard stats.besideEntries > 0 else { return [] }
        var out: [ForkSummary] = []
        try db.statement("""
            SELECT origin, min(fork_seq), count(*), count(DISTINCT article), max(received_ms)
            FROM entries WHERE fork_seq IS NOT NULL GROUP BY origin ORDER BY origin
            """).query([]) { row in
            guard let origin = SiteID(row.text(0)) else { return }
            out.append(ForkSummary(origin: origin, firstSequence: row.uint64(1), besideEntries: row.int(2), articles: row.int(3),
                                   lastReceivedMillis: row.uint64(4)))
        }
        return out
    }
}
