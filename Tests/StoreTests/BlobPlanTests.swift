import Foundation
import Testing
import TestSupport
@testable import Store
import SyncProtocol

/// What goes on the wire for an entry's content: nothing, a delta, or the whole blob.
@Suite struct BlobPlanTests {
    let folder = TemporaryFolder("plan")
    let origin = SiteKey()

    /// About 8 KB of prose that compresses like an article (not like one sentence repeated).
    static let article: String = {
        let words = "phóng viên tại Đà Nẵng đưa tin mưa lũ miền Trung nhiều tuyến đường bị chia cắt người dân được sơ tán chính quyền địa phương cho biết nước sông dâng cao trong đêm các đội cứu hộ đã có mặt".split(separator: " ")
        var state: UInt64 = 7
        var text = ""
        for index in 0..<1_600 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            text += words[Int(state >> 33) % words.count] + (index % 17 == 16 ? ".\n" : " ")
        }
        return text
    }()

    /// A chain of versions of one article (and a rename at the end if asked), with their blobs.
    func log(_ texts: [String], renameTo renamed: String? = nil) throws -> (ArticleLog, [LogEntry]) {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        var entries: [LogEntry] = []
        var blobs: [ContentHash: StoredBlob] = [:]
        func add(_ article: String, _ text: String?, replaces: [VersionID]) throws {
            let bytes = text.map { Array($0.utf8) }
            let hash = bytes.map(ContentHash.of)
            if let bytes, let hash {
                let (encoding, data) = BlobCodec.encode(bytes)
                blobs[hash] = StoredBlob(hash: hash, size: UInt64(bytes.count), encoding: encoding, data: data)
            }
            entries.append(try LogEntry(signer: origin, sequence: UInt64(entries.count + 1), article: ArticlePath(article),
                                        operation: text == nil ? .delete : .put, contentHash: hash, size: UInt64(bytes?.count ?? 0),
                                        replaces: replaces, time: HybridTimestamp(milliseconds: UInt64(1000 + entries.count), counter: 0),
                                        previous: entries.last?.version))
        }
        for text in texts { try add("a.txt", text, replaces: entries.last.map { [$0.version] } ?? []) }
        if let renamed {
            try add("a.txt", nil, replaces: [entries.last!.version])
            try add(renamed, texts.last!, replaces: [])
        }
        let result = try log.appendRemote(entries, blobs: blobs, keys: [origin.siteID: origin.publicKey], wallMillis: 1)
        try #require(result.rejection == nil)
        return (log, entries)
    }

    @Test func anAppendTravelsAsADeltaAFractionOfTheBlob() throws {
        let edited = Self.article + "Cập nhật lúc 17 giờ: nước đã rút ở hai xã.\n"
        let (log, entries) = try log([Self.article, edited])
        let peerHoldsFirst = VersionVector([origin.siteID: 1])
        guard case .delta(let delta)? = try log.plan(contentOf: entries[1], for: peerHoldsFirst, deltas: true) else {
            Issue.record("expected a delta")
            return
        }
        let whole = try #require(try log.storedBlob(entries[1].contentHash!))
        #expect(delta.bytes.count * 10 < whole.data.count, "delta \(delta.bytes.count) B, whole \(whole.data.count) B")
        #expect(delta.base == entries[0].contentHash)
        #expect(try BlobCodec.applyDelta(delta.bytes, to: Array(Self.article.utf8), size: Int(delta.size)) == Array(edited.utf8))
    }

    @Test func aDeltaLargerThanOneFrameGoesWhole() throws {
        let (log, entries) = try log([Self.article, Self.article + "Cập nhật lúc 17 giờ.\n"])
        let peer = VersionVector([origin.siteID: 1])
        guard case .delta? = try log.plan(contentOf: entries[1], for: peer, deltas: true) else {
            Issue.record("with room in the frame, a delta")
            return
        }
        guard case .whole? = try log.plan(contentOf: entries[1], for: peer, deltas: true, maximumDeltaBytes: 16) else {
            Issue.record("a delta that does not fit one frame goes whole, in parts")
            return
        }
    }

    @Test func withoutTheBaseOrWithoutV2TheWholeBlobGoes() throws {
        let (log, entries) = try log([Self.article, Self.article + "Thêm.\n"])
        guard case .whole? = try log.plan(contentOf: entries[1], for: VersionVector(), deltas: true) else {
            Issue.record("a peer holding nothing gets the whole blob")
            return
        }
        guard case .whole? = try log.plan(contentOf: entries[1], for: VersionVector([origin.siteID: 1]), deltas: false) else {
            Issue.record("a v1 peer gets the whole blob")
            return
        }
    }

    @Test func aRenamedArticleSendsNoContentToAPeerThatHoldsIt() throws {
        let (log, entries) = try log([Self.article], renameTo: "b.txt")
        let put = entries[2]
        guard case .held? = try log.plan(contentOf: put, for: VersionVector([origin.siteID: 2]), deltas: true) else {
            Issue.record("the peer holds this content under a.txt")
            return
        }
        #expect(try log.plan(contentOf: entries[1], for: VersionVector(), deltas: true) == nil, "a delete has no content")
    }

    /// zstd cannot tell a wrong base; the receiver's SHA-256 of the result does (`IncomingBatch`).
    @Test func aDeltaAgainstTheWrongBaseOrCorruptedDoesNotGiveTheContent() throws {
        let target = Array((Self.article + "Thêm.\n").utf8)
        let frame = try #require(BlobCodec.Compressor().delta(target, from: Array(Self.article.utf8)))
        let wrongBase = try? BlobCodec.applyDelta(frame, to: Array(String(Self.article.reversed()).utf8), size: target.count)
        #expect(wrongBase != target)
        var corrupted = frame
        corrupted[corrupted.count / 2] ^= 0xff
        let result = try? BlobCodec.applyDelta(corrupted, to: Array(Self.article.utf8), size: target.count)
        #expect(result != target)
    }
}
