import Foundation
import NIOCore
import Testing
import TestSupport
@testable import NewsDaemon
@testable import Store
import SyncProtocol

/// A session is three tasks (reader, sender, watchdog) and one writer: whichever fails ends the
/// session with its reason logged, counted and shown, and the watchdog judges the peer by the
/// bytes it sends and reads, not by how busy this site is.
@Suite(.serialized) struct SessionSupervisionTests {
    let folder = TemporaryFolder("supervision")
    let peer = SiteKey()
    let quick: SessionTiming = {
        var timing = SessionTiming()
        timing.pingInterval = .milliseconds(200)
        timing.silenceLimit = .seconds(1)
        return timing
    }()

    func failures(_ registry: PeerRegistry) -> (count: UInt64, last: String?) {
        let info = registry.infos(local: VersionVector()).first { $0.id == peer.siteID.description }
        return (info?.sessionFailures ?? 0, info?.lastFailure)
    }

    @Test func aFailureInTheSenderEndsTheSessionAndIsCountedAndShown() async throws {
        let victim = try InProcessSite("sender", in: folder)
        try await victim.saveAndRecord("tin.txt", "Bản tin cần gửi đi.\n")
        // The store loses the article's content: the sender cannot send it.
        try ArticleLog(path: victim.root + "/log.sqlite").db.execute("PRAGMA foreign_keys=OFF; DROP TRIGGER blobs_no_delete; DELETE FROM blobs")
        try await ListeningSite.run(victim.site, key: victim.key, peers: [peer.siteID]) { listener in
            let answer = try await listener.converse(as: peer, then: [])
            #expect(ListeningSite.errorCode(answer) == .internal, "the peer is told: \(answer)")
            for _ in 0..<100 where failures(listener.registry).count == 0 { try await Task.sleep(for: .milliseconds(20)) }
            let (count, last) = failures(listener.registry)
            #expect(count == 1)
            #expect(last?.contains("missing") == true, "newsctl peers shows why: \(last ?? "nothing")")
            #expect(!listener.registry.isConnected(peer.siteID))
        }
    }

    @Test func aPeerThatSendsNothingIsDroppedAfterTheSilenceLimit() async throws {
        let victim = try InProcessSite("silent", in: folder)
        try await ListeningSite.run(victim.site, key: victim.key, peers: [peer.siteID], timing: quick) { listener in
            let started = ContinuousClock.now
            // Hello and vector, then nothing: no pong to any ping.
            let answer = try await listener.converse(as: peer, then: [])
            #expect(ListeningSite.errorCode(answer) == .timeout)
            #expect(answer.contains { if case .ping = $0 { true } else { false } }, "it was pinged first")
            #expect(ContinuousClock.now - started >= quick.silenceLimit)
            for _ in 0..<100 where failures(listener.registry).count == 0 { try await Task.sleep(for: .milliseconds(20)) }
            let (count, last) = failures(listener.registry)
            #expect(count == 1)
            #expect(last?.contains("no byte from the peer") == true, "\(last ?? "nothing")")
        }
    }

    @Test func aPeerThatReadsNothingIsDroppedOnceItsBacklogStalls() async throws {
        let victim = try InProcessSite("deaf", in: folder) { $0.maximumFileBytes = 8 << 20 }
        // About 16 MB to send, more than the sockets on both sides buffer.
        var random = SeededRandom(seed: 7)
        let noise = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }).base64EncodedString(options: .lineLength76Characters)
        for index in 0..<16 { try await victim.saveAndRecord("anh-\(index).txt", "\(index)\n" + noise) }
        try await ListeningSite.run(victim.site, key: victim.key, peers: [peer.siteID], timing: quick) { listener in
            let channel = try await connectAsPeer(port: listener.port, key: peer)
            try await channel.executeThenClose { _, outbound in
                for frame in ListeningSite.opening(peer) { try await outbound.write(ByteBuffer(bytes: frame)) }
                // Once the session is up, nothing more is read from the socket.
                for _ in 0..<250 where !listener.registry.isConnected(peer.siteID) { try await Task.sleep(for: .milliseconds(20)) }
                try await channel.channel.setOption(.autoRead, value: false)
                // Talks (a ping every 200 ms), never reads.
                var nonce: UInt64 = 0
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline, failures(listener.registry).count == 0 {
                    nonce += 1
                    do { try await outbound.write(ByteBuffer(bytes: ListeningSite.frame(.ping(nonce)))) } catch { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            for _ in 0..<100 where failures(listener.registry).count == 0 { try await Task.sleep(for: .milliseconds(50)) }
            let (count, last) = failures(listener.registry)
            #expect(count == 1)
            #expect(last?.contains("read none") == true, "\(last ?? "nothing")")
        }
    }

    @Test func aBusyLogDoesNotDropAPeerThatKeepsTalking() async throws {
        let victim = try InProcessSite("busy", in: folder)
        // Writing the peer's article into the folder holds the log for 2.5 s, the silence limit
        // 1 s: the reader waits on the log all that time.
        await victim.site.setBeforeSwap { _ in usleep(2_500_000) }
        let text = Array("Bài từ xa, ghi chậm.\n".utf8)
        let hash = ContentHash.of(text)
        let entry = try LogEntry(signer: peer, sequence: 1, article: ArticlePath("xa.txt"), operation: .put, contentHash: hash,
                                 size: UInt64(text.count), replaces: [], time: HybridTimestamp(milliseconds: 1000, counter: 0), previous: nil)
        let part = BlobPart(hash: hash, size: UInt64(text.count), encoding: 0, storedSize: UInt64(text.count), offset: 0, bytes: text)
        try await ListeningSite.run(victim.site, key: victim.key, peers: [peer.siteID], timing: quick) { listener in
            let channel = try await connectAsPeer(port: listener.port, key: peer)
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { for try await _ in inbound {} }
                    for frame in ListeningSite.opening(peer) + [ListeningSite.frame(.site(publicKeyDER: peer.publicKey.der)),
                                                              ListeningSite.frame(.blobPart(part)), ListeningSite.frame(.entry(entry)),
                                                              ListeningSite.frame(.caughtUp)] {
                        try await outbound.write(ByteBuffer(bytes: frame))
                    }
                    for nonce in 1...20 as ClosedRange<UInt64> {
                        try await outbound.write(ByteBuffer(bytes: ListeningSite.frame(.ping(nonce))))
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    #expect(listener.registry.isConnected(peer.siteID), "still connected after the log was busy")
                    #expect(failures(listener.registry).count == 0, "\(failures(listener.registry).last ?? "")")
                    try await outbound.write(ByteBuffer(bytes: ListeningSite.frame(.goodbye("done"))))
                    try await group.next()
                    group.cancelAll()
                }
            }
            #expect(await victim.site.stats.entries == 1)
            #expect(victim.read("xa.txt") == "Bài từ xa, ghi chậm.\n")
        }
    }

    @Test func aPeerThatDialsAgainReplacesItsOldSession() async throws {
        let victim = try InProcessSite("again", in: folder)
        try await ListeningSite.run(victim.site, key: victim.key, peers: [peer.siteID]) { listener in
            let first = try await connectAsPeer(port: listener.port, key: peer)
            try await first.executeThenClose { _, outbound in
                for frame in ListeningSite.opening(peer) { try await outbound.write(ByteBuffer(bytes: frame)) }
                for _ in 0..<250 where !listener.registry.isConnected(peer.siteID) { try await Task.sleep(for: .milliseconds(20)) }
                #expect(listener.registry.isConnected(peer.siteID))
                // The peer dials again while the site still holds the first session (a peer that
                // lost its side of it): the new session is taken, the old one closed.
                let answer = try await listener.converse(as: peer, then: [ListeningSite.frame(.goodbye("done"))])
                #expect(answer.contains { if case .vector = $0 { true } else { false } }, "\(answer.map(\.kind))")
                #expect(!answer.contains { if case .goodbye = $0 { true } else { false } }, "not refused as a duplicate")
                for _ in 0..<250 where first.channel.isActive { try await Task.sleep(for: .milliseconds(20)) }
                #expect(!first.channel.isActive, "the old session is closed")
            }
        }
    }

    @Test func reconnectingBacksOffAfterSessionsThatFail() {
        var backoff = ReconnectBackoff()
        #expect(backoff.ceiling == .milliseconds(250))
        for _ in 0..<3 { backoff.sessionEnded(clean: false, lasted: .seconds(20)) }
        #expect(backoff.ceiling == .seconds(2), "three failed sessions in a row, however long each ran")
        backoff.sessionEnded(clean: false, lasted: .seconds(120))
        #expect(backoff.failures == 1, "a failure after a long run starts again from one")
        for _ in 0..<20 { backoff.dialFailed() }
        #expect(backoff.ceiling == .seconds(30))
        var random = SeededRandom(seed: 1)
        for _ in 0..<100 {
            let delay = backoff.delay(using: &random)
            #expect(delay >= .seconds(15) && delay <= .seconds(30))
        }
        backoff.sessionEnded(clean: true, lasted: .seconds(6))
        #expect(backoff.failures == 0)
        backoff.sessionEnded(clean: true, lasted: .seconds(1))
        #expect(backoff.failures == 1, "a session that ends at once is not a success")
    }
}
