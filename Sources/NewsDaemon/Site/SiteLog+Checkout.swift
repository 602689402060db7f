import Foundation
import Store
import SyncProtocol

/// Bytes that stood in an article's place when the folder writer swapped a version in, and that
/// could not be recorded yet (disk full): kept on disk under `temp` and retried.
struct UnrecordedSave: Sendable {
    var displaced: FolderWriter.Displaced
    var article: ArticlePath
    var base: VersionID?
}

extension SiteLog {
    /// Makes the folder hold each article's winning head: the site's log decides what the folder
    /// holds, the folder writer how it gets there without losing a save.
    ///
    /// A save the writer finds in an article's place is recorded as a local version (concurrent with
    /// the incoming one) before its bytes leave the folder; the article is then checked out again,
    /// since that save may be the new winner. Failed writes are owed and retried.
    func checkout(_ articles: Set<ArticlePath>) throws {
        guard folderState == .ok else {
            for article in articles { owedWrites[article] = owedWrites[article] ?? "the watched folder is \(folderState.description)" }
            return
        }
        var pending = articles
        var rounds = 0
        while !pending.isEmpty && rounds < 4 {
            rounds += 1
            pending = try checkoutOnce(pending)
        }
    }

    /// One pass; returns the articles whose displaced saves were recorded.
    private func checkoutOnce(_ articles: Set<ArticlePath>) throws -> Set<ArticlePath> {
        var changes: [FolderWriter.Change] = []
        var planned: [String: (article: ArticlePath, winner: LogEntry, state: FileState?)] = [:]
        for article in articles.sorted() {
            guard let winner = try log.winningHead(of: article) else { continue }
            let state = try log.fileState(article: article)
            let path = state?.path ?? article.rawValue
            switch winner.operation {
            case .put:
                guard let hash = winner.contentHash else { continue }
                if var state, state.contentHash == hash, fileExists(path) {
                    // Already there: only the base moves, so the next edit replaces the winner.
                    if state.base != winner.version {
                        state.base = winner.version
                        try log.setFileState(state)
                    }
                    owedWrites.removeValue(forKey: article)
                    continue
                }
                guard let bytes = try log.blob(hash) else {
                    owedWrites[article] = "the content of \(winner.version.short) is missing from the log; run verify"
                    continue
                }
                changes.append(.write(path: path, bytes: bytes, hash: hash, expected: state?.contentHash))
            case .delete:
                guard state != nil || fileExists(path) else {
                    owedWrites.removeValue(forKey: article)
                    continue
                }
                changes.append(.remove(path: path, expected: state?.contentHash))
            }
            planned[path] = (article, winner, state)
        }
        guard !changes.isEmpty else { return [] }
        let writer = folderWriter()
        let outcome = writer.apply(changes)
        swapScheme = outcome.scheme
        for (path, error) in outcome.failed {
            guard let article = planned[path]?.article else { continue }
            if owedWrites[article] == nil { logger.error("cannot write \(path): \(error); retried") }
            owedWrites[article] = "cannot write \(path): \(error)"
        }
        let saves = outcome.displaced.compactMap { displaced -> UnrecordedSave? in
            guard let plan = planned[displaced.path] else { return nil }
            return UnrecordedSave(displaced: displaced, article: plan.article, base: plan.state?.base)
        }
        // The saves and the new file states in one transaction: a crash leaves either both or neither.
        let made: [LogEntry]
        do {
            made = try log.recordLocal(saves.map(\.change), signer: key, clock: &clock, wallMillis: Self.wallMillis()) {
                for (path, stat) in outcome.written {
                    guard let plan = planned[path], let hash = plan.winner.contentHash else { continue }
                    try log.setFileState(FileState(path: path, article: plan.article, size: stat.size, mtimeNanos: stat.mtimeNanos,
                                                   ctimeNanos: stat.ctimeNanos, inode: stat.inode, contentHash: hash, base: plan.winner.version))
                }
                for path in outcome.removed { try log.removeFileState(path: path) }
            }
        } catch {
            for save in saves { keepUnrecorded(save, error: error) }
            throw error
        }
        for path in Array(outcome.written.keys) + outcome.removed {
            if let article = planned[path]?.article { owedWrites.removeValue(forKey: article) }
        }
        for save in saves { writer.discard(save.displaced) }
        if !saves.isEmpty {
            logger.notice("kept \(saves.count) save(s) found in place of an incoming version as local versions: \(saves.map(\.displaced.path).prefix(5).joined(separator: ", "))")
        }
        if let last = made.last {
            lastIngest = last
            announceGrowth()
        }
        logger.debug("folder follows the log: \(outcome.written.count) written, \(outcome.removed.count) removed")
        return Set(saves.map(\.article))
    }

    /// A displaced save that could not be recorded stays on disk, listed, until `retryOwedWrites`.
    private func keepUnrecorded(_ save: UnrecordedSave, error: Error) {
        logger.error("a save of \(save.displaced.path) found in place of an incoming version could not be recorded (\(error)); its bytes are kept in \(save.displaced.temp) and recording is retried")
        unrecordedSaves[save.displaced.temp] = save
    }

    /// Retries what the folder still owes: failed writes, and displaced saves not yet recorded.
    /// Called on a timer and after folder events.
    public func retryOwedWrites() throws {
        guard folderState == .ok else { return }
        if !unrecordedSaves.isEmpty {
            let saves = Array(unrecordedSaves.values)
            let made = try log.recordLocal(saves.map(\.change), signer: key, clock: &clock, wallMillis: Self.wallMillis())
            let writer = folderWriter()
            for save in saves {
                writer.discard(save.displaced)
                unrecordedSaves.removeValue(forKey: save.displaced.temp)
            }
            if !made.isEmpty { announceGrowth() }
            owedWrites.merge(saves.map { ($0.article, "a kept save awaits its turn in the folder") }, uniquingKeysWith: { old, _ in old })
        }
        guard !owedWrites.isEmpty else { return }
        try checkout(Set(owedWrites.keys))
    }

    /// After start-up, a crash between a log commit and the folder writes, or the folder coming
    /// back: bring every article whose file is out of step with its head back in step.
    public func checkoutOutOfStep() throws {
        guard folderState == .ok else { return }
        try checkout(Set(try log.articlesOutOfStep()))
    }

    /// Puts `bytes` (nil: removes the file) in the article's place through the folder writer and
    /// records it as a local change replacing `resolves`, or the file's base when nil. A save the
    /// writer finds in its place is recorded first, and replaced too: it is in the log, and the
    /// operator asked for this version.
    func writeAndRecord(_ article: ArticlePath, bytes: [UInt8]?, resolves: [VersionID]?) throws -> LogEntry? {
        guard folderState == .ok else { throw ControlFailure(.unavailable, "the watched folder is \(folderState.description)") }
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
        var replacing = resolves
        if !outcome.displaced.isEmpty {
            let saves = outcome.displaced.map { UnrecordedSave(displaced: $0, article: article, base: state?.base) }
            let made: [LogEntry]
            do { made = try log.recordLocal(saves.map(\.change), signer: key, clock: &clock, wallMillis: Self.wallMillis()) } catch {
                for save in saves { keepUnrecorded(save, error: error) }
                throw error
            }
            for save in saves { writer.discard(save.displaced) }
            if !made.isEmpty { replacing = (replacing ?? state?.base.map { [$0] } ?? []) + made.map(\.version) }
        }
        if let (_, error) = outcome.failed.first { throw ControlFailure(.unavailable, "cannot write \(path): \(error)") }
        let local: LocalChange
        if let bytes, let hash {
            guard let stat = outcome.written[path] else { throw ControlFailure(.internal, "\(path) was not written") }
            local = LocalChange(article: article, kind: .put(bytes: bytes, hash: hash, file: FileState(
                path: path, article: article, size: stat.size, mtimeNanos: stat.mtimeNanos, ctimeNanos: stat.ctimeNanos,
                inode: stat.inode, contentHash: hash)), resolves: replacing)
        } else {
            local = LocalChange(article: article, kind: .delete(path: path), resolves: replacing)
        }
        let made = try log.recordLocal([local], signer: key, clock: &clock, wallMillis: Self.wallMillis())
        if let last = made.last {
            lastIngest = last
            announceGrowth()
        }
        owedWrites.removeValue(forKey: article)
        return made.first
    }

    func folderWriter() -> FolderWriter { FolderWriter(root: settings.watchDir, beforeSwap: beforeSwap) }

    func fileExists(_ path: String) -> Bool { (try? FileSystem.lstat(scanner.absolute(path))) != nil }
}

extension UnrecordedSave {
    var change: LocalChange {
        LocalChange(article: article, kind: .displaced(bytes: displaced.bytes, hash: displaced.hash, base: base))
    }
}
