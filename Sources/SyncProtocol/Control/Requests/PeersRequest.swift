/// `newsctl peers`: every configured peer and what is known of it.
public struct PeersRequest: ControlRequest {
    public static let method = "peers"
    public init() {}
    public typealias Response = [PeerInfo]
}

/// `newsctl peers --revoked`: the revoked sites and what of each the log keeps.
public struct RevokedRequest: ControlRequest {
    public static let method = "revoked"
    public init() {}
    public typealias Response = [RevokedSite]
}

public struct PeerInfo: Codable, Sendable, Equatable {
    public var id: String
    /// The name the peer gives itself (its `site_name`), from its hello.
    public var name: String?
    /// The name this site's operator gave it (`newsctl peers add --name`). Absent from older daemons.
    public var label: String?
    /// `host:port` dialled, or nil for an accept-only peer.
    public var address: String?
    public var connected: Bool
    /// When the current session began, or the last one ended (ISO 8601).
    public var since: String?
    public var lastExchange: String?
    public var entriesSent: UInt64
    public var entriesReceived: UInt64
    public var bytesSent: UInt64
    public var bytesReceived: UInt64
    /// Entries the peer holds that this site does not (as last exchanged).
    public var behind: UInt64
    /// Entries this site holds that the peer does not.
    public var ahead: UInt64
    /// The peer's own report: its article count and its connected peers.
    public var reported: PeerReport?
    /// Why the last session ended or the last dial failed.
    public var lastError: String?
    /// How far ahead of this site's clock the peer stamped entries, when past `max_clock_skew`
    /// (its times are stored but not followed). Absent from older daemons.
    public var clockAheadSeconds: UInt64?
    /// Sessions with this peer that ended on an error since start, and the last one's time and
    /// reason. Absent from older daemons.
    public var sessionFailures: UInt64?
    public var lastFailure: String?

    public init(id: String, name: String?, address: String?, connected: Bool, since: String?, lastExchange: String?,
                entriesSent: UInt64, entriesReceived: UInt64, bytesSent: UInt64, bytesReceived: UInt64,
                behind: UInt64, ahead: UInt64, reported: PeerReport?, lastError: String?,
                sessionFailures: UInt64? = nil, lastFailure: String? = nil) {
        self.sessionFailures = sessionFailures
        self.lastFailure = lastFailure
        self.id = id
        self.name = name
        self.address = address
        self.connected = connected
        self.since = since
        self.lastExchange = lastExchange
        self.entriesSent = entriesSent
        self.entriesReceived = entriesReceived
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
        self.behind = behind
        self.ahead = ahead
        self.reported = reported
        self.lastError = lastError
    }

    /// "in sync", or how far apart the two sites are.
    public var syncState: String {
        if behind == 0 && ahead == 0 { return connected ? "in sync" : "in sync when last connected" }
        var parts: [String] = []
        if behind > 0 { parts.append("\(behind) entries behind") }
        if ahead > 0 { parts.append("\(ahead) entries ahead") }
        return parts.joined(separator: ", ")
    }
}
