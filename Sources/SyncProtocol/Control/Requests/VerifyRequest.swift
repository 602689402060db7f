/// `newsctl verify`: re-hash every blob, walk every chain, check every signature.
public struct VerifyRequest: ControlRequest {
    public static let method = "verify"
    public init() {}

    public struct Response: Codable, Sendable, Equatable {
        public var entries: Int
        public var blobs: Int
        public var sites: Int
        /// Every problem found, one sentence each; empty means the log is intact.
        public var problems: [String]
        /// Revoked sites whose earlier entries the log keeps (not problems). Absent from older daemons.
        public var revoked: [RevokedSite]?

        public var ok: Bool { problems.isEmpty }

        public init(entries: Int, blobs: Int, sites: Int, problems: [String]) {
            self.entries = entries
            self.blobs = blobs
            self.sites = sites
            self.problems = problems
        }
    }
}

/// A revoked site: entries of it up to `keptThroughSequence` stay in the log (it is append-only);
/// later ones are refused when relayed.
public struct RevokedSite: Codable, Sendable, Equatable {
    public var id: String
    public var keptThroughSequence: UInt64
    /// Later entries refused since the daemon started.
    public var refused: Int

    public init(id: String, keptThroughSequence: UInt64, refused: Int) {
        self.id = id
        self.keptThroughSequence = keptThroughSequence
        self.refused = refused
    }
}
