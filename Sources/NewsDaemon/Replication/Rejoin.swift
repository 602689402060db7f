import Foundation
import ServiceLifecycle
import Synchronization
import SyncProtocol

/// Where the start-up catch-up stands: per dialled peer, whether this site has everything that peer
/// held when their session began (its backlog stored, nothing refused).
///
/// A site restored from an older copy of its data folder would otherwise record its next local
/// change at a sequence its peers already hold from before the restore: a fork of its own chain,
/// refused by every peer for good. So local changes wait until the peers have handed back this
/// site's own later entries. Pure: the replication service reports, the ingest service waits.
public struct RejoinProgress: Sendable, Equatable {
    public enum PeerState: Sendable, Equatable {
        case waiting
        case caughtUp
        /// A dial failed; its reason. Final unless `patient` (after a restore).
        case unreachable(String)
    }

    public private(set) var peers: [SiteID: PeerState]
    /// After a restore from backup a refused dial does not end the wait: the copy is likely
    /// behind, and only the time limit does.
    public let patient: Bool

    public init(peers: [SiteID], patient: Bool) {
        self.peers = Dictionary(peers.map { ($0, PeerState.waiting) }, uniquingKeysWith: { a, _ in a })
        self.patient = patient
    }

    public mutating func caughtUp(with peer: SiteID) {
        guard peers[peer] != nil else { return }
        peers[peer] = .caughtUp
    }

    public mutating func unreachable(_ peer: SiteID, _ reason: String) {
        guard let state = peers[peer], state != .caughtUp else { return }
        peers[peer] = .unreachable(reason)
    }

    /// Every peer caught up, or (unless patient) caught up or unreachable.
    public var isFinished: Bool {
        peers.values.allSatisfy { state in
            switch state {
            case .caughtUp: true
            case .unreachable: !patient
            case .waiting: false
            }
        }
    }

    public var caughtUpCount: Int { peers.values.filter { $0 == .caughtUp }.count }

    /// The peers not caught up, sorted, with why.
    public var outstanding: [(SiteID, String)] {
        peers.compactMap { peer, state -> (SiteID, String)? in
            switch state {
            case .caughtUp: nil
            case .waiting: (peer, "no session yet")
            case .unreachable(let why): (peer, why)
            }
        }.sorted { $0.0 < $1.0 }
    }

    /// One line for `status` and the log.
    public var summary: String {
        let waiting = outstanding.map { "\($0.0.short) (\($0.1))" }.joined(separator: ", ")
        return "caught up with \(caughtUpCount) of \(peers.count) peer(s)" + (waiting.isEmpty ? "" : "; not with \(waiting)")
    }
}

/// The start-up catch-up, shared by the replication service (which reports) and the ingest
/// service (which waits before recording anything local).
public final class Rejoin: Sendable {
    private let state: Mutex<(progress: RejoinProgress, finished: Bool, deadline: ContinuousClock.Instant)>
    public let timeout: Duration

    public init(peers: [SiteID], patient: Bool, timeout: Duration) {
        self.timeout = timeout
        state = Mutex((RejoinProgress(peers: peers, patient: patient), false, .now + timeout))
    }

    public func caughtUp(with peer: SiteID) { state.withLock { $0.progress.caughtUp(with: peer) } }
    public func unreachable(_ peer: SiteID, _ reason: String) { state.withLock { $0.progress.unreachable(peer, reason) } }

    public var progress: RejoinProgress { state.withLock { $0.progress } }
    /// True while local recording waits; `status` says "rejoining".
    public var isRejoining: Bool { state.withLock { !$0.finished } }

    public enum Outcome: Sendable, Equatable {
        case caughtUp
        /// Some peers could not be reached (not patient): started without them.
        case startedWithout([SiteID])
        /// The time limit passed first.
        case timedOut([SiteID])
    }

    /// Waits until the catch-up is finished or the time limit passes; then local recording may start.
    public func wait() async -> Outcome {
        while true {
            let (finished, late, progress) = state.withLock { ($0.progress.isFinished, ContinuousClock.now >= $0.deadline, $0.progress) }
            // A stop asked meanwhile ends the wait: SIGTERM must not wait out the time limit.
            if finished || late || Task.isCancelled || Task.isShuttingDownGracefully {
                state.withLock { $0.finished = true }
                let missing = progress.outstanding.map(\.0)
                if missing.isEmpty { return .caughtUp }
                return finished ? .startedWithout(missing) : .timedOut(missing)
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
