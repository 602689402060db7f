import Foundation
import Logging
import NIOCore
import NIOPosix
import Store
import SyncProtocol

/// One site's log and folder, with everything that changes either: ingest of local changes,
/// restores, held deletes, and the counts `status` shows. An actor, so the SQLite connection
/// inside is only ever used by one task at a time.
public actor SiteLog {
    let log: ArticleLog
    public let key: SiteKey
    /// The key local entries are signed with: the site key, or the author key a restored site made
    /// when it could not catch up with every peer (then its entries are a new origin's, and no
    /// entry it signs can fork the chain its peers hold).
    public internal(set) var signer: SiteKey
    var clock: HybridLogicalClock
    public private(set) var settings: SiteSettings
    var scanner: FolderScanner
    let logger: Logger
    let startedAt = ContinuousClock.now

    /// Files passed over, by path, each with why.
    var skipped: [String: SkippedFile] = [:]
    /// Deletes held for an operator: article -> on-disk path.
    var pendingDeletes: [ArticlePath: String] = [:]
    var pendingReason: String?
    /// Deletes recorded within the mass-delete window: when, and how many.
    var recentDeletes: [(atMillis: UInt64, count: Int)] = []
    public internal(set) var folderState: FolderState = .ok
    /// Problems an operator must see (disk full, unreadable folder), by kind.
    var problems: [String: String] = [:]
    var lastIngest: LogEntry?
    var isReady = false
    var growthListeners: [UUID: AsyncStream<Int64>.Continuation] = [:]
    var rescanRequested = false
    var scanning = false
    /// How far a scan of the whole folder is, for the STATUS= line and the terminal meanwhile.
    public nonisolated let scanProgress = ScanProgress()
    /// Articles whose folder copy is not their winner because a write failed (or the folder was
    /// away), with why; retried on a timer and after folder events, listed in `status`.
    var owedWrites: [ArticlePath: OwedWrite] = [:]
    /// Displaced saves not yet recorded (disk full), by temp path: kept on disk, retried.
    var unrecordedSaves: [String: UnrecordedSave] = [:]
    /// Sites whose entries carry times past `max_clock_skew` ahead of this site's clock (at most
    /// 100 kept).
    var clockAhead: [SiteID: ClockAhead] = [:]
    /// How the folder writer last swapped a version in.
    var swapScheme: FolderWriter.Scheme = .exchange
    /// Set when the folder comes back from missing or empty: every article out of step is written.
    var checkoutDue = false
    /// Articles in the log that are never written to the folder (their names, or content over
    /// `max_file_bytes`), with why (at most 1,000 kept, so a peer sending many cannot grow this
    /// without bound).
    var unwritableNames: [ArticlePath: String] = [:]
    /// Entries of revoked sites held aside since start, by site (only sites in `revoked`).
    var revokedRefused: [SiteID: Int] = [:]
    /// Origins whose second chain was logged since start (once each), and those whose entries of
    /// another chain were passed over for want of their earlier entries.
    var forksLogged = Set<SiteID>()
    var unlinkedLogged = Set<SiteID>()
    var overLimitLogged = Set<SiteID>()
    /// This site found a second chain of its own and signs anew since (`status` says why).
    var forkedOwnChain = false
    /// Rows changed as of the last idle check, for `checkpointIfIdle`.
    var changesAtLastCheck: Int64 = -1
    /// The web view's list of articles, built at first use (or at start with the web view on).
    var articleIndex = ArticleIndex()
    /// The last blames answered (see `blame`).
    var blameAnswers: [BlameRequest.Response] = []
    /// Verifications of the whole log since start, and those that found problems (for the metrics).
    var verifyRuns: UInt64 = 0
    var verifyFailures: UInt64 = 0
    /// Test seam: called just before each article is swapped in or moved aside.
    var beforeSwap: (@Sendable (String) -> Void)?
    /// The start-up catch-up with peers: while it runs, nothing local is recorded and entries from
    /// peers go to the log only (the folder follows after the start-up scan).
    public nonisolated let rejoin: Rejoin?
    /// The data folder was put back from a backup (`newsd restore-backup`) and this is the first
    /// start since: a file missing from the folder is owed to it, not deleted.
    var restoredFromBackup = false
    /// The watched folder's marker says this site's own chain reached further than its log does:
    /// the data folder was put back from an older copy by hand. Treated as a restore.
    var logBehindMarker = false
    /// An append whose folder writes did not all run (an error between the commit and the checkout,
    /// entries stored while rejoining): cleared by the next out-of-step check; no in-step mark meanwhile.
    var folderMayLag = false
    /// The last stop's in-step mark, if it matched the log at open, and the log's head moves then.
    var inStepAtStart: (mark: InStepMark, headMoves: Int)?
    /// The sequence last written to the watched folder's marker.
    var markedSequence: (origin: SiteID, sequence: UInt64)?

    /// The log's own thread, apart from the network's event loops and Swift's shared pool (two
    /// threads on a two-core server): its SQLite work, `fsync` and `syncfs` block for as long as the
    /// disk takes, and must hold up neither sessions' reads and writes nor other tasks.
    nonisolated let storeThread = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    nonisolated var storeLoop: any EventLoop { storeThread.next() }
    public nonisolated var unownedExecutor: UnownedSerialExecutor { storeLoop.executor.asUnownedSerialExecutor() }

    deinit { storeThread.shutdownGracefully { _ in } }

    /// Transactions are cut at this many files or bytes, so memory stays bounded and progress is
    /// durable. A scan of the whole folder takes larger batches: each commit rewrites the index
    /// pages its inserts touched, and at 100,000 articles 512 random hashes touch ~500 pages of
    /// each hash-keyed index, nearly one page per file.
    static let batchFiles = 512
    static let scanBatchFiles = 2048
    static let batchBytes = 32 << 20
    /// The page cache during a scan of the whole folder (see `Database.withPageCache`): holds the
    /// hash-keyed indexes of 100,000 articles.
    static let scanCacheKiB = 16 << 10

    /// Unwatched folders and the disk heartbeat, shared with the watcher and the health check.
    public nonisolated let health: SiteHealth

    public init(log: ArticleLog, key: SiteKey, settings: SiteSettings, logger: Logger, rejoin: Rejoin? = nil,
                health: SiteHealth = SiteHealth(), signer: SiteKey? = nil) {
        self.rejoin = rejoin
        self.signer = signer ?? key
        self.health = health
        self.log = log
        self.key = key
        self.settings = settings
        self.logger = logger
        // Start after everything seen, except times past the allowed skew: a peer's entry stamped
        // in 2200 is stored, and must not become this site's clock at the next start (nor drag it
        // to the edge of the skew). This site's own entries always count.
        let own = [key.siteID, (signer ?? key).siteID].compactMap { try? log.latestTime(of: $0) }.max() ?? HybridTimestamp(rawValue: 0)
        let limit = HybridTimestamp(milliseconds: Self.wallMillis() &+ settings.maximumClockSkewMillis, counter: .max)
        clock = HybridLogicalClock(last: max(own, (try? log.latestTime(notAfter: limit)) ?? own))
        scanner = FolderScanner(root: settings.watchDir, ignore: settings.ignore, maximumFileBytes: settings.maximumFileBytes)
    }

    /// Applies a reloaded config. The watched folder is not among what changes: the watcher, the
    /// scanner and the writer move together only at a restart (the reload says so), never half.
    public func update(_ new: SiteSettings) {
        var next = new
        next.watchDir = settings.watchDir
        next.dataDir = settings.dataDir
        settings = next
        scanner = FolderScanner(root: next.watchDir, ignore: next.ignore, maximumFileBytes: next.maximumFileBytes)
        // New ignore rules may make names writable (or not): look again at the next scan.
        unwritableNames.removeAll()
        checkoutDue = true
    }

    /// Test seam: see `beforeSwap`.
    func setBeforeSwap(_ hook: (@Sendable (String) -> Void)?) { beforeSwap = hook }

    public var stats: ArticleLog.Stats { log.stats }
    public var hasProblems: Bool {
        !problems.isEmpty || folderState != .ok || !owedWrites.isEmpty || !unrecordedSaves.isEmpty || !health.problems.isEmpty
    }

    /// Whether saves are held because the disk is full.
    public var isDiskFull: Bool { problems["disk"] != nil }

    static func wallMillis() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }
}

/// How far ahead of this site's clock a site's entries were stamped, and when that was last seen.
struct ClockAhead: Sendable {
    var millis: UInt64
    var seenAtMillis: UInt64
}

extension SiteLog {
    /// Set once the start-up reconcile is done; `status` reports it.
    public func markReady() { isReady = true }

    /// Asks for a full rescan at the next retry tick (after a failed ingest).
    public func requestRescan() { rescanRequested = true }

    /// True while a full rescan is owed: an ingest failed, the folder is gone or looks unmounted,
    /// or the disk was full.
    public func takeRescanDue() -> Bool {
        if rescanRequested || folderState != .ok || problems["disk"] != nil || checkoutDue {
            rescanRequested = false
            return true
        }
        return false
    }
}

extension SiteLog {
    /// Bytes in the log's write-ahead log now.
    public var walBytes: Int64 { (try? FileSystem.lstat(log.path + "-wal"))?.size ?? 0 }

    /// Truncates the WAL when nothing was written since the last call (a few seconds of quiet):
    /// SQLite's automatic checkpoints keep it near 4 MB while busy, this returns it to zero.
    public func checkpointIfIdle() {
        let changes = log.db.totalChanges
        defer { changesAtLastCheck = changes }
        guard changes == changesAtLastCheck, walBytes > 0 else { return }
        do {
            if try !log.db.checkpoint() { logger.debug("checkpoint of the log deferred: another reader holds a snapshot") }
        } catch {
            logger.warning("checkpoint of the log failed, retried: \(error)")
        }
    }
}

extension SiteLog {
    /// Takes the config's revoked sites: a newly revoked site is held at what this log has of it now.
    public func revoke(_ sites: [SiteID]) throws {
        let before = log.revokedAt
        try log.revoke(Set(sites), wallMillis: Self.wallMillis())
        for (site, held) in log.revokedAt where before[site] == nil {
            logger.notice("site \(site) is revoked: its \(held) entries held so far stay versions; later ones are stored but held aside")
        }
        for site in before.keys where log.revokedAt[site] == nil {
            logger.notice("site \(site) is no longer revoked: its entries held aside are versions again")
            revokedRefused.removeValue(forKey: site)
            // Heads moved with no folder write: the folder follows at the next rescan, and no stop
            // may say it is in step before then.
            folderMayLag = true
            checkoutDue = true
        }
    }

    /// Revoked sites with the entries of theirs the log keeps, for `status`, `verify` and `peers --revoked`.
    public func revocations() -> [RevokedSite] {
        log.revokedAt.sorted { $0.key < $1.key }.map { site, held in
            RevokedSite(id: site.description, keptThroughSequence: held, refused: revokedRefused[site] ?? 0)
        }
    }
}
