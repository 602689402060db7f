/// `newsctl diff --peer SITEID`: where this site and a peer differ, as of their last exchange.
public struct PeerDiffRequest: ControlRequest {
    public static let method = "peer_diff"

    public var site: String

    public init(site: String) { self.site = site }

    public struct Response: Codable, Sendable, Equatable {
        public var site: String
        /// Articles with versions here the peer has not received.
        public var articlesAhead: [String]
        /// Entries the peer holds that have not arrived here.
        public var entriesBehind: UInt64
        public var connected: Bool

        public init(site: String, articlesAhead: [String], entriesBehind: UInt64, connected: Bool) {
            self.site = site
            self.articlesAhead = articlesAhead
            self.entriesBehind = entriesBehind
            self.connected = connected
        }
    }
}
