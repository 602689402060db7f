import Foundation
import Store
import SyncProtocol

extension SiteLog {
    /// A stream that yields whenever the log grows (local ingest or entries from a peer), so
    /// peer sessions push new entries at once. Only the latest position is kept per listener.
    public func logGrowth() -> AsyncStream<Int64> {
        let (stream, continuation) = AsyncStream.makeStream(of: Int64.self, bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        growthListeners[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.removeGrowthListener(id) }
        }
        return stream
    }

    func removeGrowthListener(_ id: UUID) { growthListeners.removeValue(forKey: id) }

    func announceGrowth() {
        let position = log.stats.lastLocalSeq
        for listener in growthListeners.values { listener.yield(position) }
    }

    public func versionVector() -> VersionVector { log.versionVector() }

    /// Articles touched by entries this site holds beyond `vector`.
    public func articlesAhead(of vector: VersionVector) throws -> [String] {
        let positions = try log.missingPositions(for: vector)
        var articles = Set<String>()
        var index = 0
        while index < positions.count {
            for (_, entry) in try log.entries(at: positions[index..<min(index + 512, positions.count)]) { articles.insert(entry.article.rawValue) }
            index += 512
        }
        return articles.sorted()
    }

    /// What a peer with `vector` lacks, as arrival positions, and the last position now: later
    /// entries are pushed live from there.
    public func backlog(for vector: VersionVector) throws -> (positions: [Int64], through: Int64) {
        (try log.missingPositions(for: vector), log.stats.lastLocalSeq)
    }

    public func entries(at positions: ArraySlice<Int64>) throws -> [(Int64, LogEntry)] { try log.entries(at: positions) }
    public func entries(after position: Int64, limit: Int) throws -> [(Int64, LogEntry)] { try log.entries(after: position, limit: limit) }
    public func storedBlob(_ hash: ContentHash) throws -> StoredBlob? { try log.storedBlob(hash) }
    public func blobContent(_ hash: ContentHash) throws -> [UInt8]? { try log.blob(hash) }
    public func plan(contentOf entry: LogEntry, for peer: VersionVector, deltas: Bool) throws -> BlobPlan? {
        try log.plan(contentOf: entry, for: peer, deltas: deltas)
    }
    public func publicKey(of site: SiteID) throws -> SiteKey.Public? { try log.publicKey(of: site) }

    public func report(peersConnected: Int, peersConfigured: Int) -> PeerReport {
        PeerReport(articles: UInt64(log.stats.liveArticles), logEntries: UInt64(log.stats.entries),
                   peersConnected: UInt16(clamping: peersConnected), peersConfigured: UInt16(clamping: peersConfigured))
    }

    /// Stores a batch of checked entries from a peer and makes the folder follow.
    ///
    /// Local edits to the same articles that are on disk but not yet in the log are ingested
    /// first, so an edit racing an incoming version becomes a conflict instead of being
    /// overwritten.
    public func applyRemote(_ entries: [LogEntry], blobs: [ContentHash: StoredBlob], keys: [SiteID: SiteKey.Public]) throws -> RemoteAppend {
        let articles = Set(entries.map(\.article))
        if folderState == .ok {
            var paths: [String] = []
            for article in articles { paths.append(try log.fileState(article: article)?.path ?? article.rawValue) }
            try ingest(paths: paths.sorted())
        }
        let result = try log.appendRemote(entries, blobs: blobs, keys: keys, wallMillis: Self.wallMillis())
        for entry in result.stored { clock.observe(entry.time) }
        if !result.stored.isEmpty {
            try checkout(Set(result.stored.map(\.article)))
            announceGrowth()
        }
        return result
    }

    /// Makes the folder hold each article's winning head: writes or removes files, in one
    /// durable batch, and records what it wrote so the watcher does not take it as an edit.
    func checkout(_ articles: Set<ArticlePath>) throws {
        guard folderState == .ok, !articles.isEmpty else { return }
        var changes: [FolderWriter.Change] = []
        var wanted: [String: (ArticlePath, ContentHash?)] = [:]
        // What newsd last saw of each file; the write below is only made over a file still like this.
        var cached: [String: FileState] = [:]
        for article in articles.sorted() {
            guard let winner = try log.winningHead(of: article) else { continue }
            let state = try log.fileState(article: article)
            let path = state?.path ?? article.rawValue
            cached[path] = state
            switch winner.operation {
            case .put:
                guard let hash = winner.contentHash, state?.contentHash != hash || !fileExists(path) else { continue }
                guard let bytes = try log.blob(hash) else { continue }
                changes.append(.write(path: path, bytes: bytes))
                wanted[path] = (article, hash)
            case .delete:
                guard state != nil || fileExists(path) else { continue }
                changes.append(.remove(path: path))
                wanted[path] = (article, nil)
            }
        }
        guard !changes.isEmpty else { return }
        let root = settings.watchDir
        let (done, failed) = FolderWriter(root: root).apply(changes) { path in
            // Ours to replace only if it is still what newsd last saw (or absent).
            guard let st = try? FileSystem.lstat(root + "/" + path) else { return true }
            guard let state = cached[path] else { return false }
            return state.matches(size: st.size, mtimeNanos: st.mtimeNanos, ctimeNanos: st.ctimeNanos, inode: st.inode)
        }
        for (path, error) in failed {
            problems["write \(path)"] = "cannot write \(path) from a peer: \(error)"
            logger.error("cannot write \(path): \(error)")
        }
        try log.db.transaction {
            for path in done {
                guard let (article, hash) = wanted[path] else { continue }
                problems.removeValue(forKey: "write \(path)")
                if let hash, let st = try? FileSystem.lstat(scanner.absolute(path)) {
                    try log.setFileState(FileState(path: path, article: article, size: st.size, mtimeNanos: st.mtimeNanos,
                                                   ctimeNanos: st.ctimeNanos, inode: st.inode, contentHash: hash))
                } else {
                    try log.removeFileState(path: path)
                }
            }
        }
        logger.debug("folder follows the log: \(done.count) files written or removed")
    }

    private func fileExists(_ path: String) -> Bool { (try? FileSystem.lstat(scanner.absolute(path))) != nil }

    /// After start-up (or a crash between a log commit and the folder writes): bring every
    /// article whose file is out of step with its head back in step.
    public func checkoutOutOfStep() throws {
        guard folderState == .ok else { return }
        try checkout(Set(try log.articlesOutOfStep()))
    }

    // MARK: conflicts

    public func conflicts() throws -> [ConflictsRequest.Conflict] {
        try log.conflictedArticles().compactMap { article in
            let heads = try log.heads(of: article)
            guard let winner = ConflictRule.winner(of: heads) else { return nil }
            return ConflictsRequest.Conflict(article: article.rawValue, versions: heads.map(\.version.hex),
                                             winner: winner.version.hex, heads: heads.map(VersionInfo.init(entry:)))
        }
    }

    /// Records a version that descends from every head of the article: the chosen one's content
    /// (default: the current winner), written to the folder.
    public func resolve(_ request: ResolveRequest) throws -> VersionInfo {
        let path = try article(request.article)
        let heads = try log.heads(of: path)
        guard heads.count > 1 else { throw ControlFailure(.badRequest, "\(path) has no open conflict") }
        let chosen = try request.take.map { try lookup(path, $0) } ?? ConflictRule.winner(of: heads)!
        let diskPath = try log.fileState(article: path)?.path ?? path.rawValue
        let change: LocalChange
        if chosen.operation == .put {
            let bytes = try content(of: chosen)
            do { try FileSystem.writeAtomically(bytes, to: scanner.absolute(diskPath)) } catch {
                throw ControlFailure(.unavailable, "cannot write \(diskPath): \(error)")
            }
            let st = try FileSystem.lstat(scanner.absolute(diskPath))
            let hash = ContentHash.of(bytes)
            change = LocalChange(article: path, kind: .put(bytes: bytes, hash: hash, file: FileState(
                path: diskPath, article: path, size: st.size, mtimeNanos: st.mtimeNanos, ctimeNanos: st.ctimeNanos, inode: st.inode, contentHash: hash)))
        } else {
            unlink(scanner.absolute(diskPath))
            change = LocalChange(article: path, kind: .delete(path: diskPath))
        }
        let made = try log.recordLocal([change], signer: key, clock: &clock, wallMillis: Self.wallMillis())
        announceGrowth()
        guard let entry = made.first else { throw ControlFailure(.internal, "resolve of \(path) recorded nothing") }
        return VersionInfo(entry: entry)
    }
}
