import Foundation
import Store
import SyncProtocol

/// Something that stood in an article's place when the folder writer swapped a version in, and
/// is not in the log yet: bytes that could not be recorded (disk full), or a file that could not be
/// read. Kept on disk under `temp`, listed in `status`, and retried.
struct UnrecordedSave: Sendable {
    var path: String
    var temp: String
    var article: ArticlePath
    var base: VersionID?
    /// Nil until the file could be read.
    var bytes: [UInt8]?
    var why: String
    /// Whose save it was (the file's owner), once read.
    var author: String?
}

/// An article the folder still owes (a failed write, a folder that was away), with its retry schedule.
struct OwedWrite: Sendable {
    var why: String
    var attempts = 0
    var dueMillis: UInt64 = 0
}

extension SiteLog {
    /// At most this many articles, or this many bytes, per folder-writer batch: bounds memory and
    /// open folders, whatever a peer sends or a retry brings back.
    static let checkoutArticles = 512
    static let checkoutBytes = 32 << 20

    /// Makes the folder hold each article's winning head: the site's log decides what the folder
    /// holds, the folder writer how it gets there without losing a save.
    ///
    /// A save the writer finds in an article's place is recorded as a local version (concurrent with
    /// the incoming one) before its bytes leave the folder; the article is then checked out again,
    /// since that save may be the new winner. Failed writes are owed and retried.
    func checkout(_ articles: Set<ArticlePath>) throws {
        guard folderState == .ok else {
            for article in articles where owedWrites[article] == nil { owe(article, "the watched folder is \(folderState.description)") }
            return
        }
        var pending = articles
        var rounds = 0
        while !pending.isEmpty && rounds < 4 {
            rounds += 1
            var next = Set<ArticlePath>()
            let sorted = pending.sorted()
            var index = 0
            while index < sorted.count {
                do {
                    let (consumed, again) = try checkoutBatch(sorted[index...])
                    next.formUnion(again)
                    index += consumed
                } catch {
                    // This batch and the ones after it are owed, not forgotten.
                    for article in sorted[index...] { owe(article, "not written yet: \(error)") }
                    throw error
                }
            }
            pending = next
        }
        // Still changing after four rounds (saves racing every write): retried with the owed writes.
        for article in pending { owe(article, "saves kept landing while it was written") }
    }

    func owe(_ article: ArticlePath, _ why: String) {
        var owed = owedWrites[article] ?? OwedWrite(why: why)
        owed.why = why
        owed.attempts += 1
        // 2 s, 4 s, ... up to a minute between attempts at a write that keeps failing.
        let delay = UInt64(1000) << UInt64(min(owed.attempts, 6))
        owed.dueMillis = Self.wallMillis() + min(delay, 60_000)
        owedWrites[article] = owed
    }

    /// One folder-writer batch from the front of `articles`; returns how many it took and the
    /// articles whose displaced saves were recorded.
    private func checkoutBatch(_ articles: ArraySlice<ArticlePath>) throws -> (consumed: Int, again: Set<ArticlePath>) {
        var changes: [FolderWriter.Change] = []
        var bytesPlanned = 0
        var planned: [String: (article: ArticlePath, winner: LogEntry, state: FileState?)] = [:]
        var consumed = 0
        for article in articles {
            if changes.count >= Self.checkoutArticles || bytesPlanned >= Self.checkoutBytes { break }
            consumed += 1
            guard let winner = try log.winningHead(of: article) else { continue }
            // Stored and relayed, never created here: names with control characters, newsd's own
            // temp names, and names this site's ignore rules cover.
            if let why = article.unsafeReason ?? (scanner.ignore.ignores(path: article.rawValue) ? "is covered by this site's ignore rules" : nil) {
                if unwritableNames.count < 1000 { unwritableNames[article] = "its name \(why)" }
                continue
            }
            let state = try log.fileState(article: article)
            let path = state?.path ?? article.rawValue
            switch winner.operation {
            case .put:
                guard let hash = winner.contentHash else { continue }
                if var state, state.contentHash == hash, fileMatches(state) {
                    // Already there: only the base moves, so the next edit replaces the winner.
                    if state.base != winner.version {
                        state.base = winner.version
                        try log.setFileState(state)
                    }
                    owedWrites.removeValue(forKey: article)
                    unwritableNames.removeValue(forKey: article)
                    continue
                }
                // Stored and relayed, never written here: content over this site's own limit (a
                // peer's article, or a bomb, up to the protocol's 1 GiB) is not decoded into memory.
                guard winner.size <= UInt64(max(settings.maximumFileBytes, 0)) else {
                    if unwritableNames.count < 1000 {
                        unwritableNames[article] = "its content is \(winner.size) bytes, over this site's max_file_bytes (\(settings.maximumFileBytes))"
                    }
                    continue
                }
                guard let bytes = try log.blob(hash) else {
                    owe(article, "the content of \(winner.version.short) is missing from the log; run verify")
                    continue
                }
                changes.append(.write(path: path, bytes: bytes, hash: hash, expected: state?.contentHash))
                unwritableNames.removeValue(forKey: article)
                bytesPlanned += bytes.count
            case .delete:
                unwritableNames.removeValue(forKey: article)
                guard state != nil || fileExists(path) else {
                    owedWrites.removeValue(forKey: article)
                    continue
                }
                changes.append(.remove(path: path, expected: state?.contentHash))
            }
            planned[path] = (article, winner, state)
        }
        guard !changes.isEmpty else { return (consumed, []) }
        let writer = folderWriter()
        let outcome = writer.apply(changes)
        swapScheme = outcome.scheme
        for (path, error) in outcome.failed {
            guard let article = planned[path]?.article else { continue }
            if owedWrites[article] == nil { logger.error("cannot write \(path): \(error); retried") }
            owe(article, "cannot write \(path): \(error)")
        }
        let saves = outcome.displaced.compactMap { displaced -> UnrecordedSave? in
            guard let plan = planned[displaced.path] else { return nil }
            return UnrecordedSave(path: displaced.path, temp: displaced.temp, article: plan.article, base: plan.state?.base,
                                  bytes: displaced.bytes, why: "", author: Self.saver(of: displaced.owner, inode: displaced.inode, recordedInode: plan.state?.inode))
        }
        for (path, temp, why) in outcome.unread {
            guard let plan = planned[path] else { continue }
            keepUnrecorded(UnrecordedSave(path: path, temp: temp, article: plan.article, base: plan.state?.base, bytes: nil,
                                          why: "cannot be read: \(why)"))
        }
        // The saves and the new file states in one transaction: a crash leaves either both or neither.
        let made: [LogEntry]
        do {
            made = try log.recordLocal(saves.compactMap(\.change), signer: signer, clock: &clock, wallMillis: Self.wallMillis()) {
                for (path, stat) in outcome.written {
                    guard let plan = planned[path], let hash = plan.winner.contentHash else { continue }
                    // A file an editor replaced right after the swap keeps its old base: their save is
                    // concurrent with the incoming version, not an edit of it.
                    let base = outcome.replacedAfterSwap.contains(path) ? plan.state?.base : plan.winner.version
                    try log.setFileState(FileState(path: path, article: plan.article, size: stat.size, mtimeNanos: stat.mtimeNanos,
                                                   ctimeNanos: stat.ctimeNanos, inode: stat.inode, contentHash: hash, base: base))
                }
                for path in outcome.removed { try log.removeFileState(path: path) }
            }
        } catch {
            for var save in saves {
                save.why = "could not be recorded: \(error)"
                keepUnrecorded(save)
            }
            throw error
        }
        for path in Array(outcome.written.keys) + outcome.removed {
            if let article = planned[path]?.article { owedWrites.removeValue(forKey: article) }
        }
        for save in saves { writer.discard(save.temp) }
        if !saves.isEmpty {
            logger.notice("kept \(saves.count) save(s) found in place of an incoming version as local versions: \(saves.map(\.path).prefix(5).joined(separator: ", "))")
        }
        if let last = made.last {
            lastIngest = last
            announceGrowth()
        }
        logger.debug("folder follows the log: \(outcome.written.count) written, \(outcome.removed.count) removed")
        return (consumed, Set(saves.map(\.article)))
    }

    /// A displaced save not in the log yet stays on disk, listed, until `retryOwedWrites` records it.
    private func keepUnrecorded(_ save: UnrecordedSave) {
        logger.error("what stood in place of \(save.path) when an incoming version was written \(save.why); it is kept in \(save.temp) and retried")
        unrecordedSaves[save.temp] = save
    }

    /// Retries what the folder still owes: displaced saves not yet recorded, and failed writes whose
    /// next attempt is due (`all`: every one, as after a folder event that may have removed the
    /// cause). Called on a timer and after folder events.
    public func retryOwedWrites(all: Bool = false) throws {
        guard folderState == .ok else { return }
        if !unrecordedSaves.isEmpty {
            let writer = folderWriter()
            var ready: [UnrecordedSave] = []
            for var save in unrecordedSaves.values {
                if save.bytes == nil {
                    switch writer.readKept(save.temp) {
                    case .bytes(let bytes): save.bytes = bytes
                    case .notYet(let why): save.why = "cannot be read yet: \(why)"; unrecordedSaves[save.temp] = save; continue
                    case .gone(let why):
                        logger.warning("a kept file \(save.temp) (what stood in place of \(save.path)) is no longer there to record: \(why)")
                        unrecordedSaves.removeValue(forKey: save.temp)
                        continue
                    }
                }
                ready.append(save)
            }
            if !ready.isEmpty {
                do {
                    let made = try log.recordLocal(ready.compactMap(\.change), signer: signer, clock: &clock, wallMillis: Self.wallMillis())
                    for save in ready {
                        writer.discard(save.temp)
                        unrecordedSaves.removeValue(forKey: save.temp)
                        if owedWrites[save.article] == nil { owedWrites[save.article] = OwedWrite(why: "a kept save was recorded") }
                    }
                    if !made.isEmpty { announceGrowth() }
                } catch {
                    // Kept for the next try; the owed writes below still go ahead.
                    logger.error("recording \(ready.count) kept save(s) failed, retried: \(error)")
                }
            }
        }
        let now = Self.wallMillis()
        let due = owedWrites.filter { all || $0.value.dueMillis <= now }.keys
        guard !due.isEmpty else { return }
        try checkout(Set(due))
    }

    /// After start-up, a crash between a log commit and the folder writes, or the folder coming
    /// back: bring every article whose file is out of step with its head back in step.
    public func checkoutOutOfStep() throws {
        guard folderState == .ok else { return }
        try checkout(Set(try log.articlesOutOfStep()))
        folderMayLag = false
    }

    /// Puts `bytes` (nil: removes the file) in the article's place through the folder writer and
    /// records it as a local change replacing `resolves`, or the file's base when nil. A save the
    /// writer finds in its place is recorded first, and replaced too: it is in the log, and the
    /// operator asked for this version.
    func writeAndRecord(_ article: ArticlePath, bytes: [UInt8]?, resolves: [VersionID]?, author: String?) throws -> LogEntry? {
        guard folderState == .ok else { throw ControlFailure(.unavailable, "the watched folder is \(folderState.description)") }
        if let rejoin, rejoin.isRejoining {
            throw ControlFailure(.unavailable, "newsd is rejoining its peers (\(rejoin.progress.summary)); nothing local is recorded until it has")
        }
        let state = try log.fileState(article: article)
        let path = state?.path ?? article.rawValue
        let hash = bytes.map(ContentHash.of)
        let change: FolderWriter.Change = if let bytes, let hash {
            .write(path: path, bytes: bytes, hash: hash, expected: state?.contentHash)
        } else {
            .remove(path: path, expected: state?.contentHash)
        }
        let writer = folderWriter()
        let outcome = writer.apply([change])
        swapScheme = outcome.scheme
        for (path, temp, why) in outcome.unread {
            keepUnrecorded(UnrecordedSave(path: path, temp: temp, article: article, base: state?.base, bytes: nil, why: "cannot be read: \(why)"))
        }
        var replacing = resolves
        if !outcome.displaced.isEmpty {
            let saves = outcome.displaced.map {
                UnrecordedSave(path: $0.path, temp: $0.temp, article: article, base: state?.base, bytes: $0.bytes, why: "",
                               author: Self.saver(of: $0.owner, inode: $0.inode, recordedInode: state?.inode))
            }
            let made: [LogEntry]
            do { made = try log.recordLocal(saves.compactMap(\.change), signer: signer, clock: &clock, wallMillis: Self.wallMillis()) } catch {
                for var save in saves {
                    save.why = "could not be recorded: \(error)"
                    keepUnrecorded(save)
                }
                throw error
            }
            for save in saves { writer.discard(save.temp) }
            if !made.isEmpty { replacing = (replacing ?? state?.base.map { [$0] } ?? []) + made.map(\.version) }
        }
        if let (_, error) = outcome.failed.first { throw ControlFailure(.unavailable, "cannot write \(path): \(error)") }
        let local: LocalChange
        if let bytes, let hash {
            guard let stat = outcome.written[path] else { throw ControlFailure(.internal, "\(path) was not written") }
            local = LocalChange(article: article, kind: .put(bytes: bytes, hash: hash, file: FileState(
                path: path, article: article, size: stat.size, mtimeNanos: stat.mtimeNanos, ctimeNanos: stat.ctimeNanos,
                inode: stat.inode, contentHash: hash)), resolves: replacing, author: author)
        } else {
            local = LocalChange(article: article, kind: .delete(path: path), resolves: replacing, author: author)
        }
        let made = try log.recordLocal([local], signer: signer, clock: &clock, wallMillis: Self.wallMillis())
        if let last = made.last {
            lastIngest = last
            announceGrowth()
        }
        owedWrites.removeValue(forKey: article)
        // A resolve of more heads than one entry may replace is a chain: its last entry is the version.
        return made.last
    }

    func folderWriter() -> FolderWriter {
        FolderWriter(root: settings.watchDir, maximumFileBytes: settings.maximumFileBytes, ownership: settings.ownership, beforeSwap: beforeSwap)
    }

    func fileExists(_ path: String) -> Bool { (try? FileSystem.lstat(scanner.absolute(path))) != nil }

    /// The file is still what newsd last saw there (size, times, inode).
    func fileMatches(_ state: FileState) -> Bool {
        guard let st = try? FileSystem.lstat(scanner.absolute(state.path)), st.kind == .file else { return false }
        return state.matches(size: st.size, mtimeNanos: st.mtimeNanos, ctimeNanos: st.ctimeNanos, inode: st.inode)
    }
}

extension UnrecordedSave {
    /// The local version these bytes make, once read.
    var change: LocalChange? {
        guard let bytes else { return nil }
        return LocalChange(article: article, kind: .displaced(bytes: bytes, hash: ContentHash.of(bytes), base: base), author: author)
    }
}
