import Foundation
import Logging
import SyncProtocol

/// The sites this site trusts: the config's (`peers`, `--peer`) and those added with `newsctl
/// peers add`. The one place that changes the peer list while newsd runs: a reload and an added
/// peer cannot undo each other, and each change reaches the replication service whole.
public actor PeerDirectory {
    nonisolated let local: SiteID
    nonisolated let dataDir: String
    /// Where the configured peers come from, for messages: the config file, or "--peer flags".
    var configSource: String
    var configured: [PeerAddress]
    var added: [PeerAddress]
    var revoked: Set<SiteID>
    let apply: @Sendable ([PeerAddress]) -> Void
    let logger: Logger

    /// Peers added at most: each is a dialler and a row in every listing.
    static let maximumAdded = 1000

    public init(local: SiteID, config: DaemonConfig, logger: Logger, apply: @escaping @Sendable ([PeerAddress]) -> Void) {
        self.local = local
        dataDir = config.dataDir
        configSource = config.configFile ?? "--peer flags"
        configured = config.peers
        added = config.addedPeers
        revoked = Set(config.revoked)
        self.logger = logger
        self.apply = apply
    }

    /// Every trusted peer but this site: the config's, then the added ones it does not list.
    public var trusted: [PeerAddress] {
        DaemonConfig.merge(configured: configured, added: added).filter { $0.site != local && !revoked.contains($0.site) }
    }

    /// A reload: the config's peers and revocations anew. The added peers are this actor's (it
    /// alone writes their file), so a file read at the reload cannot undo an add in flight.
    public func reload(_ config: DaemonConfig) {
        configSource = config.configFile ?? "--peer flags"
        let leaving = Set(configured.map(\.site)).subtracting(config.peers.map(\.site))
        for site in leaving where added.contains(where: { $0.site == site }) {
            logger.notice("\(site) is no longer in \(configSource) but was added with `newsctl peers add`: it stays a peer (`newsctl peers remove \(site)`)")
        }
        configured = config.peers
        revoked = Set(config.revoked)
        apply(trusted)
    }

    public struct Refusal: Error, CustomStringConvertible {
        public enum Kind: Sendable { case invalid, notFound, listedInConfig, revoked }
        public let kind: Kind
        public let description: String
    }

    /// Trusts `peer` from now on and keeps it; an added peer given again takes the new address
    /// and name.
    public func add(_ peer: PeerAddress) throws -> PeerChange.Change {
        guard peer.site != local else { throw Refusal(kind: .invalid, description: "\(peer.site) is this site's own ID; add the other site's (`newsd id` there)") }
        guard !revoked.contains(peer.site) else {
            throw Refusal(kind: .revoked, description: "\(peer.site) is revoked (`revoked` in \(configSource)); take it out there and reload first")
        }
        if let listed = configured.last(where: { $0.site == peer.site }) {
            guard listed.endpoint == peer.endpoint else {
                throw Refusal(kind: .listedInConfig, description: "\(peer.site) is already a peer in \(configSource) as \(listed); change it there and reload")
            }
            return .unchanged
        }
        var next = added
        let change: PeerChange.Change
        if let index = next.firstIndex(where: { $0.site == peer.site }) {
            if next[index] == peer { return .unchanged }
            next[index] = peer
            change = .updated
        } else {
            guard next.count < Self.maximumAdded else {
                throw Refusal(kind: .invalid, description: "\(Self.maximumAdded) peers are added already; remove some first")
            }
            next.append(peer)
            change = .added
        }
        try keep(next)
        logger.notice("peer \(peer) \(change == .added ? "added" : "changed")\(peer.name.map { " (\($0))" } ?? ""); kept in \(AddedPeersFile.path(dataDir: dataDir))")
        return change
    }

    /// Stops trusting a peer added with `peers add`; its session closes.
    public func remove(_ site: SiteID) throws -> PeerAddress {
        guard let index = added.firstIndex(where: { $0.site == site }),
              !configured.contains(where: { $0.site == site }) else {
            if configured.contains(where: { $0.site == site }) {
                throw Refusal(kind: .listedInConfig, description: "\(site) is a peer in \(configSource) (`peers`), not one added with newsctl: remove it there and reload")
            }
            throw Refusal(kind: .notFound, description: "\(site) is not a peer of this site (`newsctl peers` lists them)")
        }
        let gone = added[index]
        var next = added
        next.remove(at: index)
        try keep(next)
        logger.notice("peer \(site) removed; its sessions close")
        return gone
    }

    /// Where a peer comes from: the config, the added file, or nowhere.
    public func source(of site: SiteID) -> String? {
        if configured.contains(where: { $0.site == site }) { return configSource }
        if added.contains(where: { $0.site == site }) { return AddedPeersFile.path(dataDir: dataDir) }
        return nil
    }

    /// Writes the file first: a change that cannot be kept is not made.
    private func keep(_ next: [PeerAddress]) throws {
        let now = Date()
        let previous = (try? AddedPeersFile.load(dataDir: dataDir))?.entries ?? []
        let entries = next.map { peer in
            // An unchanged peer keeps the time it was first added.
            var entry = AddedPeersFile.Entry(peer, added: now)
            if let before = previous.first(where: { $0.site == entry.site }) { entry.added = before.added ?? entry.added }
            return entry
        }
        try AddedPeersFile(entries: entries).save(dataDir: dataDir)
        added = next
        apply(trusted)
    }
}
