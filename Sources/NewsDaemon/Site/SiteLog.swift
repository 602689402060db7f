import Foundation
import Logging
import Store
import SyncProtocol

/// One site's log and folder, with everything that changes either: ingest of local changes,
/// restores, held deletes, and the counts `status` shows. An actor, so the SQLite connection
/// inside is only ever used by one task at a time.
public actor SiteLog {
    let log: ArticleLog
    public let key: SiteKey
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
    public internal(set) var folderState: FolderState = .ok
    /// Problems an operator must see (disk full, unreadable folder), by kind.
    var problems: [String: String] = [:]
    var lastIngest: LogEntry?
    var isReady = false
    var growthListeners: [UUID: AsyncStream<Int64>.Continuation] = [:]
    var rescanRequested = false
    var scanning = false

    /// Transactions are cut at this many files or bytes during a large scan, so memory stays bounded
    /// and progress is durable.
    static let batchFiles = 512
    static let batchBytes = 32 << 20

    public init(log: ArticleLog, key: SiteKey, settings: SiteSettings, logger: Logger) {
        self.log = log
        self.key = key
        self.settings = settings
        self.logger = logger
        clock = HybridLogicalClock(last: log.stats.maxTime)
        scanner = FolderScanner(root: settings.watchDir, ignore: settings.ignore, maximumFileBytes: settings.maximumFileBytes)
    }

    public func update(_ new: SiteSettings) {
        settings = new
        scanner = FolderScanner(root: new.watchDir, ignore: new.ignore, maximumFileBytes: new.maximumFileBytes)
    }

    public var stats: ArticleLog.Stats { log.stats }
    public var hasProblems: Bool { !problems.isEmpty || folderState != .ok }

    static func wallMillis() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }
}

extension SiteLog {
    /// Set once the start-up reconcile is done; `status` reports it.
    public func markReady() { isReady = true }

    /// Asks for a full rescan at the next retry tick (after a failed ingest).
    public func requestRescan() { rescanRequested = true }

    /// True while a full rescan is owed: an ingest failed, the folder is gone or looks unmounted,
    /// or the disk was full.
    public func takeRescanDue() -> Bool {
        if rescanRequested || folderState != .ok || problems["disk"] != nil {
            rescanRequested = false
            return true
        }
        return false
    }
}
