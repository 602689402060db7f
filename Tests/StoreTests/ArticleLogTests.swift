import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Store
import SyncProtocol

@Suite struct ArticleLogTests {
    let folder = TemporaryFolder("store")
    let key = SiteKey()
    var clock = HybridLogicalClock()

    func open() throws -> ArticleLog { try ArticleLog(path: folder.sub("log.sqlite")) }

    func put(_ article: String, _ text: String, path: String? = nil) throws -> LocalChange {
        let bytes = Array(text.utf8)
        let a = try ArticlePath(article)
        let state = FileState(path: path ?? article, article: a, size: Int64(bytes.count), mtimeNanos: 1, ctimeNanos: 1, inode: 1, contentHash: .of(bytes))
        return LocalChange(article: a, kind: .put(bytes: bytes, hash: .of(bytes), file: state))
    }

    func delete(_ article: String) throws -> LocalChange {
        LocalChange(article: try ArticlePath(article), kind: .delete(path: article))
    }

    mutating func record(_ log: ArticleLog, _ changes: [LocalChange], at ms: UInt64 = 1_700_000_000_000) throws -> [LogEntry] {
        try log.recordLocal(changes, signer: key, clock: &clock, wallMillis: ms)
    }

    @Test mutating func updateOnLogEntriesIsRefusedByTheDatabase() throws {
        let log = try open()
        _ = try record(log, [put("a.txt", "một")])
        #expect(throws: SQLiteError.self) { try log.db.execute("UPDATE entries SET size = 0") }
        #expect(throws: SQLiteError.self) { try log.db.execute("DELETE FROM entries") }
        #expect(throws: SQLiteError.self) { try log.db.execute("UPDATE blobs SET size = 0") }
        #expect(throws: SQLiteError.self) { try log.db.execute("DELETE FROM blobs") }
        #expect(throws: SQLiteError.self) { try log.db.execute("UPDATE blob_bytes SET data = x'00'") }
        #expect(throws: SQLiteError.self) { try log.db.execute("DELETE FROM blob_bytes") }
        #expect(throws: SQLiteError.self) { try log.db.execute("DELETE FROM sites") }
        #expect(try log.verify().problems.isEmpty)
    }

    @Test mutating func aRowAlteredBehindTheTriggersBackIsReportedByVerify() throws {
        let log = try open()
        _ = try record(log, [put("a.txt", "một"), put("b.txt", "hai")])
        _ = try record(log, [put("a.txt", "một hai")])
        try log.db.execute("DROP TRIGGER entries_no_update")
        try log.db.execute("UPDATE entries SET article = 'c.txt' WHERE origin_seq = 2")
        let problems = try log.verify().problems
        #expect(problems.contains { $0.contains("do not hash to its version") })
    }

    @Test mutating func aTamperedBlobIsReportedByVerify() throws {
        let log = try open()
        _ = try record(log, [put("a.txt", "short")])
        try log.db.execute("DROP TRIGGER blob_bytes_no_update")
        try log.db.execute("UPDATE blob_bytes SET data = CAST('other' AS BLOB)")
        try log.db.execute("DROP TRIGGER blobs_no_update")
        try log.db.execute("UPDATE blobs SET stored = 5")
        #expect(try log.verify().problems.contains { $0.contains("does not hash to its key") })
    }

    @Test mutating func blobBytesGoneOrResizedBehindTheIndexAreReportedByVerify() throws {
        let log = try open()
        _ = try record(log, [put("a.txt", "một"), put("b.txt", "hai")])
        try log.db.execute("DROP TRIGGER blobs_no_update")
        try log.db.execute("UPDATE blobs SET stored = stored + 1 WHERE bytes_id = 1")
        try log.db.execute("DROP TRIGGER blob_bytes_no_delete")
        try log.db.execute("DELETE FROM blob_bytes WHERE id = 2")
        let problems = try log.verify().problems
        #expect(problems.contains { $0.contains("bytes stored") && $0.contains("on record") })
        #expect(problems.contains { $0.contains("its bytes are missing") })
    }

    @Test mutating func aHeadWhoseOperationDiffersFromItsEntryIsReportedByVerify() throws {
        let log = try open()
        _ = try record(log, [put("a.txt", "một"), put("b.txt", "hai")])
        #expect(log.stats.liveArticles == 2)
        try log.db.execute("UPDATE heads SET op = 2 WHERE article = 'b.txt'")
        #expect(try log.verify().problems.contains { $0.contains("b.txt has a head whose operation or content differs") })
        try log.db.execute("UPDATE heads SET op = 1, content_hash = x'00' WHERE article = 'a.txt'")
        #expect(try log.verify().problems.contains { $0.contains("a.txt has a head whose operation or content differs") })
        #expect(try open().stats.liveArticles == 1, "the counts are read from the heads")
    }

    @Test mutating func aRemovedEntryBreaksTheChain() throws {
        let log = try open()
        _ = try record(log, [put("a.txt", "1")])
        _ = try record(log, [put("a.txt", "2")])
        _ = try record(log, [put("a.txt", "3")])
        try log.db.execute("DROP TRIGGER entries_no_delete")
        try log.db.execute("DELETE FROM entries WHERE origin_seq = 2")
        let problems = try log.verify().problems
        #expect(problems.contains { $0.contains("jumps from #1 to #3") })
    }

    @Test mutating func sameContentSavedAgainMakesNoNewVersion() throws {
        let log = try open()
        #expect(try record(log, [put("a.txt", "giống nhau")]).count == 1)
        #expect(try record(log, [put("a.txt", "giống nhau")]).isEmpty)
        #expect(log.stats.entries == 1)
    }

    @Test mutating func identicalContentUnderTwoPathsCostsOneBlob() throws {
        let log = try open()
        _ = try record(log, [put("a.txt", String(repeating: "Hà Nội ", count: 100)), put("b.txt", String(repeating: "Hà Nội ", count: 100))])
        #expect(log.stats.blobs == 1)
        #expect(log.stats.blobStoredBytes < log.stats.blobRawBytes)
    }

    @Test mutating func editsChainAndReplaceThePreviousHead() throws {
        let log = try open()
        let first = try record(log, [put("a.txt", "v1")])[0]
        let second = try record(log, [put("a.txt", "v2")])[0]
        #expect(second.replaces == [first.version])
        #expect(second.previous == first.version)
        #expect(second.sequence == 2)
        #expect(try log.heads(of: ArticlePath("a.txt")) == [second])
        #expect(try log.resolve(article: ArticlePath("a.txt"), .back(1)) == first)
        #expect(try log.resolve(article: ArticlePath("a.txt"), .prefix(String(first.version.hex.prefix(8)))) == first)
        #expect(throws: ArticleLog.LookupError.self) { try log.resolve(article: ArticlePath("a.txt"), .back(2)) }
    }

    @Test mutating func deleteAndRenameAreRecorded() throws {
        let log = try open()
        _ = try record(log, [put("old.txt", "nội dung")])
        let made = try record(log, [delete("old.txt"), put("new.txt", "nội dung")])
        #expect(made.map(\.operation) == [.delete, .put])
        #expect(log.stats.liveArticles == 1 && log.stats.deletedArticles == 1)
        #expect(log.stats.blobs == 1)
        #expect(try record(log, [delete("old.txt")]).isEmpty)
        #expect(try log.verify().problems.isEmpty)
    }

    @Test mutating func countsSurviveReopening() throws {
        let log = try open()
        _ = try record(log, [put("a.txt", "1"), put("b.txt", "2"), delete("b.txt")])
        let reopened = try open()
        #expect(reopened.stats == log.stats)
        #expect(reopened.stats.liveArticles == 1 && reopened.stats.deletedArticles == 1)
    }

    @Test mutating func changesInATimeWindow() throws {
        let log = try open()
        _ = try record(log, [put("a.txt", "1")], at: 1_000_000)
        _ = try record(log, [put("b.txt", "2")], at: 2_000_000)
        _ = try record(log, [put("c.txt", "3")], at: 3_000_000)
        let window = try log.changes(sinceMillis: 1_500_000, untilMillis: 2_500_000)
        #expect(window.map(\.article.rawValue) == ["b.txt"])
        #expect(try log.changes(sinceMillis: nil, untilMillis: nil).map(\.article.rawValue) == ["c.txt", "b.txt", "a.txt"])
    }
}

@Suite struct BlobCodecTests {
    @Test func proseCompressesAndComesBackExactly() throws {
        let text = Array(String(repeating: "Người dân Đà Nẵng đón Tết. ", count: 200).utf8)
        let (encoding, data) = BlobCodec.encode(text)
        #expect(encoding == .zstd && data.count < text.count / 3)
        #expect(try BlobCodec.decode(data, encoding: encoding, size: text.count) == text)
    }

    @Test func theHashIsTakenWhileDecodingAndEveryMalformedFrameIsAnError() throws {
        // 24 MiB of zeros is a frame of a few KB: hashed in 128 KiB pieces, and equal to the hash
        // of the whole.
        let zeros = [UInt8](repeating: 0, count: 24 << 20)
        let (encoding, frame) = BlobCodec.encode(zeros)
        #expect(encoding == .zstd && frame.count < 10_000)
        #expect(try BlobCodec.contentHash(of: frame, encoding: .zstd, size: zeros.count) == .of(zeros))
        let text = Array(String(repeating: "Bản tin dài về mùa lũ miền Trung. ", count: 300).utf8)
        let (_, packed) = BlobCodec.encode(text)
        #expect(try BlobCodec.contentHash(of: packed, encoding: .zstd, size: text.count) == .of(text))
        #expect(throws: BlobCodec.CorruptBlob.self, "claimed larger") { try BlobCodec.contentHash(of: packed, encoding: .zstd, size: text.count + 1) }
        #expect(throws: BlobCodec.CorruptBlob.self, "truncated") { try BlobCodec.contentHash(of: Array(packed.dropLast(5)), encoding: .zstd, size: text.count) }
        #expect(throws: BlobCodec.CorruptBlob.self, "bytes after") { try BlobCodec.contentHash(of: packed + [1, 2, 3], encoding: .zstd, size: text.count) }
        #expect(throws: BlobCodec.CorruptBlob.self, "raw of another size") { try BlobCodec.contentHash(of: text, encoding: .raw, size: text.count - 1) }
        #expect(try BlobCodec.contentHash(of: text, encoding: .raw, size: text.count) == .of(text))
    }

    /// Decoders are pooled between blobs: from several threads at once, with a corrupt frame
    /// among them (its decoder goes back reset), every blob still decodes to its own bytes.
    @Test func pooledDecodersGiveEachBlobItsOwnBytes() throws {
        let texts = (0..<64).map { Array(String(repeating: "Bài \($0): tin lũ ở Quảng Nam. ", count: 20 + $0).utf8) }
        let frames = texts.map { BlobCodec.encode($0).1 }
        let wrong = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 256) { i in
            let n = i % texts.count
            if i % 17 == 0 { _ = try? BlobCodec.decode(Array(frames[n].dropLast(3)), encoding: .zstd, size: texts[n].count) }
            let same = (try? BlobCodec.decode(frames[n], encoding: .zstd, size: texts[n].count)) == texts[n]
                && (try? BlobCodec.contentHash(of: frames[n], encoding: .zstd, size: texts[n].count)) == .of(texts[n])
            if !same { wrong.withLock { $0 += 1 } }
        }
        #expect(wrong.withLock { $0 } == 0)
    }

    @Test func incompressibleBytesAreStoredRaw() throws {
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let (encoding, data) = BlobCodec.encode(noise)
        #expect(encoding == .raw && data == noise)
    }

    @Test func corruptDeflateIsAnErrorNotACrash() {
        #expect(throws: BlobCodec.CorruptBlob.self) { try BlobCodec.decode([1, 2, 3, 4], encoding: .zstd, size: 100) }
    }
}
