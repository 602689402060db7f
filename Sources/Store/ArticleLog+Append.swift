import Foundation
import SyncProtocol

/// A change this site saw in its folder, ready to become an entry.
/// A local change refused because this site's first entry would make the log's vector one
/// every peer refuses.
public struct OriginLimit: Error, CustomStringConvertible {
    public let origins: Int
    public var description: String {
        "this log holds entries from \(origins) sites, the protocol's limit, and none from this one: its edits cannot be recorded (revoke the flood's origins or start a fresh log)"
    }
}

public struct LocalChange: Sendable {
    public enum Kind: Sendable {
        /// The file holds `bytes` (hashed as `hash`); `file` is its state when read. The version it
        /// replaces is the base the scan cache holds for `file.path`.
        case put(bytes: [UInt8], hash: ContentHash, file: FileState)
        /// The file is gone; `path` is its on-disk path, whose cached base is what the delete replaces.
        case delete(path: String)
        /// Bytes the folder writer moved out of the article's place (an editor's save it found there
        /// instead of what newsd last saw): recorded as a put replacing `base`, the version the file
        /// was last known to hold, without touching the scan cache (the path now holds another version).
        case displaced(bytes: [UInt8], hash: ContentHash, base: VersionID?)
    }

    public var article: ArticlePath
    public var kind: Kind
    /// Set for an operator's resolve: the new entry replaces exactly these heads, whatever the file's base.
    public var resolves: [VersionID]?
    /// Who made the change (see `EntryAuthor`); nil when no one can be named (a file gone).
    public var author: String?
    /// A put's bytes as the blob table keeps them, compressed ahead off the store thread (a large
    /// scan); nil to compress when stored.
    public var stored: StoredBlob?

    public init(article: ArticlePath, kind: Kind, resolves: [VersionID]? = nil, author: String? = nil, stored: StoredBlob? = nil) {
        self.article = article
        self.kind = kind
        self.resolves = resolves
        self.author = author
        self.stored = stored
    }
}

extension ArticleLog {
    /// Whether an article is in the folder, gone, or never seen, judged from its heads.
    enum Presence { case absent, live, deleted }

    func presence(of heads: [LogEntry]) -> Presence {
        if heads.isEmpty { return .absent }
        return heads.contains { $0.operation == .put } ? .live : .deleted
    }

    /// What a put of content `hash` over a file whose bytes came from `base` means for the log.
    enum PutOutcome: Equatable {
        /// The content is already a head's (saved again, or written by newsd): no entry; the file's
        /// base becomes that head.
        case unchanged(base: VersionID)
        /// The file still holds its base's bytes, which a newer version has replaced here (a stale
        /// file, not an edit): no entry.
        case stale(base: VersionID)
        /// A new version replacing exactly these (the base, or nothing for a file never recorded).
        case new(replaces: [VersionID])
    }

    func putOutcome(hash: ContentHash, base: VersionID?, heads: [LogEntry]) throws -> PutOutcome {
        let same = heads.filter { $0.operation == .put && $0.contentHash == hash }
        if let match = same.first(where: { $0.version == base }) ?? same.first { return .unchanged(base: match.version) }
        // A file with no base: if the log says the article is deleted (every head a delete), the
        // file was absent as the log says, and this is the article made again: it replaces those
        // deletes. Otherwise a version the file never held is a head: concurrent with it.
        guard let base else {
            let deleted = !heads.isEmpty && heads.allSatisfy { $0.operation == .delete }
            return .new(replaces: deleted ? heads.map(\.version) : [])
        }
        if let held = try entry(version: base), held.operation == .put, held.contentHash == hash { return .stale(base: base) }
        return .new(replaces: [base])
    }

    /// Records a batch of local changes in one transaction, signing each new entry.
    ///
    /// Each change replaces exactly the version its file came from (its base), never a head the
    /// file did not hold: a remote version that has not reached the folder stays a head beside the
    /// new entry, and the article is in conflict. A put whose bytes are already a head's makes no
    /// entry; a delete of a file that held no recorded version, or of an article with no live
    /// head, makes none either. Returns the entries made.
    /// `alongside` runs in the same transaction, after the entries (the folder writer's cache updates).
    public func recordLocal(
        _ changes: [LocalChange], signer: SiteKey, clock: inout HybridLogicalClock, wallMillis: UInt64,
        alongside: () throws -> Void = {}
    ) throws -> [LogEntry] {
        let before = stats
        var localClock = clock
        do {
            let made = try db.transaction { () -> [LogEntry] in
                var tip = try chainTip(of: signer.siteID)
                // This site's first entry would be one origin past what every peer accepts: the
                // same limit binds what a site makes as what it takes (the check is the store's,
                // so every site draws the line at the same count).
                if tip == nil && stats.vector.sequences.count >= maximumOrigins && !changes.isEmpty {
                    throw OriginLimit(origins: maximumOrigins)
                }
                try register(site: signer.publicKey)
                var made: [LogEntry] = []
                var author: String?
                func append(_ article: ArticlePath, _ operation: SyncProtocol.Operation, _ hash: ContentHash?, size: Int,
                            replaces: [VersionID], heads: [LogEntry]) throws -> LogEntry {
                    // More versions than one entry may replace (a resolve of a flood of heads) are
                    // replaced by a chain: each entry replaces the one before it and the next
                    // versions, the same content throughout, so every entry is one peers accept.
                    var remaining = replaces.sorted()
                    var previous: VersionID?
                    var currentHeads = heads
                    while true {
                        let room = WireCodec.maximumReplaces - (previous == nil ? 0 : 1)
                        let step = Array(remaining.prefix(room)) + (previous.map { [$0] } ?? [])
                        remaining.removeFirst(min(room, remaining.count))
                        let entry = try LogEntry(
                            signer: signer, sequence: (tip?.sequence ?? 0) + 1, article: article,
                            operation: operation, contentHash: hash, size: UInt64(size),
                            replaces: step.sorted(), time: localClock.tick(wallMillis: wallMillis),
                            previous: tip?.version, author: author.flatMap { $0.isEmpty ? nil : $0 })
                        try insert(entry, heads: currentHeads, wallMillis: wallMillis)
                        tip = (entry.sequence, entry.version)
                        made.append(entry)
                        if remaining.isEmpty { return entry }
                        previous = entry.version
                        currentHeads = try self.heads(of: article)
                    }
                }
                for change in changes {
                    author = change.author
                    let heads = try heads(of: change.article)
                    switch change.kind {
                    case .put(let bytes, let hash, var file):
                        let base = try fileState(path: file.path)?.base
                        let outcome = try change.resolves.map { PutOutcome.new(replaces: $0) }
                            ?? putOutcome(hash: hash, base: base, heads: heads)
                        switch outcome {
                        case .unchanged(let held), .stale(let held):
                            file.base = held
                        case .new(let replaces):
                            try storeBlob(bytes, hash: hash, stored: change.stored)
                            file.base = try append(change.article, .put, hash, size: bytes.count, replaces: replaces, heads: heads).version
                        }
                        try setFileState(file)
                    case .displaced(let bytes, let hash, let base):
                        guard case .new(let replaces) = try putOutcome(hash: hash, base: base, heads: heads) else { continue }
                        try storeBlob(bytes, hash: hash)
                        _ = try append(change.article, .put, hash, size: bytes.count, replaces: replaces, heads: heads)
                    case .delete(let path):
                        let base = try fileState(path: path)?.base
                        try removeFileState(path: path)
                        if let resolves = change.resolves {
                            _ = try append(change.article, .delete, nil, size: 0, replaces: resolves, heads: heads)
                            continue
                        }
                        guard let base, presence(of: heads) == .live,
                              let held = try entry(version: base), held.operation == .put else { continue }
                        _ = try append(change.article, .delete, nil, size: 0, replaces: [base], heads: heads)
                    }
                }
                try alongside()
                return made
            }
            clock = localClock
            return made
        } catch {
            stats = before
            throw error
        }
    }

    /// Inserts one entry whose blob and site are already stored, and moves the article's heads.
    /// `heads` are the article's heads before it. Call inside a transaction.
    /// `heldAside`: an entry of a revoked origin past what was held at the revocation: stored, but
    /// the heads do not move.
    /// Returns the article's heads after it.
    @discardableResult
    func insert(_ entry: LogEntry, heads: [LogEntry], wallMillis: UInt64, heldAside: Bool = false) throws -> [LogEntry] {
        try insertRow(entry, originSeq: .uint(entry.sequence), forkSeq: .null, wallMillis: wallMillis)
        stats.vector.advance(entry.origin, to: entry.sequence)
        return try moveHeads(entry, heads: heads, heldAside: heldAside)
    }

    /// Inserts an entry of another chain of its origin beside the chain (see `Schema.v5`): a
    /// version like any other, outside the chain's numbering, so the vector does not move.
    func insertBeside(_ entry: LogEntry, heads: [LogEntry], wallMillis: UInt64, heldAside: Bool) throws -> [LogEntry] {
        let lowest = try db.scalar("SELECT min(origin_seq) FROM entries WHERE origin = ? AND origin_seq < 0", .text(entry.origin.rawValue)) ?? 0
        try insertRow(entry, originSeq: .integer(lowest - 1), forkSeq: .uint(entry.sequence), wallMillis: wallMillis)
        stats.besideByOrigin[entry.origin, default: 0] += 1
        return try moveHeads(entry, heads: heads, heldAside: heldAside)
    }

    private func insertRow(_ entry: LogEntry, originSeq: SQLiteValue, forkSeq: SQLiteValue, wallMillis: UInt64) throws {
        try db.statement("""
            INSERT INTO entries (version, origin, origin_seq, article, op, content_hash, size, replaces, hlc, previous, signature, received_ms, fork_seq)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).run(
                .blob(entry.version.bytes), .text(entry.origin.rawValue), originSeq,
                .text(entry.article.rawValue), .int(Int(entry.operation.rawValue)),
                .optionalBlob(entry.contentHash?.bytes), .uint(entry.size),
                .blob(entry.replaces.flatMap(\.bytes)), .uint(entry.time.rawValue),
                .optionalBlob(entry.previous?.bytes), .blob(entry.signature), .uint(wallMillis), forkSeq)
        stats.lastLocalSeq = db.lastInsertRowID
        stats.entries += 1
        if let author = entry.author { try record(author) }
        if entry.time > stats.maxTime { stats.maxTime = entry.time }
    }

    /// Keeps who made an entry (already checked against its origin's key). The first kept stays.
    func record(_ author: EntryAuthor) throws {
        try db.statement("INSERT OR IGNORE INTO authors (version, name, signature) VALUES (?, ?, ?)")
            .run(.blob(author.version.bytes), .text(author.name), .blob(author.signature))
    }

    private func moveHeads(_ entry: LogEntry, heads: [LogEntry], heldAside: Bool) throws -> [LogEntry] {
        if heldAside { return heads }

        headsMoved(entry.article.rawValue)
        let replaced = Set(entry.replaces)
        let remove = try db.statement("DELETE FROM heads WHERE article = ? AND version = ?")
        for head in heads where replaced.contains(head.version) {
            try remove.run(.text(entry.article.rawValue), .blob(head.version.bytes))
        }
        try db.statement("INSERT INTO heads (article, version, op, content_hash) VALUES (?, ?, ?, ?)")
            .run(.text(entry.article.rawValue), .blob(entry.version.bytes), .int(Int(entry.operation.rawValue)),
                 .optionalBlob(entry.contentHash?.bytes))

        let after = heads.filter { !replaced.contains($0.version) } + [entry]
        adjustCounts(from: presence(of: heads), to: presence(of: after))
        stats.conflictedArticles += (after.count > 1 ? 1 : 0) - (heads.count > 1 ? 1 : 0)
        return after
    }

    private func adjustCounts(from old: Presence, to new: Presence) {
        switch old {
        case .live: stats.liveArticles -= 1
        case .deleted: stats.deletedArticles -= 1
        case .absent: break
        }
        switch new {
        case .live: stats.liveArticles += 1
        case .deleted: stats.deletedArticles += 1
        case .absent: break
        }
    }

    // MARK: scan cache

    public func setFileState(_ state: FileState) throws {
        try db.statement("""
            INSERT OR REPLACE INTO file_state (path, article, size, mtime_ns, ctime_ns, inode, content_hash, base)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).run(.text(state.path), .text(state.article.rawValue), .integer(state.size),
                     .integer(state.mtimeNanos), .integer(state.ctimeNanos),
                     .integer(Int64(bitPattern: state.inode)), .blob(state.contentHash.bytes),
                     .optionalBlob(state.base?.bytes))
    }

    public func removeFileState(path: String) throws {
        try db.statement("DELETE FROM file_state WHERE path = ?").run(.text(path))
    }

    public func fileState(path: String) throws -> FileState? {
        var found: FileState?
        try db.statement("SELECT \(Self.fileStateColumns) FROM file_state WHERE path = ?")
            .query([.text(path)]) { found = Self.fileState(from: $0) }
        return found
    }

    /// Every cached file state, for the start-up scan.
    public func allFileStates() throws -> [String: FileState] {
        var states: [String: FileState] = [:]
        try db.statement("SELECT \(Self.fileStateColumns) FROM file_state")
            .query([]) { row in
                if let state = Self.fileState(from: row) { states[state.path] = state }
            }
        return states
    }

    /// The scan cache by path, light (see `CachedFile`), for the start-up scan.
    public func scanCache() throws -> [String: CachedFile] {
        var cache: [String: CachedFile] = [:]
        cache.reserveCapacity(Int(try db.scalar("SELECT count(*) FROM file_state") ?? 0))
        try db.statement("SELECT path, size, mtime_ns, ctime_ns, inode, article = path, article FROM file_state").query([]) { row in
            cache[row.text(0)] = CachedFile(size: row.int64(1), mtimeNanos: row.int64(2), ctimeNanos: row.int64(3),
                                            inode: UInt64(bitPattern: row.int64(4)), otherArticle: row.int(5) != 0 ? nil : row.text(6))
        }
        return cache
    }

    static let fileStateColumns = "path, article, size, mtime_ns, ctime_ns, inode, content_hash, base"

    static func fileState(from row: Statement) -> FileState? {
        guard let article = try? ArticlePath(row.text(1)), let hash = ContentHash(bytes: row.blob(6)) else { return nil }
        return FileState(path: row.text(0), article: article, size: row.int64(2), mtimeNanos: row.int64(3),
                         ctimeNanos: row.int64(4), inode: UInt64(bitPattern: row.int64(5)), contentHash: hash,
                         base: row.optionalBlob(7).flatMap(VersionID.init(bytes:)))
    }
}
