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

    /// How long the oldest entry this site holds and `peer` does not (by what it reported and
    /// what was sent to it) has waited here, in seconds; 0 when the peer holds everything.
    public func lagSeconds(behind peer: VersionVector) -> Double {
        let now = Self.wallMillis()
        let oldest = log.versionVector().ahead(of: peer).compactMap { origin, first in
            try? log.receivedMillis(origin: origin, sequence: first)
        }.min()
        return oldest.map { Double(now > $0 ? now - $0 : 0) / 1000 } ?? 0
    }

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
    public func entries(after position: Int64, limit: Int) throws -> [(position: Int64, entry: LogEntry, beside: Bool)] {
        try log.entries(after: position, limit: limit)
    }
    public func storedBlob(_ hash: ContentHash) throws -> StoredBlob? { try log.storedBlob(hash) }
    /// A stored blob's content, to apply a peer's delta to; one larger than `maximumBytes` is
    /// refused before it is decoded.
    public func blobContent(_ hash: ContentHash, maximumBytes: UInt64) throws -> [UInt8]? {
        guard let size = try log.blobSize(hash) else { return nil }
        guard size <= maximumBytes else {
            throw WireError(.tooLarge, "delta against blob \(hash.hex) of \(size) bytes; a delta's base may have at most \(maximumBytes)")
        }
        return try log.blob(hash)
    }
    public func plan(contentOf entry: LogEntry, for peer: VersionVector, deltas: Bool) throws -> BlobPlan? {
        try log.plan(contentOf: entry, for: peer, deltas: deltas)
    }
    public func publicKey(of site: SiteID) throws -> SiteKey.Public? { try log.publicKey(of: site) }
    public func allHeads() throws -> [ArticlePath: Set<VersionID>] { try log.allHeads() }
    /// Whether an entry of `article` carries content `hash`, and the log holds its bytes.
    public func holds(_ article: ArticlePath, _ hash: ContentHash) throws -> Bool {
        try log.history(of: article).contains { $0.contentHash == hash } && log.hasBlob(hash)
    }

    public func report(peersConnected: Int, peersConfigured: Int) -> PeerReport {
        PeerReport(articles: UInt64(log.stats.liveArticles), logEntries: UInt64(log.stats.entries),
                   peersConnected: UInt16(clamping: peersConnected), peersConfigured: UInt16(clamping: peersConfigured))
    }

    /// Stores a batch of checked entries from a peer and makes the folder follow.
    ///
    /// Local edits to the same articles that are on disk but not yet in the log are ingested
    /// first, so an edit racing an incoming version becomes a conflict instead of being
    /// overwritten; a save landing after that is caught by the folder writer's swap.
    public func applyRemote(_ entries: [LogEntry], blobs: [ContentHash: StoredBlob], keys: [SiteID: SiteKey.Public],
                            passedOver: Set<VersionID> = [], checked: Set<Int> = []) throws -> RemoteAppend {
        let articles = Set(entries.map(\.article))
        // While rejoining, nothing local is recorded: the start-up scan that follows compares the
        // folder with the log as the peers have completed it.
        let rejoining = rejoin?.isRejoining == true
        // Until the folder follows, a stop must not say it is in step (see `InStepMark`).
        var followed = false
        defer { if !followed { folderMayLag = true } }
        if folderState == .ok && !rejoining {
            var paths: [String] = []
            for article in articles { paths.append(try log.fileState(article: article)?.path ?? article.rawValue) }
            try ingest(paths: paths.sorted())
        }
        let wall = Self.wallMillis()
        let result = try log.appendRemote(entries, blobs: blobs, keys: keys, wallMillis: wall, passedOver: passedOver, checked: checked)
        noteForks(result)
        if result.authorsDropped > 0 {
            logger.warning("\(result.authorsDropped) entries came with an author their origin did not sign: stored without one")
        }
        if result.revoked > 0 {
            let beside = Set(result.beside.map(\.version))
            for entry in result.stored where log.isHeldAside(entry, beside: beside.contains(entry.version)) {
                if revokedRefused[entry.origin] == nil {
                    logger.warning("entries of revoked site \(entry.origin) relayed by a peer (from #\(entry.sequence)) are stored but held aside: not versions here")
                }
                revokedRefused[entry.origin, default: 0] += 1
            }
        }
        for entry in result.stored where !clock.observe(entry.time, wallMillis: wall, maximumSkewMillis: settings.maximumClockSkewMillis) {
            noteClockAhead(of: entry.origin, by: entry.time.milliseconds - wall)
        }
        if !result.stored.isEmpty {
            if !rejoining { try checkout(Set(result.stored.map(\.article))) }
            announceGrowth()
        }
        followed = !rejoining || result.stored.isEmpty
        return result
    }

    /// Per site, how far ahead of this site's clock its entries were stamped (past the skew).
    public func clockAheadSeconds() -> [SiteID: UInt64] { clockAhead.mapValues { $0.millis / 1000 } }

    /// A site whose entries carry times past this site's clock plus the allowed skew: its times are
    /// not followed, and `status` names it.
    func noteClockAhead(of site: SiteID, by millis: UInt64) {
        if clockAhead[site] == nil {
            logger.warning("site \(site) stamps entries \(millis / 1000) s ahead of this site's clock (over max_clock_skew): its entries are stored, its time is not followed")
        }
        guard clockAhead[site] != nil || clockAhead.count < 100 else { return }
        clockAhead[site] = ClockAhead(millis: millis, seenAtMillis: Self.wallMillis())
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
    /// (default: the current winner), written to the folder. What is on disk is taken in first, so a
    /// save inside the debounce (or held by a full disk) is in the log before anything is written.
    public func resolve(_ request: ResolveRequest, author: String? = nil) throws -> VersionInfo {
        let path = try article(request.article)
        try ingest(paths: [try log.fileState(article: path)?.path ?? path.rawValue])
        let heads = try log.heads(of: path)
        guard heads.count > 1 else { throw ControlFailure(.badRequest, "\(path) has no open conflict") }
        let chosen = try request.take.map { try lookup(path, $0) } ?? ConflictRule.winner(of: heads)!
        let bytes = chosen.operation == .put ? try content(of: chosen) : nil
        guard let entry = try writeAndRecord(path, bytes: bytes, resolves: heads.map(\.version), author: author) else {
            throw ControlFailure(.internal, "resolve of \(path) recorded nothing")
        }
        return VersionInfo(entry: entry)
    }
}
