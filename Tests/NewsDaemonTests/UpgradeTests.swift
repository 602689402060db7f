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
    func copyFixture() throws -> (data: String, watch: String) {
        let data = folder.sub("data"), watch = folder.sub("w")
        for (from, to) in [("data", data), ("folder", watch)] {
            let copy = try run("/bin/cp", ["-r", releaseZeroOneFixture() + "/" + from, to])
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
        let registry = PeerRegistry(local: key.siteID, peers: [PeerAddress(site: old.siteID, endpoint: nil)], logger: logger)
        let port = freePort()
        let (listening, ready) = AsyncStream.makeStream(of: Void.self)
        let service = try ReplicationService(site: site, registry: registry, listen: Endpoint(host: "127.0.0.1", port: port),
                                             key: key, siteName: "hanoi", logger: logger) { ready.yield() }
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logger))

        // What the v2 peer sends: one article of its own.
        let bytes = Array("Huế: tin từ site cũ\n".utf8)
        let hash = ContentHash.of(bytes)
        let theirs = try LogEntry(signer: old, sequence: 1, article: ArticlePath("tu-site-cu.txt"), operation: .put, contentHash: hash,
                                  size: UInt64(bytes.count), replaces: [], time: HybridTimestamp(milliseconds: 1_764_000_000_000, counter: 0),
                                  previous: nil)
        let part = BlobPart(hash: hash, size: UInt64(bytes.count), encoding: 0, storedSize: UInt64(bytes.count), offset: 0, bytes: bytes)

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for await _ in listening { break }
            let received = try await talkV2(port: port, as: old, sending: [
                .site(publicKeyDER: old.publicKey.der), .blobPart(part), .entry(theirs), .caughtUp])
            let offered = received.compactMap { if case .hello(let hello) = $0 { hello.maximumVersion } else { nil } }.first
            #expect(offered == WireCodec.currentVersion, "the upgraded site offers v1-v3; with this peer the session runs at v2")
            let entries = received.compactMap { if case .entry(let entry) = $0 { entry } else { nil } }
            #expect(entries.count == 6, "the fixture's whole log reaches the v2 peer")
            #expect(!received.contains { if case .error = $0 { true } else { false } })
            for _ in 0..<200 where await site.stats.entries < 7 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await site.stats.entries == 7)
            #expect((try? String(contentsOfFile: watch + "/tu-site-cu.txt", encoding: .utf8)) == "Huế: tin từ site cũ\n")
            #expect(try await site.verify().problems.isEmpty)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// A peer that speaks protocol v1-v2 only: hello, an empty vector, `frames`; reads until the
    /// site is caught up with it, then says goodbye.
    func talkV2(port: Int, as key: SiteKey, sending frames: [WireMessage]) async throws -> [WireMessage] {
        let channel = try await connectAsPeer(port: port, key: key)
        return try await channel.executeThenClose { inbound, outbound in
            func send(_ message: WireMessage) async throws {
                try await outbound.write(ByteBuffer(bytes: FrameDecoder.frame(WireCodec.encode(message))))
            }
            try await send(.hello(Hello(minimumVersion: 1, maximumVersion: 2, siteID: key.siteID, siteName: "hue-v2")))
            try await send(.vector(VersionVector()))
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
func releaseZeroOneFixture() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/release-0.1.0").path
}
