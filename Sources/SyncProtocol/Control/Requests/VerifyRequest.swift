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

/// A revoked site: its entries up to `keptThroughSequence` stay versions (the log is append-only);
/// later ones are stored when relayed, so chains stay whole, but held aside: never a head here.
public struct RevokedSite: Codable, Sendable, Equatable {
    public var id: String
    public var keptThroughSequence: UInt64
    /// Later entries held aside since the daemon started.
    public var refused: Int

    /// "entries #1–#N stay versions", or "none of its entries were held" for N = 0.
    public var keptText: String {
        keptThroughSequence == 0 ? "none of its entries had arrived before" : "its entries #1–#\(keptThroughSequence) stay versions"
    }

    public init(id: String, keptThroughSequence: UInt64, refused: Int) {
        self.id = id
        self.keptThroughSequence = keptThroughSequence
        self.refused = refused
    }
}
