import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Testing
import TestSupport
@testable import NewsDaemon
@testable import Store
@testable import SyncProtocol

/// A real replication listener in this process, and a listed peer that misbehaves on purpose.
@Suite(.serialized) struct HostilePeerTests {
    let folder = TemporaryFolder("hostile")
    let hostile = SiteKey()
    let victim = SiteKey()

    /// Runs `body` against a listening site that lists `hostile` as an accept-only peer.
    func withSite(_ body: (SiteLog, Int, PeerRegistry) async throws -> Void) async throws {
        try FileManager.default.createDirectory(atPath: folder.sub("w"), withIntermediateDirectories: true)
        let site = SiteLog(log: try ArticleLog(path: folder.sub("log.sqlite")), key: victim,
                           settings: SiteSettings(siteName: "victim", watchDir: folder.sub("w"), dataDir: folder.path),
                           logger: Logger(label: "hostile-test"))
        try await ListeningSite.run(site, key: victim, peers: [hostile.siteID]) { listener in
            try await body(site, listener.port, listener.registry)
        }
    }

    func converse(port: Int, as key: SiteKey, sendingHello: Bool = true, then frames: [[UInt8]]) async throws -> [WireMessage] {
        try await ListeningSite.converse(port: port, as: key, sendingHello: sendingHello, then: frames)
    }

    func frame(_ message: WireMessage) -> [UInt8] { FrameDecoder.frame(WireCodec.encode(message)) }

    func blob(_ text: String) -> (ContentHash, BlobPart) {
        let bytes = Array(text.utf8)
        let hash = ContentHash.of(bytes)
        return (hash, BlobPart(hash: hash, size: UInt64(bytes.count), encoding: 0, storedSize: UInt64(bytes.count), offset: 0, bytes: bytes))
    }

    func entry(by key: SiteKey, sequence: UInt64 = 1, previous: VersionID? = nil, hash: ContentHash, size: Int) throws -> LogEntry {
        try LogEntry(signer: key, sequence: sequence, article: ArticlePath("tin.txt"), operation: .put, contentHash: hash,
                     size: UInt64(size), replaces: [], time: HybridTimestamp(milliseconds: 1000, counter: 0), previous: previous)
    }

    func errorCode(_ messages: [WireMessage]) -> WireError.Code? { ListeningSite.errorCode(messages) }

    @Test func badContentEndsTheSessionAndStoresNothing() async throws {
        try await withSite { site, port, registry in
            // A blob whose bytes do not match its hash.
            let (hash, part) = blob("thật")
            var lying = part
            lying.bytes = Array("giả".utf8) + [0]
            let e1 = try entry(by: hostile, hash: hash, size: part.bytes.count)
            let answer1 = try await converse(port: port, as: hostile, then: [
                frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.blobPart(lying)), frame(.entry(e1)), frame(.caughtUp)])
            #expect(errorCode(answer1) == .blobMismatch, "\(answer1.map(\.kind))")

            // An entry that skips sequence 1 of its origin's chain.
            let e2 = try entry(by: hostile, sequence: 2, previous: e1.version, hash: hash, size: part.bytes.count)
            let answer2 = try await converse(port: port, as: hostile, then: [
                frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.blobPart(part)), frame(.entry(e2)), frame(.caughtUp)])
            #expect(errorCode(answer2) == .chainBroken, "\(answer2.map(\.kind))")

            // An entry claiming another site as its origin, that site's key sent with it: refused at
            // the signature check, not for want of a key.
            let third = SiteKey()
            var forged = LogEntry(origin: third.siteID, sequence: 1, article: e1.article, operation: .put, contentHash: hash,
                                  size: e1.size, replaces: [], time: e1.time, previous: nil, version: e1.version, signature: [])
            forged = LogEntry(origin: third.siteID, sequence: 1, article: e1.article, operation: .put, contentHash: hash,
                              size: e1.size, replaces: [], time: e1.time, previous: nil, version: forged.computedVersion,
                              signature: try hostile.sign(forged.computedVersion))
            let answer3 = try await converse(port: port, as: hostile, then: [
                frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.site(publicKeyDER: third.publicKey.der)),
                frame(.blobPart(part)), frame(.entry(forged)), frame(.caughtUp)])
            #expect(errorCode(answer3) == .badSignature, "\(answer3.map(\.kind))")
            let refusal = answer3.compactMap { if case .error(let error) = $0 { error.message } else { nil } }.first ?? ""
            #expect(refusal.contains("signature does not verify"), "\(refusal)")

            // A delta against content the site does not hold, and one that does not give its hash.
            let unknownBase = BlobDelta(hash: hash, size: UInt64(part.size), base: .of(Array("không có".utf8)), bytes: [0x28, 0xb5, 0x2f, 0xfd, 0])
            let answer6 = try await converse(port: port, as: hostile, then: [
                frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.blobDelta(unknownBase)), frame(.entry(e1)), frame(.caughtUp)])
            #expect(errorCode(answer6) == .blobMismatch, "\(answer6.map(\.kind))")
            let (otherHash, otherPart) = blob("một bài khác hẳn, đủ dài để có một khung zstd thật sự")
            let otherEntry = try entry(by: hostile, hash: otherHash, size: otherPart.bytes.count)
            let selfDelta = try #require(BlobCodec.Compressor().delta(Array("giả mạo".utf8), from: Array("thật".utf8)))
            let answer7 = try await converse(port: port, as: hostile, then: [
                frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.blobPart(part)),
                frame(.blobDelta(BlobDelta(hash: otherHash, size: UInt64(Array("giả mạo".utf8).count), base: hash, bytes: selfDelta))), frame(.entry(otherEntry)), frame(.caughtUp)])
            #expect(errorCode(answer7) == .blobMismatch, "\(answer7.map(\.kind))")

            // Random bytes, then a 4 GiB length prefix.
            let answer4 = try await converse(port: port, as: hostile, then: [[0, 0, 0, 3, 0xde, 0xad, 0xbe]])
            #expect(errorCode(answer4) == .malformedFrame, "\(answer4.map(\.kind))")
            let answer8 = try await converse(port: port, as: hostile, then: [[0xff, 0xff, 0xff, 0xff, 1, 2, 3]])
            #expect(errorCode(answer8) == .tooLarge, "\(answer8.map(\.kind))")

            #expect(await site.stats.entries == 0)
            #expect(await site.stats.blobs == 0)

            // The site is still up, and a sound entry from the same peer is taken.
            let answer5 = try await converse(port: port, as: hostile, then: [
                frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.blobPart(part)), frame(.entry(e1)), frame(.caughtUp), frame(.goodbye("done"))])
            #expect(errorCode(answer5) == nil)
            #expect(await site.stats.entries == 1)
            #expect(try await site.verify().ok)
            _ = registry
        }
    }

    /// Signatures are checked before the store takes a batch, and the store skips what was checked:
    /// by position, so a forged copy sent before the genuine entry of the same version (same
    /// version, other article) is checked in full and refused, not taken as the genuine one.
    @Test func aForgedCopyBesideTheGenuineEntryIsRefusedNotTakenAsChecked() async throws {
        try await withSite { site, port, _ in
            let (hash, part) = blob("bài thật của toà soạn")
            let genuine = try entry(by: hostile, hash: hash, size: part.bytes.count)
            let forged = LogEntry(origin: genuine.origin, sequence: 1, article: try ArticlePath("gia-mao.txt"), operation: .put, contentHash: hash,
                                  size: genuine.size, replaces: [], time: genuine.time, previous: nil, version: genuine.version,
                                  signature: genuine.signature)
            let answer = try await converse(port: port, as: hostile, then: [
                frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.blobPart(part)), frame(.entry(forged)), frame(.entry(genuine)), frame(.caughtUp)])
            #expect(errorCode(answer) != nil, "\(answer.map(\.kind))")
            #expect(await site.stats.entries == 0)
            let again = try await converse(port: port, as: hostile, then: [
                frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.blobPart(part)), frame(.entry(genuine)), frame(.caughtUp), frame(.goodbye("done"))])
            #expect(errorCode(again) == nil, "\(again.map(\.kind))")
            #expect(try await site.history(LogRequest(article: "tin.txt")).count == 1)
            #expect((try? await site.history(LogRequest(article: "gia-mao.txt")))?.isEmpty ?? true)
            #expect(try await site.verify().ok)
        }
    }

    /// A full batch is stored while the next is read. As before, the entries ahead of an invalid
    /// one in its batch are stored (each is valid) and the session ends there: nothing read after
    /// the invalid entry is stored, even a whole batch of another origin read while the invalid
    /// one's batch was being stored.
    @Test func aBadEntryWhileTheBatchBeforeIsStoredStoresNothingAfterIt() async throws {
        let (hash, part) = blob("một bài trong chuỗi dài")
        let other = SiteKey()
        func chain(_ key: SiteKey, _ range: ClosedRange<Int>, after previous: VersionID?, badAt bad: Int = 0) throws -> [LogEntry] {
            var entries: [LogEntry] = []
            var last = previous
            for n in range {
                var entry = try LogEntry(signer: key, sequence: UInt64(n), article: ArticlePath("muc-\(key.siteID.short)/tin-\(n).txt"),
                                         operation: .put, contentHash: hash, size: UInt64(part.bytes.count), replaces: [],
                                         time: HybridTimestamp(milliseconds: 1000 + UInt64(n), counter: 0), previous: last)
                if n == bad {
                    entry = LogEntry(origin: entry.origin, sequence: entry.sequence, article: entry.article, operation: .put, contentHash: hash,
                                     size: entry.size, replaces: [], time: entry.time, previous: entry.previous, version: entry.version,
                                     signature: try SiteKey().sign(entry.version))
                }
                last = entry.version
                entries.append(entry)
            }
            return entries
        }
        let full = 512
        let keys = [frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.site(publicKeyDER: other.publicKey.der)), frame(.blobPart(part))]
        try await withSite { site, port, _ in
            // The first (full) batch ends with an invalid entry; a full batch of another origin is
            // read while it is stored.
            let own = try chain(hostile, 1...full, after: nil, badAt: full)
            let answer = try await converse(port: port, as: hostile, then: keys + (own + chain(other, 1...full, after: nil)).map { frame(.entry($0)) } + [frame(.caughtUp)])
            #expect(errorCode(answer) == .badSignature, "\(answer.map(\.kind))")
            #expect(await site.stats.entries == full - 1)
            #expect(await site.versionVector().sequences[other.siteID] == nil, "nothing of the other origin's batch")

            // A valid full batch, then an invalid entry in the next: the first is stored whole, the
            // second up to the invalid entry.
            let fixed = try chain(hostile, full...full, after: own[full - 2].version)
            let theirs = try chain(other, 1...(full + 10), after: nil, badAt: full + 3)
            let again = try await converse(port: port, as: hostile, then: keys + (fixed + theirs).map { frame(.entry($0)) } + [frame(.caughtUp)])
            #expect(errorCode(again) == .badSignature, "\(again.map(\.kind))")
            #expect(await site.versionVector().sequences[hostile.siteID] == UInt64(full))
            #expect(await site.versionVector().sequences[other.siteID] == UInt64(full + 2))
            #expect(try await site.verify().ok)
        }
    }

    /// A peer can drop an entry's author but not put a name on it: an author not signed by the
    /// entry's origin, or one no origin would sign (too long), is dropped and the entry kept.
    /// Authors that never meet their entries end the session past a small bound.
    @Test func authorsThePeerCannotVouchForAreDroppedAndTheEntriesKept() async throws {
        try await withSite { site, port, _ in
            let (hash, part) = blob("bài có người viết")
            let e1 = try entry(by: hostile, hash: hash, size: part.bytes.count)
            let e2 = try entry(by: hostile, sequence: 2, previous: e1.version, hash: hash, size: part.bytes.count)
            let e3 = try entry(by: hostile, sequence: 3, previous: e2.version, hash: hash, size: part.bytes.count)
            let forged = try #require(try EntryAuthor(signer: SiteKey(), version: e1.version, name: "tổng biên tập"))
            let honest = try #require(try EntryAuthor(signer: hostile, version: e2.version, name: "lan"))
            let long = String(repeating: "ư", count: 100)
            let overLong = EntryAuthor(version: e3.version, name: long,
                                       signature: try hostile.sign(message: EntryAuthor.message(version: e3.version, name: long)))
            let answer = try await converse(port: port, as: hostile, then: [
                frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.blobPart(part)),
                frame(.author(forged)), frame(.entry(e1)), frame(.author(honest)), frame(.entry(e2)),
                frame(.author(overLong)), frame(.entry(e3)), frame(.caughtUp), frame(.goodbye("done"))])
            #expect(errorCode(answer) == nil, "\(answer.map(\.kind))")
            #expect(await site.stats.entries == 3)
            func author(_ entry: LogEntry) async throws -> String? {
                try await site.blame(BlameRequest(article: "tin.txt", version: .prefix(entry.version.hex))).info.author
            }
            #expect(try await author(e1) == nil)
            #expect(try await author(e2) == "lan")
            #expect(try await author(e3) == nil)

            // Authors for entries that never come: a sender puts each right before its entry.
            let strays = try (0...IncomingBatch.maximumWaitingAuthors).map { n in
                frame(.author(try #require(try EntryAuthor(signer: hostile, version: VersionID(.sha256(of: Array("\(n)".utf8))), name: "lan"))))
            }
            let flood = try await converse(port: port, as: hostile, then: [frame(.site(publicKeyDER: hostile.publicKey.der))] + strays)
            #expect(errorCode(flood) == .unexpectedMessage, "\(flood.map(\.kind))")
            #expect(await site.stats.entries == 3)
            #expect(try await site.verify().ok)
        }
    }

    @Test func aBlobClaimingMoreThanTheProtocolAllowsIsRefusedBeforeAnyAllocation() async throws {
        try await withSite { site, port, _ in
            // ~100 bytes claiming 16 GiB.
            let hash = ContentHash.of(Array("không có thật".utf8))
            let claim = BlobPart(hash: hash, size: 16 << 30, encoding: 1, storedSize: 64, offset: 0, bytes: Array(repeating: 0, count: 64))
            let answer = try await converse(port: port, as: hostile, then: [frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.blobPart(claim))])
            #expect(errorCode(answer) == .tooLarge, "\(answer.map(\.kind))")

            // A frame whose own header disagrees with the size it is claimed with.
            let text = Array(String(repeating: "Bản tin dài. ", count: 200).utf8)
            let (_, packed) = BlobCodec.encode(text)
            let lying = BlobPart(hash: .of(text), size: UInt64(text.count + 1000), encoding: 1, storedSize: UInt64(packed.count), offset: 0, bytes: packed)
            let answer3 = try await converse(port: port, as: hostile, then: [frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.blobPart(lying))])
            #expect(errorCode(answer3) == .blobMismatch, "\(answer3.map(\.kind))")

            // A delta claiming more than a delta may give is refused before its base is looked up.
            let bigDelta = BlobDelta(hash: .of(text), size: WireCodec.maximumAcceptedDeltaBytes + 1, base: .of(Array("gốc".utf8)), bytes: [0x28, 0xb5, 0x2f, 0xfd, 0])
            let answer4 = try await converse(port: port, as: hostile, then: [frame(.site(publicKeyDER: hostile.publicKey.der)), frame(.blobDelta(bigDelta))])
            #expect(errorCode(answer4) == .tooLarge, "\(answer4.map(\.kind))")

            let stats = await site.stats
            #expect(stats.blobs == 0 && stats.entries == 0)
            #expect(try await site.verify().ok)
        }
    }

    @Test func anUnlistedKeyIsRefusedAtTheHandshake() async throws {
        try await withSite { site, port, registry in
            let stranger = SiteKey()
            // The listener probe (a plain TCP connect) may already count as one refusal; wait for it to settle.
            try await Task.sleep(for: .milliseconds(200))
            let before = registry.refusedConnections
            let answer = try? await converse(port: port, as: stranger, then: [])
            #expect(answer?.isEmpty ?? true)
            for _ in 0..<100 where registry.refusedConnections == before { try await Task.sleep(for: .milliseconds(10)) }
            #expect(registry.refusedConnections == before + 1)
            #expect(await site.stats.entries == 0)
        }
    }
}
