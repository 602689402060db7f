import Foundation
import Metrics
import Store
import SyncProtocol

/// What one ingest pass did.
public struct IngestSummary: Sendable, Equatable {
    public var entries = 0
    public var filesRead = 0
    public var unchanged = 0
    public var heldDeletes = 0
}

extension SiteLog {
    /// Reconciles the whole folder with the log: new, changed and deleted files since the last
    /// look. Unchanged files (same size, times and inode as last read) are not read again.
    ///
    /// `startUp`: also removes newsd's temp files found in the folder. None can be in use before
    /// this process has written anything, so they are what a crash left in the middle of a write.
    @discardableResult
    public func scanAll(startUp: Bool = false) throws -> IngestSummary {
        scanProgress.begin(status: startUp || scanProgress.needsStatus ? status() : nil)
        scanning = true
        defer {
            scanning = false
            scanProgress.end()
        }
        guard (try? FileSystem.stat(settings.watchDir))?.kind == .directory else {
            setFolderState(.missing)
            return IngestSummary()
        }
        let scan = scanner.scan()
        if startUp && !scan.leftovers.isEmpty { try removeLeftovers(scan.leftovers) }
        skipped = Dictionary(scan.skipped.map { ($0.path, $0) }, uniquingKeysWith: { $1 })
        let cached = try log.scanCache()
        var toRead: [ScannedFile] = []
        var summary = IngestSummary()
        var cachedSeen = 0
        for file in scan.files {
            guard let state = cached[file.path] else {
                toRead.append(file)
                continue
            }
            cachedSeen += 1
            if state.matches(size: file.stat.size, mtimeNanos: file.stat.mtimeNanos, ctimeNanos: file.stat.ctimeNanos, inode: file.stat.inode) {
                summary.unchanged += 1
            } else {
                var file = file
                file.recordedInode = state.inode
                toRead.append(file)
            }
        }
        var gone: [(ArticlePath, String)] = []
        // At start-up with every cached file walked again (paths are unique on both sides): no file
        // went, and an article owed to the folder is found by the out-of-step check that follows
        // (or none is owed: see `InStepMark`). The live articles and the files present are not
        // gathered, two sets of 100,000 at a restart.
        if !(startUp && cachedSeen == cached.count) {
            func article(_ path: String, _ state: CachedFile) -> ArticlePath? { try? ArticlePath(state.article(path: path)) }
            let live = try log.liveArticles()
            // Empty while the log has articles the folder held: taken as unmounted. Articles never
            // written here (received while rejoining, before this scan) are owed, not a sign of that.
            if scan.files.isEmpty && cached.contains(where: { article($0.key, $0.value).map(live.contains) == true }) {
                setFolderState(.emptyWhileLogHasArticles(live.count))
                return IngestSummary()
            }
            var pathByArticle: [ArticlePath: String] = [:]
            for (path, state) in cached { if let article = article(path, state) { pathByArticle[article] = path } }
            let present = Set(scan.files.map(\.article))
            // Articles still in the folder under a skipped name (too large, unreadable) are not deleted.
            let skippedArticles = Set(scan.skipped.compactMap { try? ArticlePath($0.path) })
            // A live article whose file is gone is a delete only if the folder held it (it has a base);
            // one never written here (a failed write, a folder that was away) is owed to the folder.
            for article in live where !present.contains(article) && !skippedArticles.contains(article) {
                guard let path = pathByArticle[article] else {
                    // Owed to the folder, unless its name is one newsd never writes.
                    if article.unsafeReason == nil && !scanner.ignore.ignores(path: article.rawValue) { checkoutDue = true }
                    continue
                }
                // A path the ignore rules now cover is no longer watched, not deleted.
                if scanner.ignore.ignores(path: path) { continue }
                gone.append((article, path))
            }
            // Cache rows of files that vanished without a live article (already deleted) are dropped.
            for (path, state) in cached {
                guard let article = article(path, state), !present.contains(article), !live.contains(article) else { continue }
                try log.removeFileState(path: path)
            }
        }
        setFolderState(.ok)

        if restoredFromBackup { toRead = try setAsideStaleCopies(toRead) }
        scanProgress.toRead(toRead.count)
        try log.db.withPageCache(kibibytes: Self.scanCacheKiB) {
            try ingest(reading: toRead, deleting: gone, into: &summary)
        }
        if checkoutDue {
            checkoutDue = false
            try checkoutOutOfStep()
        }
        return summary
    }

    /// After a restore the folder may be older than the log (put back from an older copy): a file
    /// holding an older version of its article is that version, out of step, not an edit; it is
    /// recorded as such and the head written back. Anything else goes on to be read as usual.
    private func setAsideStaleCopies(_ files: [ScannedFile]) throws -> [ScannedFile] {
        var rest: [ScannedFile] = []
        for file in files {
            guard let snapshot = try? FileSystem.readConsistently(scanner.absolute(file.path)) else { rest.append(file); continue }
            let hash = ContentHash.of(snapshot.bytes)
            let heads = try log.heads(of: file.article)
            guard !heads.contains(where: { $0.contentHash == hash }),
                  let older = try log.history(of: file.article).first(where: { $0.operation == .put && $0.contentHash == hash }) else {
                rest.append(file)
                continue
            }
            try log.setFileState(FileState(path: file.path, article: file.article, size: snapshot.stat.size, mtimeNanos: snapshot.stat.mtimeNanos,
                                           ctimeNanos: snapshot.stat.ctimeNanos, inode: snapshot.stat.inode, contentHash: hash, base: older.version))
            checkoutDue = true
        }
        if rest.count < files.count { logger.notice("after the restore: \(files.count - rest.count) file(s) hold older versions of their articles; the newest are written back") }
        return rest
    }

    /// newsd's temp files found at start-up: none is in use before this process writes, so they are
    /// what a crash left mid-write. One whose bytes the log holds is removed; any other (a save the
    /// folder writer moved aside and could not record) is kept and listed, never removed unrecorded.
    private func removeLeftovers(_ leftovers: [String]) throws {
        var removed: [String] = []
        for path in leftovers {
            let full = scanner.absolute(path)
            // Removed only when it is a file whose bytes were read and are in the log; anything
            // else (unreadable, too large, a folder, bytes the log lacks) is kept and listed.
            var kept: String?
            if let st = try? FileSystem.lstat(full), st.kind == .file, st.size <= settings.maximumFileBytes {
                if let snapshot = try? FileSystem.readConsistently(full) {
                    if try !log.hasBlob(.of(snapshot.bytes)) { kept = "holds bytes the log lacks (a save set aside by an interrupted write)" }
                } else {
                    kept = "cannot be read"
                }
            } else {
                kept = "is not a readable file within the size limit"
            }
            if let kept {
                problems["kept \(path)"] = "\(ArticlePath.escape(path)) \(kept); kept: move it to an article name to record it"
                logger.warning("kept \(path): it \(kept)")
                continue
            }
            guard unlink(full) == 0 else { continue }
            removed.append(path)
        }
        if !removed.isEmpty {
            logger.notice("removed \(removed.count) temp file(s) left in the folder by a write that was cut short: \(removed.prefix(5).joined(separator: ", "))")
        }
    }

    /// Takes a debounced batch from the watcher.
    @discardableResult
    public func ingest(_ changes: [FolderChange]) throws -> IngestSummary {
        if changes.contains(.everything) {
            logger.notice("the watcher lost track of the folder (inotify queue overflow, or the folder itself moved); rescanning all of it")
            return try scanAll()
        }
        if folderState != .ok { return try scanAll() }
        var candidates = Set<String>()
        for change in changes {
            switch change {
            case .path(let path): candidates.insert(path)
            case .folder(let folder):
                for file in scanner.scan(folder).files { candidates.insert(file.path) }
                candidates.formUnion(try knownPaths(under: folder))
            case .everything: break
            }
        }
        return try ingest(paths: candidates.sorted())
    }

    /// Re-examines specific paths (relative, as on disk): each becomes a put, a delete, a skip or nothing.
    @discardableResult
    public func ingest(paths: [String]) throws -> IngestSummary {
        var toRead: [ScannedFile] = []
        var gone: [(ArticlePath, String)] = []
        var summary = IngestSummary()
        for path in paths {
            switch scanner.classify(path) {
            case .file(let file):
                skipped.removeValue(forKey: path)
                let state = try log.fileState(path: path)
                if let state, state.matches(
                    size: file.stat.size, mtimeNanos: file.stat.mtimeNanos, ctimeNanos: file.stat.ctimeNanos, inode: file.stat.inode) {
                    summary.unchanged += 1
                } else {
                    var file = file
                    file.recordedInode = state?.inode
                    toRead.append(file)
                }
            case .missing:
                skipped.removeValue(forKey: path)
                guard let article = try? ArticlePath(path) else { continue }
                if try !log.heads(of: article).isEmpty || log.fileState(path: path) != nil {
                    gone.append((article, path))
                }
            case .skipped(let file):
                if skipped[path] == nil { logger.warning("skipped \(file.path): \(file.reason)") }
                skipped[path] = file
            case .folder:
                for var file in scanner.scan(path).files {
                    file.recordedInode = try log.fileState(path: file.path)?.inode
                    toRead.append(file)
                }
            case .ignored:
                break
            }
        }
        try ingest(reading: toRead, deleting: gone, into: &summary)
        return summary
    }

    /// Files on record under a folder: cached file states and live articles. Index range scans,
    /// so a folder event costs what is in that folder, not the whole log.
    private func knownPaths(under folder: String) throws -> [String] {
        try log.knownPaths(under: folder)
    }

    /// Reads and records `toRead`, and records `gone` as deletes unless they are too many at once.
    func ingest(reading toRead: [ScannedFile], deleting gone: [(ArticlePath, String)], into summary: inout IngestSummary) throws {
        var batch: [LocalChange] = []
        var batchBytes = 0
        func flush() throws {
            summary.entries += try record(batch)
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
        }
        let scanner = self.scanner
        let reader = FileReadAhead(files: toRead, maximumFileBytes: settings.maximumFileBytes, absolute: { scanner.absolute($0) })
        defer { reader.cancel() }
        while let (file, outcome) = reader.next() {
            if scanning { scanProgress.readOne() }
            let snapshot: FileSystem.Snapshot, hash: ContentHash, stored: StoredBlob
            switch outcome {
            case .unreadable(let error):
                skipped[file.path] = SkippedFile(path: file.path, reason: "unreadable: \(error)")
                logger.warning("skipped \(file.path): \(error)")
                continue
            case .tooLarge(let count):
                skipped[file.path] = SkippedFile(path: file.path, reason: "\(count) bytes, over the size limit of \(settings.maximumFileBytes)")
                continue
            case .read(let read, let readHash, let readStored):
                (snapshot, hash, stored) = (read, readHash, readStored)
            }
            summary.filesRead += 1
            pendingDeletes.removeValue(forKey: file.article)
            let state = FileState(path: file.path, article: file.article, size: snapshot.stat.size,
                                  mtimeNanos: snapshot.stat.mtimeNanos, ctimeNanos: snapshot.stat.ctimeNanos,
                                  inode: snapshot.stat.inode, contentHash: hash)
            batch.append(LocalChange(article: file.article, kind: .put(bytes: snapshot.bytes, hash: hash, file: state),
                                     author: Self.saver(of: snapshot.stat.owner, inode: snapshot.stat.inode, recordedInode: file.recordedInode),
                                     stored: stored))
            batchBytes += snapshot.bytes.count + stored.data.count
            if batch.count >= (scanning ? Self.scanBatchFiles : Self.batchFiles) || batchBytes >= Self.batchBytes { try flush() }
        }
        let deletes = gone.filter { pendingDeletes[$0.0] == nil }
        let live = log.stats.liveArticles
        // Counted over a sliding window, so a slow `rm -r` spread over many debounce batches is
        // held like a fast one: the deletes recorded in the window count, and so do the articles
        // they removed.
        let now = Self.wallMillis()
        recentDeletes.removeAll { $0.atMillis > now || now - $0.atMillis > settings.massDeleteWindowMillis }
        let recent = recentDeletes.reduce(0) { $0 + $1.count }
        let inWindow = deletes.count + recent
        let massive = !deletes.isEmpty && inWindow >= settings.massDeleteMinimum
            && Double(inWindow + pendingDeletes.count) > settings.massDeleteFraction * Double(live + recent)
        if massive {
            for (article, path) in deletes { pendingDeletes[article] = path }
            pendingReason = "\(pendingDeletes.count) of \(live + recent) live articles disappeared within \(settings.massDeleteWindowMillis / 1000) s; "
                + "held until `newsctl deletes --confirm`, or until the files are back"
            summary.heldDeletes = deletes.count
            logger.warning("holding \(deletes.count) deletes: \(pendingReason ?? "")")
        } else {
            for (article, path) in deletes { batch.append(LocalChange(article: article, kind: .delete(path: path))) }
            if !deletes.isEmpty { recentDeletes.append((now, deletes.count)) }
        }
        try flush()
        if pendingDeletes.isEmpty { pendingReason = nil }
    }

    /// Who saved a file, as far as its owner tells: a file made anew (an editor's temp-and-rename
    /// save, a new article) is owned by whoever made it. A file written in place keeps the owner it
    /// had, whoever wrote into it, so it names no one: its entry has no author rather than a wrong one.
    static func saver(of owner: uid_t, inode: UInt64, recordedInode: UInt64?) -> String? {
        if let recordedInode, recordedInode == inode { return nil }
        return GroupDirectory.accountName(of: owner)
    }

    /// Commits one batch; a full disk is reported and the batch is picked up again by a rescan.
    private func record(_ batch: [LocalChange]) throws -> Int {
        guard !batch.isEmpty else { return 0 }
        var followed = false
        defer { if !followed { folderMayLag = true } }
        do {
            let made = try log.recordLocal(batch, signer: signer, clock: &clock, wallMillis: Self.wallMillis())
            if !scanning { recordIngestLatency(batch) }
            problems.removeValue(forKey: "disk")
            problems.removeValue(forKey: "origins")
            if let last = made.last {
                lastIngest = last
                announceGrowth()
            }
            for entry in made {
                logger.debug("\(entry.operation) \(entry.article) -> \(entry.version.short)")
            }
            // A local change replaces only its file's base: where another head remains and wins
            // (a delete beside a concurrent edit), the folder must show that winner.
            var outvoted = Set<ArticlePath>()
            let superseded = Set(made.flatMap(\.replaces))
            for entry in made where !superseded.contains(entry.version) {
                if try log.winningHead(of: entry.article)?.version != entry.version { outvoted.insert(entry.article) }
            }
            if !outvoted.isEmpty { try checkout(outvoted) }
            followed = true
            return made.count
        } catch let error as SQLiteError where error.isDiskFull {
            problems["disk"] = "disk full: \(batch.count) changes not recorded yet; retried until space is freed"
            logger.error("disk full while recording \(batch.count) changes; will retry")
            throw error
        } catch let error as OriginLimit {
            if problems["origins"] == nil { logger.error("\(error)") }
            problems["origins"] = "\(batch.count) changes not recorded: \(error)"
            throw error
        }
    }

    private func setFolderState(_ state: FolderState) {
        if state == .ok && folderState != .ok { checkoutDue = true }
        if state != folderState {
            if state == .ok { logger.notice("watched folder is back: \(settings.watchDir)") } else {
                logger.error("\(settings.watchDir): \(state.description)")
            }
        }
        folderState = state
    }

    /// Records the held deletes of files that are still gone; the rest are dropped from the hold.
    func confirmPendingDeletes() throws -> Int {
        var batch: [LocalChange] = []
        for (article, path) in pendingDeletes.sorted(by: { $0.key < $1.key }) {
            if case .missing = scanner.classify(path) {
                batch.append(LocalChange(article: article, kind: .delete(path: path)))
            }
        }
        pendingDeletes.removeAll()
        pendingReason = nil
        return try record(batch)
    }
}

extension SiteLog {
    /// From the file's last write to its commit in the log: what an editor waits for, debounce
    /// included. A metric (`newsd_ingest_latency_seconds`), not a log line; full scans are left
    /// out, since a file's age at start-up says nothing of newsd's speed.
    func recordIngestLatency(_ batch: [LocalChange]) {
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
        let timer = Metrics.Timer(label: "newsd_ingest_latency_seconds")
        for change in batch {
            if case .put(_, _, let file) = change.kind, now > file.mtimeNanos, now - file.mtimeNanos < 3_600_000_000_000 {
                timer.recordNanoseconds(now - file.mtimeNanos)
            }
        }
    }
}
