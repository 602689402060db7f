import Foundation
import SyncProtocol

/// A change this site saw in its folder, ready to become an entry.
public struct LocalChange: Sendable {
    public enum Kind: Sendable {
        /// The file holds `bytes` (hashed as `hash`); `file` is its state when read.
        case put(bytes: [UInt8], hash: ContentHash, file: FileState)
        /// The file is gone; `path` is its on-disk path for the scan cache.
        case delete(path: String)
    }

    public var article: ArticlePath
    public var kind: Kind

    public init(article: ArticlePath, kind: Kind) {
        self.article = article
        self.kind = kind
    }
}

extension ArticleLog {
    /// Whether an article is in the folder, gone, or never seen, judged from its heads.
    enum Presence { case absent, live, deleted }

    func presence(of heads: [LogEntry]) -> Presence {
        if heads.isEmpty { return .absent }
        return heads.contains { $0.operation == .put } ? .live : .deleted
    }

    /// Records a batch of local changes in one transaction, signing each new entry.
    ///
    /// A put whose bytes equal the single current head makes no entry (same content saved again);
    /// a delete of an article that is not live makes none either. Returns the entries made.
    public func recordLocal(
        _ changes: [LocalChange], signer: SiteKey, clock: inout HybridLogicalClock, wallMillis: UInt64
    ) throws -> [LogEntry] {
        guard !changes.isEmpty else { return [] }
        let before = stats
        var localClock = clock
        do {
            let made = try db.transaction { () -> [LogEntry] in
                try register(site: signer.publicKey)
                var tip = try chainTip(of: signer.siteID)
                var made: [LogEntry] = []
                for change in changes {
                    let heads = try heads(of: change.article)
                    switch change.kind {
                    case .put(let bytes, let hash, let file):
                        try setFileState(file)
                        if heads.count == 1, heads[0].operation == .put, heads[0].contentHash == hash { continue }
                        try storeBlob(bytes, hash: hash)
                        let entry = try LogEntry(
                            signer: signer, sequence: (tip?.sequence ?? 0) + 1, article: change.article,
                            operation: .put, contentHash: hash, size: UInt64(bytes.count),
                            replaces: heads.map(\.version), time: localClock.tick(wallMillis: wallMillis),
                            previous: tip?.version)
                        try insert(entry, heads: heads, wallMillis: wallMillis)
                        tip = (entry.sequence, entry.version)
                        made.append(entry)
                    case .delete(let path):
                        try removeFileState(path: path)
                        guard presence(of: heads) == .live else { continue }
                        let entry = try LogEntry(
                            signer: signer, sequence: (tip?.sequence ?? 0) + 1, article: change.article,
                            operation: .delete, contentHash: nil, size: 0,
                            replaces: heads.map(\.version), time: localClock.tick(wallMillis: wallMillis),
                            previous: tip?.version)
                        try insert(entry, heads: heads, wallMillis: wallMillis)
                        tip = (entry.sequence, entry.version)
                        made.append(entry)
                    }
                }
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
    func insert(_ entry: LogEntry, heads: [LogEntry], wallMillis: UInt64) throws {
        try db.statement("""
            INSERT INTO entries (version, origin, origin_seq, article, op, content_hash, size, replaces, hlc, previous, signature, received_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).run(
                .blob(entry.version.bytes), .text(entry.origin.rawValue), .uint(entry.sequence),
                .text(entry.article.rawValue), .int(Int(entry.operation.rawValue)),
                .optionalBlob(entry.contentHash?.bytes), .uint(entry.size),
                .blob(entry.replaces.flatMap(\.bytes)), .uint(entry.time.rawValue),
                .optionalBlob(entry.previous?.bytes), .blob(entry.signature), .uint(wallMillis))
        stats.lastLocalSeq = db.lastInsertRowID
        stats.entries += 1
        stats.vector.advance(entry.origin, to: entry.sequence)
        if entry.time > stats.maxTime { stats.maxTime = entry.time }

        let replaced = Set(entry.replaces)
        let remove = try db.statement("DELETE FROM heads WHERE article = ? AND version = ?")
        for head in heads where replaced.contains(head.version) {
            try remove.run(.text(entry.article.rawValue), .blob(head.version.bytes))
        }
        try db.statement("INSERT INTO heads (article, version) VALUES (?, ?)")
            .run(.text(entry.article.rawValue), .blob(entry.version.bytes))

        let after = heads.filter { !replaced.contains($0.version) } + [entry]
        adjustCounts(from: presence(of: heads), to: presence(of: after))
        stats.conflictedArticles += (after.count > 1 ? 1 : 0) - (heads.count > 1 ? 1 : 0)
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
            INSERT OR REPLACE INTO file_state (path, article, size, mtime_ns, ctime_ns, inode, content_hash)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).run(.text(state.path), .text(state.article.rawValue), .integer(state.size),
                     .integer(state.mtimeNanos), .integer(state.ctimeNanos),
                     .integer(Int64(bitPattern: state.inode)), .blob(state.contentHash.bytes))
    }

    public func removeFileState(path: String) throws {
        try db.statement("DELETE FROM file_state WHERE path = ?").run(.text(path))
    }

    public func fileState(path: String) throws -> FileState? {
        var found: FileState?
        try db.statement("SELECT path, article, size, mtime_ns, ctime_ns, inode, content_hash FROM file_state WHERE path = ?")
            .query([.text(path)]) { found = Self.fileState(from: $0) }
        return found
    }

    /// Every cached file state, for the start-up scan.
    public func allFileStates() throws -> [String: FileState] {
        var states: [String: FileState] = [:]
        try db.statement("SELECT path, article, size, mtime_ns, ctime_ns, inode, content_hash FROM file_state")
            .query([]) { row in
                if let state = Self.fileState(from: row) { states[state.path] = state }
            }
        return states
    }

    static func fileState(from row: Statement) -> FileState? {
        guard let article = try? ArticlePath(row.text(1)), let hash = ContentHash(bytes: row.blob(6)) else { return nil }
        return FileState(path: row.text(0), article: article, size: row.int64(2), mtimeNanos: row.int64(3),
                         ctimeNanos: row.int64(4), inode: UInt64(bitPattern: row.int64(5)), contentHash: hash)
    }
}
