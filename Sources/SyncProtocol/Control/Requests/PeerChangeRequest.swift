/// `newsctl peers add SITEID[@HOST:PORT] [--name NAME]`: trust a site from now on, without a
/// restart; kept in the data folder so it outlives one.
public struct PeerAddRequest: ControlRequest {
    public static let method = "peer_add"

    /// `SITEID` (accept only) or `SITEID@HOST:PORT` (dial and accept).
    public var peer: String
    public var name: String?

    public init(peer: String, name: String? = nil) {
        self.peer = peer
        self.name = name
    }

    public typealias Response = PeerChange
}

/// `newsctl peers remove SITEID`: stop trusting a site added with `peers add`; its session closes.
public struct PeerRemoveRequest: ControlRequest {
    public static let method = "peer_remove"

    public var site: String

    public init(site: String) { self.site = site }

    public typealias Response = PeerChange
}

/// What `peers add` or `peers remove` did.
public struct PeerChange: Codable, Sendable, Equatable {
    public enum Change: String, Codable, Sendable {
        case added, updated, unchanged, removed
    }

    public var site: String
    public var address: String?
    public var name: String?
    public var change: Change
    /// Where the change is kept (the data folder's `peers.toml`), or the config file that lists
    /// the peer when nothing needed keeping.
    public var keptIn: String
    /// This site's ID and the address it accepts peers on, for the command to run at the peer.
    public var thisSite: String
    public var listening: String?
    /// What may stop the two sites meeting (this site accepts on loopback only, say).
    public var warnings: [String]

    public init(site: String, address: String?, name: String?, change: Change, keptIn: String, thisSite: String,
                listening: String?, warnings: [String] = []) {
        self.site = site
        self.address = address
        self.name = name
        self.change = change
        self.keptIn = keptIn
        self.thisSite = thisSite
        self.listening = listening
        self.warnings = warnings
    }
}

/// `newsctl peers --pending`: sites that tried to connect and were refused as not configured.
public struct PendingPeersRequest: ControlRequest {
    public static let method = "peers_pending"
    public init() {}
    public typealias Response = [PendingPeer]
}

/// A site that proved it holds the key of its ID in the TLS handshake but is not a peer of this
/// one. Anyone can make a key: check the ID with the other site's operator before accepting it.
public struct PendingPeer: Codable, Sendable, Equatable {
    public var id: String
    /// The address it last connected from (its port there is not the one it accepts on).
    public var address: String
    public var firstSeen: String
    public var lastSeen: String
    public var attempts: UInt64
    /// The command that makes it a peer.
    public var accept: String

    public init(id: String, address: String, firstSeen: String, lastSeen: String, attempts: UInt64, accept: String) {
        self.id = id
        self.address = address
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.attempts = attempts
        self.accept = accept
    }
}
