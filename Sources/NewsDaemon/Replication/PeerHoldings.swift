import Synchronization
import SyncProtocol

/// What the peer holds, as one session knows it: the vector it sent, advanced by every entry
/// either side passed on. Kept per session, not in the peer's shared link, so a session being
/// replaced cannot make the next one skip entries the peer never received.
///
/// Where the peer holds another chain of an origin (a fork), its number for that origin says
/// nothing about which of this site's entries it holds: `contentVector` counts it only up to the
/// place both chains agree, raised as this session sends it this site's chain.
final class PeerHoldings: Sendable {
    private let held: Mutex<(vector: VersionVector, agreed: [SiteID: UInt64], sentBeside: Set<VersionID>)>

    init(_ vector: VersionVector) { held = Mutex((vector, [:], [])) }

    /// The peer sent these entries, which this site keeps beside a chain: not to be sent back.
    /// (At most what is kept beside chains, which is bounded.)
    func peerSent(beside versions: [VersionID]) { held.withLock { $0.sentBeside.formUnion(versions) } }

    func sentUs(_ version: VersionID) -> Bool { held.withLock { $0.sentBeside.contains(version) } }

    var vector: VersionVector { held.withLock { $0.vector } }

    /// The vector to judge which contents the peer holds by (see above).
    var contentVector: VersionVector {
        held.withLock { state in
            guard !state.agreed.isEmpty else { return state.vector }
            var sequences = state.vector.sequences
            for (origin, agreed) in state.agreed { sequences[origin] = min(sequences[origin] ?? 0, agreed) }
            return VersionVector(sequences)
        }
    }

    func sequence(of origin: SiteID) -> UInt64 { held.withLock { $0.vector[origin] } }

    func holds(_ entry: LogEntry) { held.withLock { $0.vector.advance(entry.origin, to: entry.sequence) } }

    /// The peer holds another chain of `origin`; the two agree up to `sequence`.
    func forked(_ origin: SiteID, agreeingThrough sequence: UInt64) {
        held.withLock { $0.agreed[origin] = min($0.agreed[origin] ?? .max, sequence) }
    }

    /// Whether the peer holds another chain of `origin` (found in this session).
    func isForked(_ origin: SiteID) -> Bool { held.withLock { $0.agreed[origin] != nil } }

    /// The peer holds every entry of `origin` this site holds through `sequence` (both hold both chains).
    func holdsAll(of origin: SiteID, through sequence: UInt64) { held.withLock { $0.vector.advance(origin, to: sequence) } }

    /// This session sent the peer an entry of this site's chain of a forked origin.
    func sentChainEntry(_ entry: LogEntry) {
        held.withLock { state in
            if let agreed = state.agreed[entry.origin], entry.sequence > agreed { state.agreed[entry.origin] = entry.sequence }
        }
    }
}
