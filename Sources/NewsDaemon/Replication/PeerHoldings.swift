import Synchronization
import SyncProtocol

/// What the peer holds, as one session knows it: the vector it sent, advanced by every entry
/// either side passed on. Kept per session, not in the peer's shared link, so a session being
/// replaced cannot make the next one skip entries the peer never received.
final class PeerHoldings: Sendable {
    private let held: Mutex<VersionVector>

    init(_ vector: VersionVector) { held = Mutex(vector) }

    var vector: VersionVector { held.withLock { $0 } }

    func sequence(of origin: SiteID) -> UInt64 { held.withLock { $0[origin] } }

    func holds(_ entry: LogEntry) { held.withLock { $0.advance(entry.origin, to: entry.sequence) } }
}
