import Foundation
import Logging
import NIOCore
import Synchronization
import SyncProtocol

/// The configured peers and the live session with each: at most one per pair of sites, even
/// when both dial at once.
public final class PeerRegistry: Sendable {
    public let local: SiteID
    let logger: Logger
    private let state: Mutex<State>

    struct Session {
        let id: UUID
        let channel: Channel
        /// The site that dialled: the rule for duplicates keeps the session dialled by the
        /// smaller site ID, so both ends drop the same one.
        let dialer: SiteID
    }

    struct State {
        var peers: [SiteID: PeerAddress] = [:]
        var links: [SiteID: PeerLink] = [:]
        var sessions: [SiteID: Session] = [:]
        var nudged: Set<SiteID> = []
        var refused = 0
        var rejected = 0
        /// The address the replication listener bound (its real port when `listen` asked for 0).
        var listening: String?
        /// Sites revoked in the config: never let in, whatever `peers` says.
        var revoked: Set<SiteID> = []
        /// Sites that proved their key but are not peers, for `newsctl peers --pending`.
        var pending: [SiteID: Pending] = [:]
    }

    /// A refused site: where from, when, how often.
    struct Pending {
        var address: String
        var first: Date
        var last: Date
        var attempts: UInt64
    }

    /// Refused sites remembered at most: anyone can make keys, so the list must not grow with them.
    static let maximumPending = 64
    static let maximumPendingPerAddress = 8

    public init(local: SiteID, peers: [PeerAddress], logger: Logger) {
        self.local = local
        self.logger = logger
        state = Mutex(State())
        configure(peers)
    }

    /// Replaces the peer list; sessions with peers no longer listed are closed.
    public func configure(_ peers: [PeerAddress]) {
        let dropped: [Channel] = state.withLock { s in
            s.peers = Dictionary(peers.map { ($0.site, $0) }, uniquingKeysWith: { $1 })
            for peer in peers where s.links[peer.site] == nil { s.links[peer.site] = PeerLink(site: peer.site) }
            for peer in peers { s.pending.removeValue(forKey: peer.site) }
            let gone = s.sessions.filter { s.peers[$0.key] == nil }
            for key in gone.keys { s.sessions.removeValue(forKey: key) }
            return gone.values.map(\.channel)
        }
        for channel in dropped { channel.close(promise: nil) }
    }

    public var peers: [PeerAddress] { state.withLock { Array($0.peers.values).sorted { $0.site < $1.site } } }
    public func isAllowed(_ site: SiteID) -> Bool { state.withLock { $0.peers[site] != nil && !$0.revoked.contains(site) } }
    public func isRevoked(_ site: SiteID) -> Bool { state.withLock { $0.revoked.contains(site) } }

    /// Takes the revoked list; sessions with a site now revoked are closed.
    public func setRevoked(_ sites: [SiteID]) {
        let dropped: [Channel] = state.withLock { s in
            s.revoked = Set(sites)
            let gone = s.sessions.filter { s.revoked.contains($0.key) }
            for key in gone.keys { s.sessions.removeValue(forKey: key) }
            return gone.values.map(\.channel)
        }
        for channel in dropped { channel.close(promise: nil) }
    }
    public func address(of site: SiteID) -> PeerAddress? { state.withLock { $0.peers[site] } }
    public func link(_ site: SiteID) -> PeerLink? { state.withLock { $0.links[site] } }
    public func isConnected(_ site: SiteID) -> Bool { state.withLock { $0.sessions[site] != nil } }
    public var connectedCount: Int { state.withLock { $0.sessions.count } }
    public var configuredCount: Int { state.withLock { $0.peers.count } }
    public var refusedConnections: Int { state.withLock { $0.refused } }
    /// Sessions ended because the peer broke the protocol or sent something invalid.
    public var rejectedSessions: Int { state.withLock { $0.rejected } }

    public var listening: String? { state.withLock { $0.listening } }
    func setListening(_ address: String) { state.withLock { $0.listening = address } }

    func countRefused() { state.withLock { $0.refused += 1 } }

    /// Remembers a site refused for not being a peer, once it has proved its key in the handshake;
    /// the least recent is forgotten past `maximumPending` (or past a few from the same address).
    func notePending(_ site: SiteID, from address: String, at now: Date = Date()) {
        state.withLock { s in
            guard site != local, s.peers[site] == nil, !s.revoked.contains(site) else { return }
            if var known = s.pending[site] {
                known.address = address
                known.last = now
                known.attempts &+= 1
                s.pending[site] = known
                return
            }
            // One address may hold a few places, not the list: a flood of made-up sites from one
            // host pushes out its own entries, not the site an operator is about to accept.
            let fromHere = s.pending.filter { $0.value.address == address }
            if fromHere.count >= Self.maximumPendingPerAddress, let oldest = fromHere.min(by: { $0.value.last < $1.value.last })?.key {
                s.pending.removeValue(forKey: oldest)
            } else if s.pending.count >= Self.maximumPending, let oldest = s.pending.min(by: { $0.value.last < $1.value.last })?.key {
                s.pending.removeValue(forKey: oldest)
            }
            s.pending[site] = Pending(address: address, first: now, last: now, attempts: 1)
        }
    }

    public var pendingCount: Int { state.withLock { $0.pending.count } }

    public var pendingPeers: [PendingPeer] {
        state.withLock { s in
            s.pending.sorted { $0.value.last > $1.value.last }.map { site, pending in
                func iso(_ date: Date) -> String { VersionInfo.format(milliseconds: UInt64(date.timeIntervalSince1970 * 1000)) }
                return PendingPeer(id: site.description, address: pending.address, firstSeen: iso(pending.first), lastSeen: iso(pending.last),
                                   attempts: pending.attempts, accept: "newsctl peers add \(site)")
            }
        }
    }
    func countRejected() { state.withLock { $0.rejected += 1 } }

    /// Registers a session whose hello arrived. False means it duplicates a session that wins
    /// under the rule, and the caller must close it.
    func attach(peer: SiteID, id: UUID, channel: Channel, dialer: SiteID, name: String) -> Bool {
        let (accepted, displaced): (Bool, Channel?) = state.withLock { s in
            // Listed and not revoked now, not only when its certificate was checked: a reload may
            // have come in between.
            guard let link = s.links[peer], s.peers[peer] != nil, !s.revoked.contains(peer) else { return (false, nil) }
            let keep = min(local, peer)
            var displaced: Channel?
            if let existing = s.sessions[peer] {
                // Dialled by the same site again: that site gave the old session up (it dials one
                // at a time), so the new one replaces it. Dialled by both at once: the rule decides.
                guard existing.dialer == dialer || (dialer == keep && existing.dialer != keep) else { return (false, nil) }
                displaced = existing.channel
            }
            s.sessions[peer] = Session(id: id, channel: channel, dialer: dialer)
            link.update {
                $0.connected = true
                $0.since = Date()
                $0.lastError = nil
                $0.name = name
            }
            return (true, displaced)
        }
        displaced?.close(promise: nil)
        return accepted
    }

    func detach(peer: SiteID, id: UUID, error: String?) {
        state.withLock { s in
            guard s.sessions[peer]?.id == id else { return }
            s.sessions.removeValue(forKey: peer)
            s.links[peer]?.update {
                $0.connected = false
                $0.since = Date()
                if let error {
                    $0.lastError = error
                    $0.sessionFailures &+= 1
                    $0.lastFailure = (error, Date())
                }
            }
        }
    }

    func noteDialFailure(peer: SiteID, error: String) {
        state.withLock { $0.links[peer]?.update { $0.lastError = error } }
    }

    /// Asks the dialers of these peers (all when nil) to try now.
    public func nudge(_ site: SiteID?) -> [SiteID] {
        state.withLock { s in
            let targets = site.map { s.peers[$0] == nil ? [] : [$0] } ?? Array(s.peers.keys)
            s.nudged.formUnion(targets)
            return targets.sorted()
        }
    }

    func takeNudge(_ site: SiteID) -> Bool { state.withLock { $0.nudged.remove(site) != nil } }

    /// Each configured peer's last known vector (what it reported, and what it was sent since);
    /// peers that have not reported one since this site started are left out.
    public var vectors: [SiteID: VersionVector] {
        let (peers, links) = state.withLock { ($0.peers, $0.links) }
        return Dictionary(uniqueKeysWithValues: peers.keys.compactMap { site in
            links[site].flatMap { link in link.read { $0.vectorReported ? (site, $0.vector) : nil } }
        })
    }

    public func infos(local vector: VersionVector) -> [PeerInfo] {
        let (peers, links) = state.withLock { ($0.peers, $0.links) }
        return peers.values.sorted { $0.site < $1.site }.compactMap { peer in
            links[peer.site]?.info(address: peer.endpoint, label: peer.name, local: vector)
        }
    }

    /// Closes every session (shutdown): each session says goodbye as it ends.
    func closeAll() {
        let channels = state.withLock { $0.sessions.values.map(\.channel) }
        for channel in channels { channel.close(promise: nil) }
    }
}
