/// `newsctl status`: the site at a glance.
public struct StatusRequest: ControlRequest {
    public static let method = "status"
    public init() {}

    public struct Response: Codable, Sendable, Equatable {
        /// False until the start-up reconcile of the folder is done.
        public var ready: Bool
        public var siteId: String
        public var siteName: String
        public var watchDir: String
        public var dataDir: String
        /// Articles whose head is a put.
        public var articles: Int
        /// Articles whose head is a delete.
        public var deletedArticles: Int
        public var logEntries: Int
        public var blobs: BlobStats
        public var lastChange: VersionInfo?
        /// Files passed over, each with why; nothing is skipped silently.
        public var skipped: [SkippedFile]
        /// Deletes held until an operator confirms them (`newsctl deletes`).
        public var pendingDeletes: Int
        /// `ok`, or why the folder is not being taken as it is (missing, empty, held deletes, disk full).
        public var folderState: String
        /// Present problems in sentences; empty when all is well.
        public var problems: [String]
        /// Configured peers, each with a plain answer: in sync, or how far apart.
        public var peers: [PeerSummary]
        /// Articles with competing heads (`newsctl conflicts`).
        public var conflicts: Int
        /// Connections refused: unlisted keys, too many at once.
        public var refusedConnections: Int
        public var uptimeSeconds: Double
        public var version: String
        /// How incoming versions are swapped into the folder: `exchange` (renameat2), or `move aside
        /// and link` where the file system lacks RENAME_EXCHANGE. Absent from older daemons.
        public var folderWrites: String?
        /// The address accepting peers, with the port bound (`listen = "HOST:0"` picks one).
        public var listening: String?
        /// Bytes in the log's write-ahead log (checkpointed automatically, truncated when idle).
        public var walBytes: Int64?
        /// Revoked sites (not problems: an operator's decision). Absent from older daemons.
        public var revoked: [RevokedSite]?
        /// Set while a scan of the whole folder holds the site ("scanning 45,120 of about 100,000
        /// files"): the rest is as the site stood when the scan began, peers left out. Absent from
        /// older daemons.
        public var scanning: String?
        /// Set while start-up waits for peers to hand back this site's own entries before recording
        /// local changes: how far the catch-up is. Absent when not rejoining, and from older daemons.
        public var rejoining: String?
        /// Sites refused at the handshake as not peers since start (`newsctl peers --pending`).
        /// Absent from older daemons.
        public var pendingPeers: Int?
        /// The origin this site's new entries carry when it is not `site_id` (a restored site that
        /// could not catch up with every peer signs anew). Absent otherwise, and from older daemons.
        public var signingAs: String?
        /// Folders without an inotify watch (limit reached, permission), each with why; changes in
        /// them are found by a periodic rescan. Absent when none, and from older daemons.
        public var unwatched: [SkippedFile]?
        /// Origins of which this log holds two chains (a site that ran on an older copy of its log
        /// signed again from where the copy ended): both are kept. Absent when none, and from older daemons.
        public var forks: [ForkedOrigin]?

        public init(
            ready: Bool, siteId: String, siteName: String, watchDir: String, dataDir: String, articles: Int,
            deletedArticles: Int, logEntries: Int, blobs: BlobStats, lastChange: VersionInfo?,
            skipped: [SkippedFile], pendingDeletes: Int, folderState: String, problems: [String],
            peers: [PeerSummary] = [], conflicts: Int = 0, refusedConnections: Int = 0,
            uptimeSeconds: Double, version: String, folderWrites: String? = nil, walBytes: Int64? = nil,
            revoked: [RevokedSite]? = nil
        ) {
            self.revoked = revoked
            self.folderWrites = folderWrites
            self.walBytes = walBytes
            self.ready = ready
            self.siteId = siteId
            self.siteName = siteName
            self.watchDir = watchDir
            self.dataDir = dataDir
            self.articles = articles
            self.deletedArticles = deletedArticles
            self.logEntries = logEntries
            self.blobs = blobs
            self.lastChange = lastChange
            self.skipped = skipped
            self.pendingDeletes = pendingDeletes
            self.folderState = folderState
            self.problems = problems
            self.peers = peers
            self.conflicts = conflicts
            self.refusedConnections = refusedConnections
            self.uptimeSeconds = uptimeSeconds
            self.version = version
        }
    }
}

/// The content-addressed blob table: how much is stored, and how much it would be uncompressed.
public struct BlobStats: Codable, Sendable, Equatable {
    public var count: Int
    public var storedBytes: Int64
    public var rawBytes: Int64

    public init(count: Int, storedBytes: Int64, rawBytes: Int64) {
        self.count = count
        self.storedBytes = storedBytes
        self.rawBytes = rawBytes
    }
}

/// A file newsd saw and did not version, and why.
public struct SkippedFile: Codable, Sendable, Equatable, Hashable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// One peer in `status`: who, where, whether connected, and how in step.
public struct PeerSummary: Codable, Sendable, Equatable {
    public var id: String
    public var address: String?
    public var connected: Bool
    /// "in sync", or "N entries behind, M entries ahead".
    public var state: String

    public init(id: String, address: String?, connected: Bool, state: String) {
        self.id = id
        self.address = address
        self.connected = connected
        self.state = state
    }
}

/// An origin whose chain this log holds twice: the one it numbers and entries kept beside it.
public struct ForkedOrigin: Codable, Sendable, Equatable {
    public var origin: String
    /// The lowest place an entry beside the chain takes: the chains part at or before it.
    public var from: UInt64
    public var besideEntries: Int
    public var articles: Int
    /// When the latest of them was stored here.
    public var lastReceived: String

    public init(origin: String, from: UInt64, besideEntries: Int, articles: Int, lastReceived: String) {
        self.origin = origin
        self.from = from
        self.besideEntries = besideEntries
        self.articles = articles
        self.lastReceived = lastReceived
    }

    /// One line for `status`.
    public var text: String {
        "\(origin) signed a second chain from #\(from) (it ran on an older copy of its log): \(besideEntries) entr\(besideEntries == 1 ? "y" : "ies") "
            + "of \(articles) article(s) kept beside the first, last \(lastReceived); both chains' versions are kept, an article both changed is a conflict"
    }
}
