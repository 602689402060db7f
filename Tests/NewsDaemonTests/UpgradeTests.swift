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
import SyncProtocol

/// A data folder made by newsd 0.1.0 (schema 2, protocol v2, kept in `Tests/Fixtures`) opened by
/// this newsd, and replicated with a peer that still speaks protocol v2.
@Suite(.serialized) struct UpgradeTests {
    let folder = TemporaryFolder("upgrade")

    /// Copies the fixture: its data folder and its watched folder (names byte for byte, NFD included).
    func copyFixture(_ fixture: String = releaseZeroOneFixture()) throws -> (data: String, watch: String) {
        let data = folder.sub("data"), watch = folder.sub("w")
        for (from, to) in [("data", data), ("folder", watch)] {
            let copy = try run("/bin/cp", ["-r", fixture + "/" + from, to])
            #expect(copy.status == 0, "\(copy.stderr)")
        }
        return (data, watch)
    }

    @Test func aReleaseZeroOneDataFolderOpensMigratesAndKeepsItsHistory() async throws {
        let (data, watch) = try copyFixture()
        let log = try ArticleLog(path: data + "/log.sqlite")
        #expect(try log.db.scalar("PRAGMA user_version") == Int64(Schema.migrations.count))
        #expect(log.stats.entries == 6 && log.stats.liveArticles == 3 && log.stats.deletedArticles == 1)
        // Every cached file got its base: the head its bytes are.
        let states = try log.allFileStates()
        #expect(states.count == 3)
        for state in states.values {
            let head = try #require(try log.winningHead(of: state.article))
            #expect(state.base == head.version, "\(state.path)")
        }
        #expect(try log.verify().problems.isEmpty)

        let key = try #require(try DataFolder(path: data).loadKey())
        let site = SiteLog(log: log, key: key, settings: SiteSettings(siteName: "hanoi", watchDir: watch, dataDir: data),
                           logger: Logger(label: "upgrade"))
        // The copy changed every file's inode and times: each is read again, none is a new version.
        let scan = try await site.scanAll(startUp: true)
        #expect(scan.entries == 0 && scan.filesRead == 3)
        // An edit replaces exactly the version the file held.
        let before = try await site.show(ShowRequest(article: "thoi-su/hop.txt", version: .head)).info
        try Data("Hà Nội: phiên họp chiều\n".utf8).write(to: URL(fileURLWithPath: watch + "/thoi-su/hop.txt"))
        try await site.ingest(paths: ["thoi-su/hop.txt"])
        let after = try await site.show(ShowRequest(article: "thoi-su/hop.txt", version: .head)).info
        #expect(after.replaces == [before.version])
        #expect(try await site.verify().problems.isEmpty)
    }

    @Test func anUpgradedSiteReplicatesBothWaysWithAPeerStillOnProtocolV2() async throws {
        let (data, watch) = try copyFixture()
        let old = SiteKey()
        let key = try #require(try DataFolder(path: data).loadKey())
        let logger = Logger(label: "upgrade")
        let site = SiteLog(log: try ArticleLog(path: data + "/log.sqlite"), key: key,
                           settings: SiteSettings(siteName: "hanoi", watchDir: watch, dataDir: data), logger: logger)
        try await site.scanAll(startUp: true)

        // What the v2 peer sends: one article of its own.
        let bytes = Array("Huế: tin từ site cũ\n".utf8)
        let hash = ContentHash.of(bytes)
        let theirs = try LogEntry(signer: old, sequence: 1, article: ArticlePath("tu-site-cu.txt"), operation: .put, contentHash: hash,
                                  size: UInt64(bytes.count), replaces: [], time: HybridTimestamp(milliseconds: 1_764_000_000_000, counter: 0),
                                  previous: nil)
        let part = BlobPart(hash: hash, size: UInt64(bytes.count), encoding: 0, storedSize: UInt64(bytes.count), offset: 0, bytes: bytes)

        try await serving(site, key: key, peer: old.siteID, logger: logger) { port in
            let received = try await talkV2(port: port, as: old, sending: [
                .site(publicKeyDER: old.publicKey.der), .blobPart(part), .entry(theirs), .caughtUp])
            let offered = received.compactMap { if case .hello(let hello) = $0 { hello.maximumVersion } else { nil } }.first
            #expect(offered == WireCodec.currentVersion, "the upgraded site offers its whole range; with this peer the session runs at v2")
            let entries = received.compactMap { if case .entry(let entry) = $0 { entry } else { nil } }
            #expect(entries.count == 6, "the fixture's whole log reaches the v2 peer")
            #expect(!received.contains { if case .error = $0 { true } else { false } })
            for _ in 0..<200 where await site.stats.entries < 7 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await site.stats.entries == 7)
            #expect((try? String(contentsOfFile: watch + "/tu-site-cu.txt", encoding: .utf8)) == "Huế: tin từ site cũ\n")
            #expect(try await site.verify().problems.isEmpty)
        }
    }

    /// A data folder made by the last build before schema 5 and protocol v4 (schema 4, protocol
    /// v3): it opens and migrates with nothing lost, and replicates both ways with its peer still
    /// speaking v3, which is never sent chain tips.
    @Test func aSchemaFourDataFolderOpensAndReplicatesWithAPeerStillOnProtocolV3() async throws {
        let fixture = fixturePath("release-0.1.0-schema4")
        let (data, watch) = try copyFixture(fixture)
        let log = try ArticleLog(path: data + "/log.sqlite")
        #expect(try log.db.scalar("PRAGMA user_version") == Int64(Schema.migrations.count))
        #expect(log.stats.entries == 7 && log.stats.liveArticles == 4 && log.stats.deletedArticles == 1 && log.stats.besideEntries == 0)
        #expect(try log.verify().problems.isEmpty)
        #expect(try log.forks().isEmpty)

        let key = try #require(try DataFolder(path: data).loadKey())
        let hue = try #require(try DataFolder(path: fixture).loadKey(at: fixture + "/peer-hue.key"))
        let hueTip = try #require(try log.chainTip(of: hue.siteID))
        let logger = Logger(label: "upgrade")
        let site = SiteLog(log: log, key: key, settings: SiteSettings(siteName: "hanoi", watchDir: watch, dataDir: data), logger: logger)
        let scan = try await site.scanAll(startUp: true)
        #expect(scan.entries == 0, "the copy changed the files' inodes, not their contents")

        // The v3 peer's next entry continues its chain as the fixture holds it.
        let (theirs, part) = try nextPut(by: hue, after: hueTip, article: "tu-hue-2.txt", text: "Huế: tin thứ hai từ site v3\n", atMillis: 1_764_700_000_000)

        try await serving(site, key: key, peer: hue.siteID, logger: logger) { port in
            let received = try await talk(port: port, as: hue, maximumVersion: 3, vector: VersionVector([hue.siteID: hueTip.sequence]),
                                          sending: [.site(publicKeyDER: hue.publicKey.der), .blobPart(part), .entry(theirs), .caughtUp])
            #expect(!received.contains { if case .chainTips = $0 { true } else { false } }, "a v3 peer is never sent chain tips")
            #expect(!received.contains { if case .error = $0 { true } else { false } })
            let entries = received.compactMap { if case .entry(let entry) = $0 { entry } else { nil } }
            #expect(entries.count == 6 && entries.allSatisfy { $0.origin == key.siteID }, "the fixture's own entries reach the v3 peer")
            for _ in 0..<200 where await site.stats.entries < 8 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await site.stats.entries == 8)
            #expect((try? String(contentsOfFile: watch + "/tu-hue-2.txt", encoding: .utf8)) == "Huế: tin thứ hai từ site v3\n")
            #expect(try await site.verify().problems.isEmpty)
        }
    }

    /// A site that keeps a second chain of an origin beside the first never sends an entry of it to
    /// a peer still on protocol v3 (which would refuse it as a fork, for good), and the session runs.
    @Test func aPeerStillOnProtocolV3IsNeverSentAnEntryOfASecondChain() async throws {
        let fixture = fixturePath("release-0.1.0-schema4")
        let (data, watch) = try copyFixture(fixture)
        let log = try ArticleLog(path: data + "/log.sqlite")
        let key = try #require(try DataFolder(path: data).loadKey())
        let hue = try #require(try DataFolder(path: fixture).loadKey(at: fixture + "/peer-hue.key"))
        let hueTip = try #require(try log.chainTip(of: hue.siteID))
        // Two entries of hue's at #2: the first continues its chain, the second is kept beside it.
        func entry(_ text: String, _ name: String) throws -> (LogEntry, [ContentHash: StoredBlob]) {
            let bytes = Array(text.utf8)
            let hash = ContentHash.of(bytes)
            let made = try LogEntry(signer: hue, sequence: hueTip.sequence + 1, article: ArticlePath(name), operation: .put, contentHash: hash,
                                    size: UInt64(bytes.count), replaces: [], time: HybridTimestamp(milliseconds: 1_764_700_000_000, counter: 0),
                                    previous: hueTip.version)
            return (made, [hash: StoredBlob(hash: hash, size: UInt64(bytes.count), encoding: .raw, data: bytes)])
        }
        let (chained, chainedBlob) = try entry("Huế: chuỗi thứ nhất\n", "chuoi-1.txt")
        let (forked, forkedBlob) = try entry("Huế: chuỗi thứ hai\n", "chuoi-2.txt")
        let keys = [hue.siteID: hue.publicKey]
        #expect(try log.appendRemote([chained], blobs: chainedBlob, keys: keys, wallMillis: 1).stored == [chained])
        #expect(try log.appendRemote([forked], blobs: forkedBlob, keys: keys, wallMillis: 2).beside == [forked])
        // A third site's edit of the second chain's article: it replaces a version the v3 peer can never hold.
        let editor = SiteKey()
        let edited = Array("Huế: sửa bản của chuỗi thứ hai\n".utf8)
        let editedHash = ContentHash.of(edited)
        let edit = try LogEntry(signer: editor, sequence: 1, article: ArticlePath("chuoi-2.txt"), operation: .put, contentHash: editedHash,
                                size: UInt64(edited.count), replaces: [forked.version],
                                time: HybridTimestamp(milliseconds: 1_764_700_001_000, counter: 0), previous: nil)
        #expect(try log.appendRemote([edit], blobs: [editedHash: StoredBlob(hash: editedHash, size: UInt64(edited.count), encoding: .raw, data: edited)],
                                     keys: [editor.siteID: editor.publicKey], wallMillis: 3).stored == [edit])

        let logger = Logger(label: "upgrade")
        let site = SiteLog(log: log, key: key, settings: SiteSettings(siteName: "hanoi", watchDir: watch, dataDir: data), logger: logger)
        try await site.scanAll(startUp: true)
        try await serving(site, key: key, peer: hue.siteID, logger: logger) { port in
            // The v3 peer holds hue's #1 only: it gets the chain's #2 and never the second chain's, nor
            // the edit built on it (held back, not refused), and the session runs to its end.
            let received = try await talk(port: port, as: hue, maximumVersion: 3, vector: VersionVector([hue.siteID: hueTip.sequence]),
                                          sending: [.caughtUp])
            let entries = received.compactMap { if case .entry(let entry) = $0 { entry } else { nil } }
            #expect(entries.contains(chained) && !entries.contains(forked) && !entries.contains(edit), "\(entries.map(\.article))")
            #expect(entries.filter { $0.origin == key.siteID }.count == 6, "this site's own chain reaches it whole")
            #expect(!received.contains { if case .error = $0 { true } else { false } })
        }
    }

    /// A data folder made by the last build before schema 6 and protocol v5 (schema 5 with a second
    /// chain kept, protocol v4): it opens and migrates with nothing lost; a peer still on v4 is
    /// sent entries and never an author frame, and what it sends is stored; a v5 peer gets each
    /// entry's author right before it. Entries made before show no author.
    @Test func aSchemaFiveDataFolderOpensAndReplicatesWithAPeerStillOnProtocolV4() async throws {
        let fixture = fixturePath("release-0.1.0-schema5")
        let (data, watch) = try copyFixture(fixture)
        let log = try ArticleLog(path: data + "/log.sqlite")
        #expect(try log.db.scalar("PRAGMA user_version") == Int64(Schema.migrations.count))
        #expect(log.stats.entries == 10 && log.stats.liveArticles == 6 && log.stats.besideEntries == 1)
        #expect(try log.verify().problems.isEmpty)
        #expect(try log.forks().count == 1)
        #expect(try log.changes(sinceMillis: nil, untilMillis: nil).allSatisfy { $0.author == nil }, "entries made before protocol v5 have no author")

        let key = try #require(try DataFolder(path: data).loadKey())
        let hue = try #require(try DataFolder(path: fixture).loadKey(at: fixture + "/peer-hue.key"))
        let hueTip = try #require(try log.chainTip(of: hue.siteID))
        let logger = Logger(label: "upgrade")
        let site = SiteLog(log: log, key: key, settings: SiteSettings(siteName: "hanoi", watchDir: watch, dataDir: data), logger: logger)
        let scan = try await site.scanAll(startUp: true)
        #expect(scan.entries == 0, "the copy changed the files' inodes, not their contents")
        // An edit now (a new file renamed over the old): recorded with the file's owner as its author.
        try Data("Đà Nẵng: bản sửa sau khi nâng cấp\n".utf8).write(to: URL(fileURLWithPath: watch + "/da-nang.txt"), options: .atomic)
        try await site.ingest(paths: ["da-nang.txt"])
        let info = try await site.show(ShowRequest(article: "da-nang.txt", version: .head)).info
        #expect(info.author == GroupDirectory.accountName(of: getuid()))
        let edit = try #require(VersionID(hex: info.version))

        let (theirs, part) = try nextPut(by: hue, after: hueTip, article: "tu-hue-v4.txt", text: "Huế: tin từ site v4\n", atMillis: 1_764_800_000_000)

        try await serving(site, key: key, peer: hue.siteID, logger: logger) { port in
            let received = try await talk(port: port, as: hue, maximumVersion: 4, vector: VersionVector([hue.siteID: hueTip.sequence]),
                                          sending: [.site(publicKeyDER: hue.publicKey.der), .blobPart(part), .entry(theirs), .caughtUp])
            #expect(!received.contains { if case .author = $0 { true } else { false } }, "a v4 peer is never sent an author")
            #expect(!received.contains { if case .error = $0 { true } else { false } })
            let entries = received.compactMap { if case .entry(let entry) = $0 { entry } else { nil } }
            #expect(entries.contains { $0.version == edit } && entries.filter { $0.origin == key.siteID }.count == 8, "\(entries.count)")
            for _ in 0..<200 where await site.stats.entries < 12 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await site.stats.entries == 12)
            #expect((try? String(contentsOfFile: watch + "/tu-hue-v4.txt", encoding: .utf8)) == "Huế: tin từ site v4\n")
        }
        try await serving(site, key: key, peer: hue.siteID, logger: logger) { port in
            let received = try await talk(port: port, as: hue, maximumVersion: WireCodec.currentVersion, vector: VersionVector(), sending: [.caughtUp])
            // Each author comes right before its entry, signed by the entry's origin.
            var authored: [VersionID] = []
            for (index, message) in received.enumerated() {
                guard case .author(let author) = message else { continue }
                guard index + 1 < received.count, case .entry(let entry) = received[index + 1] else {
                    Issue.record("an author not followed by its entry")
                    continue
                }
                #expect(author.version == entry.version && author.isValid(for: entry, originKey: key.publicKey))
                authored.append(entry.version)
            }
            #expect(authored == [edit], "only the entry made since carries an author")
        }
        #expect(try await site.verify().problems.isEmpty)
    }

    /// A data folder made by the last build before schema 7 (blobs keyed by hash with their bytes
    /// in one table): it migrates with every blob's bytes intact, and replicates both ways with a
    /// peer on protocol v5 (the protocol did not change): every blob is sent from the new layout,
    /// and a blob received is stored in it.
    @Test func aSchemaSixDataFolderMigratesItsBlobsAndReplicatesWithAPeerOnProtocolV5() async throws {
        let fixture = fixturePath("release-0.1.0-schema6")
        let (data, watch) = try copyFixture(fixture)
        let log = try ArticleLog(path: data + "/log.sqlite")
        #expect(try log.db.scalar("PRAGMA user_version") == Int64(Schema.migrations.count))
        #expect(log.stats.entries == 13 && log.stats.liveArticles == 8 && log.stats.blobs == 12)
        #expect(try log.db.scalar("SELECT count(*) FROM blob_bytes") == 12)
        #expect(try log.db.scalar("SELECT count(*) FROM blobs WHERE encoding = 1 AND stored > 8192") == 1, "a compressed blob over several pages was migrated")
        #expect(try log.verify().problems.isEmpty)
        // Each article's head holds its file's bytes, read back through the new layout.
        for name in try FileManager.default.contentsOfDirectory(atPath: watch) where name != ".newsd-site" {
            let head = try #require(try log.winningHead(of: ArticlePath(name)))
            let hash = try #require(head.contentHash)
            let bytes = try #require(try log.blob(hash))
            #expect(bytes == Array(try Data(contentsOf: URL(fileURLWithPath: watch + "/" + name))), "\(name)")
        }
        #expect(try log.changes(sinceMillis: nil, untilMillis: nil).filter { $0.author != nil }.count == 3, "authors kept")

        let key = try #require(try DataFolder(path: data).loadKey())
        let hue = try #require(try DataFolder(path: fixture).loadKey(at: fixture + "/peer-hue.key"))
        let hueTip = try #require(try log.chainTip(of: hue.siteID))
        let logger = Logger(label: "upgrade")
        let site = SiteLog(log: log, key: key, settings: SiteSettings(siteName: "hanoi", watchDir: watch, dataDir: data), logger: logger)
        #expect(try await site.scanAll(startUp: true).entries == 0)

        let (theirs, part) = try nextPut(by: hue, after: hueTip, article: "tu-hue-v5.txt", text: "Huế: tin gửi sau khi nâng cấp\n", atMillis: 1_764_900_000_000)
        try await serving(site, key: key, peer: hue.siteID, logger: logger) { port in
            let received = try await talk(port: port, as: hue, maximumVersion: 5, vector: VersionVector(),
                                          sending: [.site(publicKeyDER: hue.publicKey.der), .blobPart(part), .entry(theirs), .caughtUp])
            #expect(!received.contains { if case .error = $0 { true } else { false } })
            let entries = received.compactMap { if case .entry(let entry) = $0 { entry } else { nil } }
            let sent = Set(received.compactMap { if case .blobPart(let part) = $0 { part.hash } else { nil } })
            #expect(entries.count >= 13, "all it held (and perhaps the entry just received: the peer said it holds nothing)")
            #expect(Set(entries.compactMap(\.contentHash)).isSubset(of: sent), "every entry's blob is sent, read from the new layout")
            for _ in 0..<200 where await site.stats.entries < 14 { try await Task.sleep(for: .milliseconds(10)) }
            #expect((try? String(contentsOfFile: watch + "/tu-hue-v5.txt", encoding: .utf8)) == "Huế: tin gửi sau khi nâng cấp\n")
        }
        #expect(await site.stats.blobs == 13, "the received blob is stored in the new layout")
        #expect(try await site.verify().problems.isEmpty)
    }

    /// The peer's next entry on its chain (a put of `text` at `article`) and the blob it sends with it.
    func nextPut(by peer: SiteKey, after tip: (sequence: UInt64, version: VersionID), article: String, text: String,
                 atMillis: UInt64) throws -> (LogEntry, BlobPart) {
        let bytes = Array(text.utf8)
        let hash = ContentHash.of(bytes)
        let entry = try LogEntry(signer: peer, sequence: tip.sequence + 1, article: ArticlePath(article), operation: .put,
                                 contentHash: hash, size: UInt64(bytes.count), replaces: [],
                                 time: HybridTimestamp(milliseconds: atMillis, counter: 0), previous: tip.version)
        return (entry, BlobPart(hash: hash, size: UInt64(bytes.count), encoding: 0, storedSize: UInt64(bytes.count), offset: 0, bytes: bytes))
    }

    /// Runs `site`'s replication on a free loopback port, accepting `peer`, while `body` talks to it.
    func serving(_ site: SiteLog, key: SiteKey, peer: SiteID, logger: Logger, _ body: (Int) async throws -> Void) async throws {
        let registry = PeerRegistry(local: key.siteID, peers: [PeerAddress(site: peer, endpoint: nil)], logger: logger)
        let port = freePort()
        let (listening, ready) = AsyncStream.makeStream(of: Void.self)
        let service = try ReplicationService(site: site, registry: registry, listen: Endpoint(host: "127.0.0.1", port: port),
                                             key: key, siteName: "hanoi", logger: logger) { ready.yield() }
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for await _ in listening { break }
            do { try await body(port) } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func talkV2(port: Int, as key: SiteKey, sending frames: [WireMessage]) async throws -> [WireMessage] {
        try await talk(port: port, as: key, maximumVersion: 2, vector: VersionVector(), sending: frames)
    }

    /// A peer that speaks protocol v1 to `maximumVersion` only: hello, `vector`, `frames`; reads
    /// until the site is caught up with it, then says goodbye.
    func talk(port: Int, as key: SiteKey, maximumVersion: UInt16, vector: VersionVector,
              sending frames: [WireMessage]) async throws -> [WireMessage] {
        let channel = try await connectAsPeer(port: port, key: key)
        return try await channel.executeThenClose { inbound, outbound in
            func send(_ message: WireMessage) async throws {
                try await outbound.write(ByteBuffer(bytes: FrameDecoder.frame(WireCodec.encode(message))))
            }
            try await send(.hello(Hello(minimumVersion: 1, maximumVersion: maximumVersion, siteID: key.siteID, siteName: "hue-v\(maximumVersion)")))
            try await send(.vector(vector))
            if maximumVersion >= WireCodec.chainTipsVersion { try await send(.chainTips(ChainTips(tips: [], last: true))) }
            for message in frames { try await send(message) }
            var decoder = FrameDecoder(maximumFrameLength: WireCodec.maximumFrameLength)
            var received: [WireMessage] = []
            reading: for try await buffer in inbound {
                decoder.append(buffer.readableBytesView)
                while let frame = try decoder.nextFrame() {
                    let message = try WireCodec.decode(frame)
                    received.append(message)
                    if case .caughtUp = message { break reading }
                }
            }
            // Frames are handled in order: what was sent is stored before the goodbye is read.
            try await send(.goodbye("done"))
            return received
        }
    }
}

/// `Tests/Fixtures/release-0.1.0`, found from this file.
func releaseZeroOneFixture() -> String { fixturePath("release-0.1.0") }

/// A folder under `Tests/Fixtures`.
func fixturePath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/" + name).path
}
