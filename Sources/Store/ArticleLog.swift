import Foundation
import SyncProtocol

/// The append-only log of one data folder: entries, blobs, the sites that signed them, and the
/// heads derived from them.
///
/// A class over one SQLite connection; its owner (the daemon's `SiteLog` actor, or a test)
/// serializes every call. Appends happen in batches, one transaction each.
public final class ArticleLog {
    public let db: Database
    public let path: String
    let compressor = BlobCodec.Compressor()
    /// Counts kept in memory so `status` costs nothing at 100,000 articles; loaded at open and
    /// moved forward by every append.
    public internal(set) var stats: Stats
    /// Origins the log takes entries from; a test lowers it.
    var maximumOrigins = WireCodec.maximumVectorOrigins
    /// Entries of another chain of one origin kept beside its chain (after a fork); a test lowers it.
    public internal(set) var maximumBesidePerOrigin = 10_000
    /// Revoked origins and the last sequence of theirs this log takes.
    public private(set) var revokedAt: [SiteID: UInt64] = [:]
    /// Articles whose heads moved since the last `takeMovedHeads()`, kept only once someone asks
    /// (an index of articles built from the heads); marked even in a transaction that rolls back,
    /// so a reader refreshes at worst an article that did not change.
    var movedHeads: MovedHeads?
    /// Past this many the set is dropped for `.all`: one rebuild is cheaper than a set that grows.
    static let maximumMovedHeads = 20_000

    public enum MovedHeads: Sendable, Equatable {
        case some(Set<String>)
        case all
    }

    /// Starts keeping moved heads (if not kept yet) and returns those moved since the last call;
    /// the first call returns `.all`.
    public func takeMovedHeads() -> MovedHeads {
        defer { movedHeads = .some([]) }
        return movedHeads ?? .all
    }

    /// For a reader whose refresh failed: the next `takeMovedHeads()` returns `.all`.
    public func forgetMovedHeads() { movedHeads = .all }

    /// Times any article's heads moved since open (appends, recomputes): a start-up that finds it
    /// still 0 knows the heads are as the last run left them.
    public private(set) var headMoves = 0

    func headsMoved(_ article: String) {
        headMoves &+= 1
        guard case .some(.some(var set)) = movedHeads else { return }
        movedHeads = nil  // one copy of the set, not two, while it is changed
        set.insert(article)
        movedHeads = set.count > Self.maximumMovedHeads ? .all : .some(set)
    }

    public struct Stats: Sendable, Equatable {
        public var entries: Int = 0
        public var liveArticles: Int = 0
        public var deletedArticles: Int = 0
        public var blobs: Int = 0
        public var blobStoredBytes: Int64 = 0
        public var blobRawBytes: Int64 = 0
        /// Articles with more than one head.
        public var conflictedArticles: Int = 0
        /// Entries kept beside their origin's chain (another chain of that origin, after a fork), by origin.
        public var besideByOrigin: [SiteID: Int] = [:]
        public var besideEntries: Int { besideByOrigin.values.reduce(0, +) }
        /// Per origin, the highest sequence held.
        public var vector = VersionVector()
        public var lastLocalSeq: Int64 = 0
        public var maxTime = HybridTimestamp(rawValue: 0)
    }

    public init(path: String) throws {
        self.path = path
        db = try Database(path: path)
        try Migrator(Schema.migrations).migrate(db)
        stats = Stats()
        stats = try loadStats()
        try db.statement("SELECT site_id, held_seq FROM revocations").query([]) { row in
            if let site = SiteID(row.text(0)) { revokedAt[site] = row.uint64(1) }
        }
    }

    /// Makes `sites` the revoked set: a site newly revoked is held at the sequence this log has of
    /// it now; one no longer listed is trusted again.
    public func revoke(_ sites: Set<SiteID>, wallMillis: UInt64) throws {
        var next = revokedAt
        let trustedAgain = revokedAt.keys.filter { !sites.contains($0) }
        let before = stats, revokedBefore = revokedAt
        do {
            try db.transaction {
                for site in sites where next[site] == nil {
                    let held = stats.vector[site]
                    try db.statement("INSERT INTO revocations (site_id, held_seq, revoked_ms) VALUES (?, ?, ?)")
                        .run(.text(site.rawValue), .uint(held), .uint(wallMillis))
                    next[site] = held
                }
                for site in trustedAgain {
                    try db.statement("DELETE FROM revocations WHERE site_id = ?").run(.text(site.rawValue))
                    next.removeValue(forKey: site)
                }
                // Entries held aside from a site trusted again become versions like any other.
                if !trustedAgain.isEmpty {
                    revokedAt = next
                    try recomputeHeads(ofArticlesBy: trustedAgain)
                    stats = try loadStats()
                }
            }
        } catch {
            // Rolled back: what is trusted in memory stays what the database says.
            stats = before
            revokedAt = revokedBefore
            throw error
        }
        revokedAt = next
    }

    /// Whether an entry is a revoked origin's, past what was held at the revocation, or kept beside
    /// a revoked origin's chain: a second chain signed with a revoked key is never trusted.
    public func isHeldAside(_ entry: LogEntry, beside: Bool = false) -> Bool {
        revokedAt[entry.origin].map { beside || entry.sequence > $0 } ?? false
    }

    /// Rebuilds the heads of every article `origins` touched from the entries, in arrival order,
    /// leaving out entries held aside. Call inside a transaction.
    func recomputeHeads(ofArticlesBy origins: [SiteID]) throws {
        var articles = Set<String>()
        let touched = try db.statement("SELECT DISTINCT article FROM entries WHERE origin = ?")
        for origin in origins { try touched.query([.text(origin.rawValue)]) { articles.insert($0.text(0)) } }
        for article in articles.sorted() {
            var heads: [VersionID: LogEntry] = [:]
            try db.statement("SELECT \(Self.entryColumns), e.fork_seq IS NOT NULL FROM entries e WHERE e.article = ? ORDER BY e.local_seq")
                .query([.text(article)]) { row in
                guard let entry = Self.entry(from: row), !isHeldAside(entry, beside: row.int(Self.entryColumnCount) != 0) else { return }
                for replaced in entry.replaces { heads.removeValue(forKey: replaced) }
                heads[entry.version] = entry
            }
            try db.statement("DELETE FROM heads WHERE article = ?").run(.text(article))
            headsMoved(article)
            let add = try db.statement("INSERT INTO heads (article, version, op, content_hash) VALUES (?, ?, ?, ?)")
            for head in heads.values {
                try add.run(.text(article), .blob(head.version.bytes), .int(Int(head.operation.rawValue)), .optionalBlob(head.contentHash?.bytes))
            }
        }
    }

    func loadStats() throws -> Stats {
        var s = Stats()
        s.entries = Int(try db.scalar("SELECT count(*) FROM entries") ?? 0)
        s.lastLocalSeq = try db.scalar("SELECT max(local_seq) FROM entries") ?? 0
        s.maxTime = HybridTimestamp(rawValue: UInt64(bitPattern: try db.scalar("SELECT max(hlc) FROM entries") ?? 0))
        s.vector = try loadVersionVector()
        try db.statement("SELECT origin, count(*) FROM entries WHERE fork_seq IS NOT NULL GROUP BY origin").query([]) { row in
            if let origin = SiteID(row.text(0)) { s.besideByOrigin[origin] = row.int(1) }
        }
        try db.statement("SELECT count(*), coalesce(sum(stored), 0), coalesce(sum(size), 0) FROM blobs").query([]) {
            s.blobs = $0.int(0)
            s.blobStoredBytes = $0.int64(1)
            s.blobRawBytes = $0.int64(2)
        }
        // Per article: live if any head is a put, deleted if every head is a delete, conflicted if
        // more than one head. One pass over the heads.
        try db.statement("""
            SELECT coalesce(sum(first_op = 1), 0), coalesce(sum(first_op = 2), 0), coalesce(sum(n > 1), 0)
            FROM (SELECT min(op) AS first_op, count(*) AS n FROM heads GROUP BY article)
            """).query([]) {
            s.liveArticles = $0.int(0)
            s.deletedArticles = $0.int(1)
            s.conflictedArticles = $0.int(2)
        }
        return s
    }

    // MARK: sites

    /// Records a site's public key the first time one of its entries arrives. Idempotent.
    public func register(site key: SiteKey.Public) throws {
        try db.statement("INSERT OR IGNORE INTO sites (site_id, public_key) VALUES (?, ?)")
            .run(.text(key.siteID.rawValue), .blob(key.der))
    }

    public func publicKey(of site: SiteID) throws -> SiteKey.Public? {
        try db.statement("SELECT public_key FROM sites WHERE site_id = ?").first([.text(site.rawValue)]) {
            try SiteKey.Public(der: $0.blob(0))
        }
    }

    /// The last entry an origin made that this log holds: the tip of its chain.
    public func chainTip(of origin: SiteID) throws -> (sequence: UInt64, version: VersionID)? {
        try db.statement("SELECT origin_seq, version FROM entries WHERE origin = ? AND origin_seq > 0 ORDER BY origin_seq DESC LIMIT 1")
            .first([.text(origin.rawValue)]) { row in VersionID(bytes: row.blob(1)).map { (row.uint64(0), $0) } }
    }

    /// The latest time an origin stamped on an entry this log holds.
    public func latestTime(of origin: SiteID) throws -> HybridTimestamp {
        HybridTimestamp(rawValue: UInt64(bitPattern: try db.scalar("SELECT max(hlc) FROM entries WHERE origin = ?", .text(origin.rawValue)) ?? 0))
    }

    /// When this site stored an origin's entry (wall milliseconds), nil if it holds none such.
    public func receivedMillis(origin: SiteID, sequence: UInt64) throws -> UInt64? {
        try db.scalar("SELECT received_ms FROM entries WHERE origin = ? AND origin_seq = ?", .text(origin.rawValue), .uint(sequence))
            .map { UInt64(max(0, $0)) }
    }

    /// The latest time on any entry that is not past `limit`.
    public func latestTime(notAfter limit: HybridTimestamp) throws -> HybridTimestamp {
        HybridTimestamp(rawValue: UInt64(bitPattern: try db.scalar("SELECT max(hlc) FROM entries WHERE hlc >= 0 AND hlc <= ?", .uint(limit.rawValue)) ?? 0))
    }

    // MARK: blobs

    public func hasBlob(_ hash: ContentHash) throws -> Bool {
        try db.scalar("SELECT 1 FROM blobs WHERE hash = ?", .blob(hash.bytes)) != nil
    }

    /// Stores content once per hash; returns false when it was already there.
    /// `stored`: the same bytes already in the table's form (compressed by the caller), if so.
    @discardableResult
    public func storeBlob(_ bytes: [UInt8], hash: ContentHash, stored: StoredBlob? = nil) throws -> Bool {
        if try hasBlob(hash) { return false }
        let ahead = stored.flatMap { $0.hash == hash && $0.size == UInt64(bytes.count) ? ($0.encoding, $0.data) : nil }
        let (encoding, data) = ahead ?? compressor.encode(bytes)
        try insertBlob(hash: hash, size: UInt64(bytes.count), encoding: encoding, data: data)
        return true
    }

    /// Appends the bytes, then indexes them by hash. The caller has checked the hash is new.
    func insertBlob(hash: ContentHash, size: UInt64, encoding: BlobCodec.Encoding, data: [UInt8]) throws {
        try db.statement("INSERT INTO blob_bytes (data) VALUES (?)").run(.blob(data))
        try db.statement("INSERT INTO blobs (hash, size, encoding, stored, bytes_id) VALUES (?, ?, ?, ?, ?)")
            .run(.blob(hash.bytes), .uint(size), .int(encoding.rawValue), .int(data.count), .integer(db.lastInsertRowID))
        stats.blobs += 1
        stats.blobStoredBytes += Int64(data.count)
        stats.blobRawBytes += Int64(size)
    }

    /// Selects `size, encoding, data` of one blob, by hash.
    static let blobByHash = "SELECT b.size, b.encoding, d.data FROM blobs b JOIN blob_bytes d ON d.id = b.bytes_id WHERE b.hash = ?"

    public func blob(_ hash: ContentHash) throws -> [UInt8]? {
        try db.statement(Self.blobByHash).first([.blob(hash.bytes)]) { row in
            try BlobCodec.decode(row.blob(2), encoding: BlobCodec.Encoding(rawValue: row.int(1)) ?? .raw, size: row.int(0))
        }
    }
}
