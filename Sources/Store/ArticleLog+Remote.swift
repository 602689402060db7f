import Foundation
import SyncProtocol

/// A blob as it travels and is stored: the encoded bytes, checked against the hash before use.
public struct StoredBlob: Sendable, Equatable {
    public var hash: ContentHash
    public var size: UInt64
    public var encoding: BlobCodec.Encoding
    public var data: [UInt8]

    public init(hash: ContentHash, size: UInt64, encoding: BlobCodec.Encoding, data: [UInt8]) {
        self.hash = hash
        self.size = size
        self.encoding = encoding
        self.data = data
    }

    /// Decodes and re-hashes; a blob from a peer is only kept if this passes.
    public func verified() throws(WireError) -> StoredBlob {
        let actual: ContentHash
        do { actual = try BlobCodec.contentHash(of: data, encoding: encoding, size: Int(size)) } catch {
            throw WireError(.blobMismatch, "blob \(hash.hex) does not decode: \(error)")
        }
        guard actual == hash else { throw WireError(.blobMismatch, "blob claimed as \(hash.hex) hashes to \(actual.hex)") }
        return self
    }
}

/// What `appendRemote` did: the entries it stored (duplicates left out), and the first entry it
/// refused, if any. Entries before the refused one are kept; nothing from it or after it is.
public struct RemoteAppend: Sendable {
    public var stored: [LogEntry] = []
    public var duplicates = 0
    /// Entries of revoked origins past what this site held at the revocation: stored, held aside.
    public var revoked = 0
    /// Entries of a second chain of their origin (a fork), stored beside the chain: versions like
    /// any other, in `stored` too, but outside the chain's numbering.
    public var beside: [LogEntry] = []
    /// Entries of a second chain whose previous entry is not here, and entries that build on one
    /// passed over: passed over, not refused. The chain-tip exchange (protocol v4) sends that chain
    /// from where the two part.
    public var unlinked: [LogEntry] = []
    /// Entries of a second chain past the number kept beside one origin's chain: passed over.
    public var overLimit: [LogEntry] = []
    /// Authors whose signature is not their entry's origin's: dropped (the entry is stored without one).
    public var authorsDropped = 0
    public var rejection: WireError?
}

extension ArticleLog {
    /// Per origin, the highest sequence held. Chains are stored gap-free, so it is also the
    /// highest contiguous one. Kept in `stats`, so status, scrapes and session starts cost nothing.
    public func versionVector() -> VersionVector { stats.vector }

    /// Reads the vector from the entries: once at open.
    func loadVersionVector() throws -> VersionVector {
        var sequences: [SiteID: UInt64] = [:]
        try db.statement("SELECT origin, max(origin_seq) FROM entries WHERE origin_seq > 0 GROUP BY origin").query([]) { row in
            if let origin = SiteID(row.text(0)) { sequences[origin] = row.uint64(1) }
        }
        return VersionVector(sequences)
    }

    /// Arrival positions of the entries `peer` lacks, in arrival order (a causal order: every
    /// entry after the versions it replaces). Costs O(origins + missing entries).
    public func missingPositions(for peer: VersionVector) throws -> [Int64] {
        var positions: [Int64] = []
        let vector = versionVector()
        let stmt = try db.statement("SELECT local_seq FROM entries WHERE origin = ? AND origin_seq >= ?")
        for (origin, first) in vector.ahead(of: peer) {
            try stmt.query([.text(origin.rawValue), .uint(first)]) { positions.append($0.int64(0)) }
        }
        return positions.sorted()
    }

    /// Entries at these arrival positions, in that order.
    public func entries(at positions: ArraySlice<Int64>) throws -> [(Int64, LogEntry)] {
        var out: [(Int64, LogEntry)] = []
        let stmt = try db.statement("SELECT local_seq, \(Self.entryColumns) FROM entries e WHERE e.local_seq = ?")
        for position in positions {
            try stmt.query([.integer(position)]) { row in
                if let entry = Self.entry(from: row, offset: 1) { out.append((row.int64(0), entry)) }
            }
        }
        return out
    }

    /// Entries that arrived after `position`, oldest first, each with whether it is kept beside its
    /// origin's chain (another chain's, after a fork).
    public func entries(after position: Int64, limit: Int) throws -> [(position: Int64, entry: LogEntry, beside: Bool)] {
        var out: [(position: Int64, entry: LogEntry, beside: Bool)] = []
        try db.statement("SELECT local_seq, \(Self.entryColumns), e.fork_seq IS NOT NULL FROM entries e WHERE e.local_seq > ? ORDER BY e.local_seq LIMIT ?")
            .query([.integer(position), .int(limit)]) { row in
                if let entry = Self.entry(from: row, offset: 1) { out.append((row.int64(0), entry, row.int(Self.entryColumnCount + 1) != 0)) }
            }
        return out
    }

    /// A blob in its stored (possibly compressed) form, to send as it is.
    public func storedBlob(_ hash: ContentHash) throws -> StoredBlob? {
        var found: StoredBlob?
        try db.statement(Self.blobByHash).query([.blob(hash.bytes)]) { row in
            found = StoredBlob(hash: hash, size: row.uint64(0), encoding: BlobCodec.Encoding(rawValue: row.int(1)) ?? .raw, data: row.blob(2))
        }
        return found
    }

    /// Checks and stores entries from a peer, in order, in one transaction.
    ///
    /// Each entry must verify with its origin's key (from `keys` or the log), continue its
    /// origin's chain exactly, replace only versions of the same article that are already here,
    /// and have its blob (from `blobs`, already verified, or the log). An entry already held is
    /// skipped; one of a second chain of its origin is kept beside the chain or passed over (see
    /// `RemoteAppend`), and so is one that replaces a version passed over (`passedOver`, the
    /// session's, or earlier in this batch): refusing it would end every session with that peer.
    ///
    /// `checked`: positions in `entries` of entries whose hash, shape, signature and author (if
    /// any) the caller has verified with the key from `keys`; the rest are verified here. Positions,
    /// not versions: a peer may send a forged copy beside the genuine entry of the same version.
    public func appendRemote(
        _ entries: [LogEntry], blobs: [ContentHash: StoredBlob], keys: [SiteID: SiteKey.Public], wallMillis: UInt64,
        passedOver: Set<VersionID> = [], checked: Set<Int> = []
    ) throws -> RemoteAppend {
        var result = RemoteAppend()
        let before = stats
        do {
            try db.transaction {
                var tips: [SiteID: (sequence: UInt64, version: VersionID)] = [:]
                var registered = Set<SiteID>()
                // Heads by article as this batch moves them: reading them per entry made a batch of
                // versions of one article quadratic (1,025 concurrent versions took 30 s).
                var heads: [ArticlePath: [LogEntry]] = [:]
                var skipped = passedOver
                for (position, var entry) in entries.enumerated() {
                    var beside = false
                    let verified = checked.contains(position)
                    let verdict = try validate(entry, keys: keys, blobs: blobs, tips: &tips, passedOver: skipped, verified: verified)
                    // Who made it: kept only with its origin's signature. A relay cannot alter it,
                    // only drop it; a bad one costs the author, not the entry.
                    if let author = entry.author, !verified {
                        let key = try keys[entry.origin] ?? publicKey(of: entry.origin)
                        if key.map({ author.isValid(for: entry, originKey: $0) }) != true {
                            entry.author = nil
                            result.authorsDropped += 1
                        }
                    }
                    switch verdict {
                    case .duplicate?:
                        result.duplicates += 1
                        // Relayed first by a site on an older protocol, it came without one.
                        if let author = entry.author { try record(author) }
                        continue
                    case .refused(let error)?: result.rejection = error; return
                    case .unlinked?: result.unlinked.append(entry); skipped.insert(entry.version); continue
                    case .overLimit?: result.overLimit.append(entry); skipped.insert(entry.version); continue
                    case .beside?: beside = true
                    case nil: break
                    }
                    if !registered.contains(entry.origin), let key = keys[entry.origin] {
                        try register(site: key)
                        registered.insert(entry.origin)
                    }
                    if let hash = entry.contentHash, let blob = blobs[hash], try !hasBlob(hash) {
                        try storeEncoded(blob)
                    }
                    // A revoked origin's later entry is stored (its chain stays whole, so peers stop
                    // sending it and entries built on it still validate) but held aside: never a
                    // head, never in the folder.
                    let aside = isHeldAside(entry, beside: beside)
                    if aside { result.revoked += 1 }
                    let current = try heads[entry.article] ?? self.heads(of: entry.article)
                    if beside {
                        heads[entry.article] = try insertBeside(entry, heads: current, wallMillis: wallMillis, heldAside: aside)
                        result.beside.append(entry)
                    } else {
                        heads[entry.article] = try insert(entry, heads: current, wallMillis: wallMillis, heldAside: aside)
                        tips[entry.origin] = (entry.sequence, entry.version)
                    }
                    result.stored.append(entry)
                }
            }
        } catch {
            stats = before
            throw error
        }
        return result
    }

    enum Rejection {
        case duplicate, refused(WireError)
        /// Another chain of the origin, linked to an entry held here: stored beside the chain.
        case beside
        /// Another chain of the origin whose previous entry is not here.
        case unlinked
        /// Another chain of the origin, past what is kept beside one origin's chain.
        case overLimit
    }

    private func validate(
        _ entry: LogEntry, keys: [SiteID: SiteKey.Public], blobs: [ContentHash: StoredBlob],
        tips: inout [SiteID: (sequence: UInt64, version: VersionID)], passedOver: Set<VersionID>, verified: Bool
    ) throws -> Rejection? {
        let label = "entry \(entry.version.short) (\(entry.origin) #\(entry.sequence), \(entry.article))"
        if !verified {
            guard let key = try keys[entry.origin] ?? publicKey(of: entry.origin) else {
                return .refused(WireError(.badSignature, "\(label): no public key for its origin was sent"))
            }
            do { try entry.check(originKey: key) } catch {
                switch error {
                case .shape(let text): return .refused(WireError(.malformedFrame, text))
                default: return .refused(WireError(.badSignature, error.description))
                }
            }
        }
        guard entry.replaces.count <= WireCodec.maximumReplaces else {
            return .refused(WireError(.tooLarge, "\(label): replaces \(entry.replaces.count) versions; the limit is \(WireCodec.maximumReplaces)"))
        }
        let tip = try tips[entry.origin] ?? chainTip(of: entry.origin)
        // A new origin past the limit would make this site's vector one every peer refuses.
        if tip == nil && stats.vector.sequences.count >= maximumOrigins {
            return .refused(WireError(.tooLarge, "\(label): this log already holds entries from \(maximumOrigins) origins"))
        }
        var placement: Rejection?
        let expected = (tip?.sequence ?? 0) + 1
        if let tip, entry.sequence <= tip.sequence {
            let held = try version(origin: entry.origin, sequence: entry.sequence)
            if held == entry.version { return .duplicate }
            // The origin signed two entries at one place: it ran on an old copy of its log.
            placement = try besidePlacement(entry, label: label)
        } else if entry.sequence != expected || entry.previous != tip?.version {
            placement = try besidePlacement(entry, label: label)
            // An origin this log has never held, starting past #1: a gap. For a known origin the
            // entry may continue one passed over (a second chain's): passed over in turn.
            if case .unlinked? = placement, tip == nil {
                return .refused(WireError(.chainBroken, "\(label): sequence gap, expected #\(expected)"))
            }
        }
        switch placement {
        case .duplicate?, .refused?, .unlinked?, .overLimit?: return placement
        case .beside?, nil: break
        }
        for parent in entry.replaces {
            if passedOver.contains(parent) { return .unlinked }
            guard let replaced = try self.entry(version: parent), replaced.article == entry.article else {
                return .refused(WireError(.chainBroken, "\(label): replaces \(parent.short), which is not a version of that article here"))
            }
        }
        if let hash = entry.contentHash {
            let size = try blobs[hash]?.size ?? blobSize(hash)
            guard let size else { return .refused(WireError(.blobMismatch, "\(label): its blob \(hash.hex) was not sent")) }
            guard size == entry.size else {
                return .refused(WireError(.blobMismatch, "\(label): size \(entry.size) but its blob holds \(size) bytes"))
            }
        }
        return placement
    }

    /// Where an entry that is not the next of its origin's chain goes: beside the chain when it
    /// continues an entry of that origin held here (chain or beside) or starts the origin at #1;
    /// a duplicate when it is already held beside; otherwise unlinked.
    private func besidePlacement(_ entry: LogEntry, label: String) throws -> Rejection {
        if try self.entry(version: entry.version) != nil { return .duplicate }
        let linked: Bool
        if entry.sequence == 1 {
            linked = entry.previous == nil
        } else if let previous = entry.previous, let parent = try self.entry(version: previous) {
            linked = parent.origin == entry.origin && parent.sequence &+ 1 == entry.sequence
        } else {
            linked = false
        }
        guard linked else { return .unlinked }
        // A site signs a second chain only when it lost its log; a peer signing endless ones of its
        // own must not grow this log without bound. Passed over, not refused: a refusal would end
        // every session with a peer that holds such a chain, for good.
        guard besideCount(of: entry.origin) < maximumBesidePerOrigin else { return .overLimit }
        return .beside
    }

    /// The version an origin's chain holds at a place, nil if the chain is shorter.
    public func version(origin: SiteID, sequence: UInt64) throws -> VersionID? {
        var found: VersionID?
        try db.statement("SELECT version FROM entries WHERE origin = ? AND origin_seq = ?")
            .query([.text(origin.rawValue), .uint(sequence)]) { found = VersionID(bytes: $0.blob(0)) }
        return found
    }

    /// A blob's content size, without reading it.
    public func blobSize(_ hash: ContentHash) throws -> UInt64? {
        try db.scalar("SELECT size FROM blobs WHERE hash = ?", .blob(hash.bytes)).map { UInt64($0) }
    }

    /// Stores a verified blob in the form it arrived.
    func storeEncoded(_ blob: StoredBlob) throws {
        if try hasBlob(blob.hash) { return }
        try insertBlob(hash: blob.hash, size: blob.size, encoding: blob.encoding, data: blob.data)
    }

    /// Articles with more than one head: open conflicts.
    public func conflictedArticles() throws -> [ArticlePath] {
        var out: [ArticlePath] = []
        try db.statement("SELECT article FROM heads GROUP BY article HAVING count(*) > 1 ORDER BY article").query([]) { row in
            if let article = try? ArticlePath(row.text(0)) { out.append(article) }
        }
        return out
    }
}

extension ArticleLog {
    /// Articles whose folder copy may not match the log's head: the head's content differs from
    /// the cached file state, a deleted head still has a file, or a conflict is open. One query,
    /// so the start-up check costs little at 100,000 articles.
    public func articlesOutOfStep() throws -> [ArticlePath] {
        var out: [ArticlePath] = []
        try db.statement("""
            SELECT DISTINCT h.article FROM heads h
            LEFT JOIN file_state f ON f.article = h.article
            WHERE (h.op = 1 AND (f.content_hash IS NULL OR f.content_hash != h.content_hash))
               OR (h.op = 2 AND f.path IS NOT NULL)
            """).query([]) { row in
            if let article = try? ArticlePath(row.text(0)) { out.append(article) }
        }
        return out
    }

    /// The cached state of the file that holds an article, whatever its on-disk spelling.
    public func fileState(article: ArticlePath) throws -> FileState? {
        var found: FileState?
        try db.statement("SELECT \(Self.fileStateColumns) FROM file_state WHERE article = ? LIMIT 1")
            .query([.text(article.rawValue)]) { found = Self.fileState(from: $0) }
        return found
    }
}

extension ArticleLog {
    /// Paths in the scan cache and live articles under `folder` (relative, no trailing slash).
    public func knownPaths(under folder: String) throws -> [String] {
        // Every path under "a/b" sorts between "a/b/" and "a/b0" ('0' follows '/').
        let low = folder + "/", high = folder + "0"
        var paths = Set<String>()
        try db.statement("SELECT path FROM file_state WHERE path >= ? AND path < ?").query([.text(low), .text(high)]) {
            paths.insert($0.text(0))
        }
        try db.statement("""
            SELECT DISTINCT article FROM heads WHERE article >= ? AND article < ? AND op = 1
            """).query([.text(low), .text(high)]) { paths.insert($0.text(0)) }
        return paths.sorted()
    }
}
