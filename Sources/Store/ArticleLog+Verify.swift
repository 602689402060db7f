import Crypto
import Foundation
import SyncProtocol

/// What `verify` found: how much it checked and every problem, in sentences.
public struct VerifyReport: Sendable, Equatable {
    public var entries = 0
    public var blobs = 0
    public var sites = 0
    public var problems: [String] = []
}

extension ArticleLog {
    /// Checks the whole log without trusting any derived table: every blob re-hashed, every
    /// entry's hash and signature recomputed, every chain walked from 1 with no gap, every
    /// replaced version present earlier, and the heads table recomputed from the entries.
    public func verify() throws -> VerifyReport {
        var report = VerifyReport()
        var keys: [SiteID: SiteKey.Public] = [:]

        try db.statement("SELECT site_id, public_key FROM sites").query([]) { row in
            report.sites += 1
            let named = row.text(0)
            guard let id = SiteID(named), let key = try? SiteKey.Public(der: row.blob(1)) else {
                report.problems.append("site \(named): unreadable site ID or public key")
                return
            }
            guard key.siteID == id else {
                report.problems.append("site \(named): public key does not match the site ID (it belongs to \(key.siteID))")
                return
            }
            keys[id] = key
        }

        var blobSizes: [ContentHash: UInt64] = [:]
        try db.statement("SELECT b.hash, b.size, b.encoding, d.data, b.stored FROM blobs b LEFT JOIN blob_bytes d ON d.id = b.bytes_id").query([]) { row in
            report.blobs += 1
            let stored = row.blob(0)
            guard let hash = ContentHash(bytes: stored) else {
                report.problems.append("blob \(Hex.encode(stored)): key is not a 32-byte SHA-256")
                return
            }
            guard !row.isNull(3) else {
                report.problems.append("blob \(hash.hex): its bytes are missing")
                return
            }
            let data = row.blob(3)
            if data.count != row.int(4) { report.problems.append("blob \(hash.hex): \(data.count) bytes stored, \(row.int(4)) on record") }
            do {
                guard let encoding = BlobCodec.Encoding(rawValue: row.int(2)) else {
                    report.problems.append("blob \(hash.hex): unknown encoding \(row.int(2))")
                    return
                }
                // Hashed while decoded: a 1 GiB blob (a peer's, up to the protocol's limit) is
                // checked in 128 KiB.
                if try BlobCodec.contentHash(of: data, encoding: encoding, size: row.int(1)) != hash {
                    report.problems.append("blob \(hash.hex): content does not hash to its key")
                }
                blobSizes[hash] = UInt64(row.int(1))
            } catch {
                report.problems.append("blob \(hash.hex): \(error)")
            }
        }

        func checkContent(_ entry: LogEntry, _ label: String) {
            guard let hash = entry.contentHash else { return }
            if let size = blobSizes[hash] {
                if size != entry.size { report.problems.append("\(label): size \(entry.size) but its blob holds \(size) bytes") }
            } else {
                report.problems.append("\(label): content \(hash.hex) is not in the blob table")
            }
        }

        var tips: [SiteID: (sequence: UInt64, version: VersionID)] = [:]
        try db.statement("SELECT local_seq, \(Self.entryColumns) FROM entries e WHERE e.fork_seq IS NULL ORDER BY e.origin, e.origin_seq").query([]) { row in
            report.entries += 1
            let localSeq = row.int64(0)
            guard let entry = Self.entry(from: row, offset: 1) else {
                report.problems.append("entry #\(localSeq): fields do not decode")
                return
            }
            let label = "entry \(entry.version.short) (\(entry.origin.short) #\(entry.sequence), \(entry.article))"
            if let key = keys[entry.origin] {
                do { try entry.check(originKey: key) } catch { report.problems.append("\(label): \(error)") }
                if let author = entry.author, !author.isValid(for: entry, originKey: key) {
                    report.problems.append("\(label): its author (\(author.name)) is not signed by its origin")
                }
            } else {
                report.problems.append("\(label): origin \(entry.origin) has no key in the log")
            }
            let tip = tips[entry.origin]
            let expected = (tip?.sequence ?? 0) + 1
            if entry.sequence != expected {
                report.problems.append("\(label): origin chain jumps from #\(expected - 1) to #\(entry.sequence)")
            } else if entry.previous != tip?.version {
                report.problems.append("\(label): previous-entry hash does not match #\(expected - 1) of the chain")
            }
            tips[entry.origin] = (entry.sequence, entry.version)
            checkContent(entry, label)
        }

        if let orphans = try db.scalar("SELECT count(*) FROM authors a WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.version = a.version)"),
           orphans > 0 {
            report.problems.append("\(orphans) author(s) name an entry the log does not hold")
        }

        // Entries kept beside a chain (another chain of the origin, after a fork): signed by the
        // origin, each continuing an entry of that origin at the place before it, none also in the chain.
        var besideVersions: [VersionID: (origin: SiteID, sequence: UInt64)] = [:]
        try db.statement("SELECT local_seq, \(Self.entryColumns), e.origin_seq FROM entries e WHERE e.fork_seq IS NOT NULL ORDER BY e.local_seq").query([]) { row in
            report.entries += 1
            guard let entry = Self.entry(from: row, offset: 1) else {
                report.problems.append("entry #\(row.int64(0)): fields do not decode")
                return
            }
            let label = "entry \(entry.version.short) (\(entry.origin.short) #\(entry.sequence) beside its chain, \(entry.article))"
            if row.int64(Self.entryColumnCount + 1) >= 0 { report.problems.append("\(label): kept beside the chain but numbered in it") }
            if let key = keys[entry.origin] {
                do { try entry.check(originKey: key) } catch { report.problems.append("\(label): \(error)") }
                if let author = entry.author, !author.isValid(for: entry, originKey: key) {
                    report.problems.append("\(label): its author (\(author.name)) is not signed by its origin")
                }
            } else {
                report.problems.append("\(label): origin \(entry.origin) has no key in the log")
            }
            if let chained = tips[entry.origin], entry.sequence <= chained.sequence,
               (try? version(origin: entry.origin, sequence: entry.sequence)) == entry.version {
                report.problems.append("\(label): the chain holds the same entry")
            }
            let linked: Bool
            if entry.sequence == 1 {
                linked = entry.previous == nil
            } else if let previous = entry.previous {
                let parent = besideVersions[previous] ?? (try? self.entry(version: previous)).flatMap { $0.map { ($0.origin, $0.sequence) } }
                linked = parent.map { $0.origin == entry.origin && $0.sequence &+ 1 == entry.sequence } ?? false
            } else {
                linked = false
            }
            if !linked { report.problems.append("\(label): does not continue an entry of its origin at the place before it") }
            besideVersions[entry.version] = (entry.origin, entry.sequence)
            checkContent(entry, label)
        }

        // Parents must precede children in arrival order and belong to the same article; walking in
        // that order rebuilds the heads the table must hold.
        var walked: [VersionID: ArticlePath] = [:]
        var heads: [ArticlePath: Set<VersionID>] = [:]
        try db.statement("SELECT local_seq, \(Self.entryColumns), e.fork_seq IS NOT NULL FROM entries e ORDER BY e.local_seq").query([]) { row in
            guard let entry = Self.entry(from: row, offset: 1) else { return }
            // An entry held aside (a revoked origin's, past the revocation or beside its chain) is never a head.
            if isHeldAside(entry, beside: row.int(Self.entryColumnCount + 1) != 0) {
                walked[entry.version] = entry.article
                return
            }
            var articleHeads = heads[entry.article, default: []]
            for parent in entry.replaces {
                switch walked[parent] {
                case nil:
                    report.problems.append("entry \(entry.version.short): replaces \(parent.short), which is missing or arrived after it")
                case entry.article?:
                    articleHeads.remove(parent)
                case let other?:
                    report.problems.append("entry \(entry.version.short): replaces \(parent.short), a version of \(other), not of \(entry.article)")
                }
            }
            articleHeads.insert(entry.version)
            heads[entry.article] = articleHeads
            walked[entry.version] = entry.article
        }

        try db.statement("""
            SELECT h.article FROM heads h JOIN entries e ON e.version = h.version
            WHERE h.op != e.op OR h.content_hash IS NOT e.content_hash
            """).query([]) { row in
            report.problems.append("heads: \(ArticlePath.escape(row.text(0))) has a head whose operation or content differs from its entry's")
        }
        var stored: [ArticlePath: Set<VersionID>] = [:]
        try db.statement("SELECT article, version FROM heads").query([]) { row in
            guard let article = try? ArticlePath(row.text(0)), let version = VersionID(bytes: row.blob(1)) else {
                report.problems.append("heads: unreadable row for '\(row.text(0))'")
                return
            }
            stored[article, default: []].insert(version)
        }
        for article in Set(heads.keys).union(stored.keys).sorted() where stored[article, default: []] != heads[article, default: []] {
            let table = stored[article, default: []].map(\.short).sorted()
            let computed = heads[article, default: []].map(\.short).sorted()
            report.problems.append("heads of \(article): table holds \(table), entries say \(computed)")
        }
        return report
    }
}
