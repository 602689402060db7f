import Foundation
import Testing
import TestSupport
@testable import Store
import SyncProtocol

/// The WAL is checkpointed while the log is in use: no statement is left holding a read snapshot.
@Suite struct WriteAheadLogTests {
    let folder = TemporaryFolder("wal")

    func walBytes() -> Int { ((try? FileManager.default.attributesOfItem(atPath: folder.sub("log.sqlite-wal")))?[.size] as? Int) ?? 0 }

    @Test func threeHundredCommitsOfFiftyKilobytesKeepTheWALBounded() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let key = SiteKey()
        var clock = HybridLogicalClock()
        var random = SystemRandomNumberGenerator()
        for index in 0..<300 {
            // Incompressible, so every commit writes ~50 KB of pages.
            let words = (0..<6_250).map { _ in UInt64.random(in: 0...UInt64.max, using: &random) }
            let bytes = words.withUnsafeBytes { Array($0) }
            let article = try ArticlePath("bai-\(index % 20).txt")
            let state = FileState(path: article.rawValue, article: article, size: Int64(bytes.count), mtimeNanos: Int64(index),
                                  ctimeNanos: Int64(index), inode: 1, contentHash: .of(bytes))
            _ = try log.recordLocal([LocalChange(article: article, kind: .put(bytes: bytes, hash: .of(bytes), file: state))],
                                    signer: key, clock: &clock, wallMillis: 1_700_000_000_000 + UInt64(index))
            // The reads a site makes between commits (status, a peer's session start, show).
            _ = try log.publicKey(of: key.siteID)
            _ = try log.chainTip(of: key.siteID)
            _ = try log.blob(.of(bytes))
            _ = try log.db.scalar("SELECT count(*) FROM entries")
        }
        // 15 MB were committed; automatic checkpoints (every 1,000 pages) keep the WAL near 4 MB.
        #expect(walBytes() < 8 << 20, "WAL is \(walBytes()) bytes after 300 commits")
        try log.db.checkpoint()
        #expect(walBytes() == 0)
        #expect(log.stats.entries == 300)
        #expect(try log.verify().problems.isEmpty)
    }
}
