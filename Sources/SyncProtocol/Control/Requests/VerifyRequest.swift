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

        public var ok: Bool { problems.isEmpty }

        public init(entries: Int, blobs: Int, sites: Int, problems: [String]) {
            self.entries = entries
            self.blobs = blobs
            self.sites = sites
            self.problems = problems
        }
    }
}
