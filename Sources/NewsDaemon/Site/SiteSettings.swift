import SyncProtocol

/// The settings of one site that ingest and status read; replaced as a whole on reload.
public struct SiteSettings: Sendable, Equatable {
    public var siteName: String
    public var watchDir: String
    public var dataDir: String
    public var maximumFileBytes: Int64
    public var ignore: IgnoreRules
    /// Deletes in one batch over this share of live articles (and at least `massDeleteMinimum`) are held.
    public var massDeleteFraction: Double
    public var massDeleteMinimum: Int
    /// Deletes are counted over this sliding window for the mass-delete guard.
    public var massDeleteWindowMillis: UInt64
    /// A remote entry stamped further than this ahead of the wall clock is stored but its time is
    /// not observed into the local clock.
    public var maximumClockSkewMillis: UInt64
    /// Group and modes of the files and folders written into the watched folder.
    public var ownership: FileOwnership

    public init(
        siteName: String, watchDir: String, dataDir: String, maximumFileBytes: Int64 = 64 << 20,
        ignore: IgnoreRules = IgnoreRules(), massDeleteFraction: Double = 0.5, massDeleteMinimum: Int = 10,
        maximumClockSkewMillis: UInt64 = 10 * 60 * 1000, massDeleteWindowMillis: UInt64 = 60_000,
        ownership: FileOwnership = FileOwnership()
    ) {
        self.ownership = ownership
        self.massDeleteWindowMillis = massDeleteWindowMillis
        self.maximumClockSkewMillis = maximumClockSkewMillis
        self.siteName = siteName
        self.watchDir = watchDir
        self.dataDir = dataDir
        self.maximumFileBytes = maximumFileBytes
        self.ignore = ignore
        self.massDeleteFraction = massDeleteFraction
        self.massDeleteMinimum = massDeleteMinimum
    }
}

/// Whether the folder on disk is being taken as the truth right now.
public enum FolderState: Sendable, Equatable {
    case ok
    /// The watched folder does not exist (unmounted share, wrong path): nothing is recorded.
    case missing
    /// The folder is empty but the log holds live articles: taken as unmounted, not as deletes.
    case emptyWhileLogHasArticles(Int)

    public var description: String {
        switch self {
        case .ok: "ok"
        case .missing: "missing: the watched folder does not exist; no deletes are recorded until it is back"
        case .emptyWhileLogHasArticles(let n):
            "empty: the watched folder holds no files but the log has \(n) live articles; taken as unmounted, no deletes recorded"
        }
    }
}
