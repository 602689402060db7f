import Foundation
import Synchronization
import SyncProtocol

/// What this site knows of one peer across sessions: counters, the peer's last vector and
/// report, when it was last heard. Shared by the session's tasks and `newsctl peers`.
public final class PeerLink: Sendable {
    public let site: SiteID
    let state: Mutex<State>

    struct State {
        var name: String?
        var connected = false
        var since: Date?
        var lastExchange: Date?
        var lastReceived = ContinuousClock.now
        var entriesSent: UInt64 = 0
        var entriesReceived: UInt64 = 0
        var bytesSent: UInt64 = 0
        var bytesReceived: UInt64 = 0
        var vector = VersionVector()
        /// Whether the peer has said what it holds since this site started (its vector at a
        /// session's start); until then `vector` is only what was sent to it.
        var vectorReported = false
        var reported: PeerReport?
        var lastError: String?
        /// Sessions that ended on an error (either side's), and the last such reason, kept across
        /// reconnections so a link that keeps failing shows why even while connected.
        var sessionFailures: UInt64 = 0
        var lastFailure: (reason: String, at: Date)?
    }

    init(site: SiteID) {
        self.site = site
        state = Mutex(State())
    }

    func update(_ body: (inout State) -> Void) { state.withLock { body(&$0) } }
    func read<T>(_ body: (State) -> T) -> T { state.withLock { body($0) } }

    func received(bytes: Int) {
        update {
            $0.bytesReceived += UInt64(bytes)
            $0.lastReceived = .now
        }
    }

    func sent(bytes: Int) { update { $0.bytesSent += UInt64(bytes) } }

    /// The peer holds this entry (it sent it, or we did).
    func peerHolds(_ entry: LogEntry) { update { $0.vector.advance(entry.origin, to: entry.sequence) } }

    var vector: VersionVector { read(\.vector) }

    func info(address: Endpoint?, label: String? = nil, local: VersionVector) -> PeerInfo {
        read { s in
            var info = PeerInfo(id: site.description, name: s.name, address: address?.description, connected: s.connected,
                     since: s.since.map { VersionInfo.format(milliseconds: UInt64($0.timeIntervalSince1970 * 1000)) },
                     lastExchange: s.lastExchange.map { VersionInfo.format(milliseconds: UInt64($0.timeIntervalSince1970 * 1000)) },
                     entriesSent: s.entriesSent, entriesReceived: s.entriesReceived, bytesSent: s.bytesSent,
                     bytesReceived: s.bytesReceived, behind: s.vector.count(aheadOf: local), ahead: local.count(aheadOf: s.vector),
                     reported: s.reported, lastError: s.lastError,
                     sessionFailures: s.sessionFailures,
                     lastFailure: s.lastFailure.map { "\(VersionInfo.format(milliseconds: UInt64($0.at.timeIntervalSince1970 * 1000))): \($0.reason)" })
            info.label = label
            return info
        }
    }
}
