import ArgumentParser
import Crypto
import CZstd
import Foundation
import NewsDaemon
import NIOCore
import NIOPosix
import NIOSSL
import SyncProtocol

/// A listed peer that misbehaves on purpose, built on the real codec, TLS and key handling: for
/// the evil-peer tests and the torture round. Each attack runs session after session until its
/// time is up and prints what the site answered, as JSON.
@main
struct EvilPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evil-peer", abstract: "A misbehaving peer for testing newsd.", subcommands: [Id.self, Attack.self])

    struct Id: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make the key if missing; print its site ID.")
        @Option(help: "The key file (PEM).") var key: String

        func run() throws { print(try loadKey(key).siteID) }
    }

    struct Attack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run one attack against a site until the time is up.")
        @Argument(help: "One of: \(Script.allCases.map(\.rawValue).joined(separator: ", ")).") var script: Script
        @Option(help: "The key file (PEM), listed as a peer at the site.") var key: String
        @Option(help: "The site's replication port on 127.0.0.1.") var port: Int
        @Option(help: "How long to keep at it.") var seconds: Double = 5
        @Option(help: "flood: stop after this many entries.") var count: Int?
        @Option(name: .customLong("interval-ms"), help: "flood: pause between entries, so each arrives in a read of its own.")
        var intervalMilliseconds: Int = 0

        func run() async throws {
            let key = try loadKey(self.key)
            var chain = try Chain.load(path: self.key + ".chain.json")
            var tally = Tally(attack: script.rawValue)
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            // Made before any session: the site must not wait for them.
            let bomb = script == .bomb ? Bomb.make(size: Int(WireCodec.maximumBlobBytes)) : nil
            let origins = script == .origins ? Session.opening(key, vector: Script.madeUpOrigins(WireCodec.maximumVectorOrigins + 1)) : nil
            repeat {
                do {
                    let answer = try await Session.run(port: port, key: key, reads: script != .deaf) { session in
                        try await script.play(session, key: key, chain: &chain, bomb: bomb, origins: origins, until: deadline,
                                              pace: Pace(count: count, interval: .milliseconds(intervalMilliseconds)))
                    }
                    tally.count(answer)
                } catch {
                    tally.count("failed: \(error)")
                }
                try chain.save()
                try await Task.sleep(for: .milliseconds(100))
            } while ContinuousClock.now < deadline && (count == nil || tally.sessions == 0)
            let json = try JSONEncoder().encode(tally)
            print(String(decoding: json, as: UTF8.self))
        }
    }
}

enum Script: String, CaseIterable, ExpressibleByArgument {
    /// A ~100-byte blob part claiming 16 GiB.
    case claim16g = "claim-16g"
    /// A real zstd frame of 1 GiB of zeros (about 40 KB), with a signed entry: valid content.
    case bomb
    /// A vector with an origin at 2^63 and one at 2^64 - 1.
    case vector263 = "vector-2^63"
    /// A vector of 100,001 made-up origins.
    case origins = "origins-100001"
    /// 1,025 concurrent versions of one article, then an entry replacing all of them.
    case heads = "heads-1025"
    /// Half a frame, then silence.
    case stall
    /// Talks, never reads.
    case deaf
    /// Valid entries as fast as the site takes them.
    case flood

    static func madeUpOrigins(_ count: Int) -> VersionVector {
        var origins: [SiteID: UInt64] = [:]
        var random = SystemRandomNumberGenerator()
        while origins.count < count {
            origins[SiteID(publicKeyDER: (0..<16).map { _ in UInt8.random(in: 0...255, using: &random) })] = 1
        }
        return VersionVector(origins)
    }

    func play(_ session: Session, key: SiteKey, chain: inout Chain, bomb: Bomb?, origins: [UInt8]?,
              until deadline: ContinuousClock.Instant, pace: Pace) async throws {
        switch self {
        case .claim16g:
            try await session.open(key)
            let hash = ContentHash.of(Array("không có thật".utf8))
            try await session.send(.blobPart(BlobPart(hash: hash, size: 16 << 30, encoding: 1, storedSize: 64, offset: 0,
                                                      bytes: Array(repeating: 0, count: 64))))
        case .bomb:
            let bomb = bomb!
            let held = try await session.open(key)
            chain.catchUp(to: held[key.siteID])
            try await session.send(.site(publicKeyDER: key.publicKey.der))
            var offset = 0
            while offset < bomb.frame.count {
                let end = min(offset + WireCodec.blobPartLength, bomb.frame.count)
                try await session.send(.blobPart(BlobPart(hash: bomb.hash, size: UInt64(bomb.size), encoding: 1, storedSize: UInt64(bomb.frame.count),
                                                          offset: UInt64(offset), bytes: Array(bomb.frame[offset..<end]))))
                offset = end
            }
            try await session.send(.entry(try chain.next(key, article: "bom.txt", hash: bomb.hash, size: UInt64(bomb.size))))
            try await session.send(.caughtUp)
            try await session.send(.goodbye("done"))
        case .vector263:
            var vector = VersionVector()
            vector.advance(key.siteID, to: 1 << 63)
            vector.advance(SiteID(publicKeyDER: Array("made up".utf8)), to: .max)
            try await session.open(key, vector: vector)
            // Held for a while: the site's status, peers and metrics work with it.
            for nonce in 1...10 as ClosedRange<UInt64> {
                try await session.send(.ping(nonce))
                try await Task.sleep(for: .milliseconds(200))
            }
            try await session.send(.goodbye("done"))
        case .origins:
            try await session.sendRaw(origins!)
        case .heads:
            let held = try await session.open(key)
            chain.catchUp(to: held[key.siteID])
            try await session.send(.site(publicKeyDER: key.publicKey.der))
            // Versions of dau.txt that replace nothing: 1,025 heads, each valid (a key of its own:
            // the chain holds nothing else).
            while chain.versions.count < 1025 {
                let text = Array("Phiên bản \(chain.versions.count + 1) của cùng một bài.\n".utf8)
                let hash = ContentHash.of(text)
                try await session.send(.blobPart(BlobPart(hash: hash, size: UInt64(text.count), encoding: 0, storedSize: UInt64(text.count),
                                                          offset: 0, bytes: text)))
                try await session.send(.entry(try chain.next(key, article: "dau.txt", hash: hash, size: UInt64(text.count), replacing: [])))
            }
            // Then one that replaces all of them: more than any peer accepts.
            let text = Array("Gộp tất cả.\n".utf8)
            let hash = ContentHash.of(text)
            try await session.send(.blobPart(BlobPart(hash: hash, size: UInt64(text.count), encoding: 0, storedSize: UInt64(text.count),
                                                      offset: 0, bytes: text)))
            let all = chain.versions.prefix(1025).compactMap { VersionID(hex: $0) }.sorted()
            try await session.send(.entry(try chain.draft(key, article: "dau.txt", hash: hash, size: UInt64(text.count), replacing: all)))
            try await session.send(.caughtUp)
        case .stall:
            try await session.open(key)
            try await session.sendRaw([0, 0, 3, 232, 1, 2, 3, 4, 5])
        case .deaf:
            try await session.open(key, waitForVector: false)
            try await Task.sleep(for: .seconds(1))
            try await session.stopReading()
            // Until the site gives up on it (a write fails), however long the run was meant to be.
            var nonce: UInt64 = 0
            let limit = max(deadline, ContinuousClock.now + .seconds(300))
            while ContinuousClock.now < limit {
                nonce += 1
                do { try await session.send(.ping(nonce)) } catch { return }
                try await Task.sleep(for: .milliseconds(200))
            }
        case .flood:
            let held = try await session.open(key)
            chain.catchUp(to: held[key.siteID])
            try await session.send(.site(publicKeyDER: key.publicKey.der))
            try await session.send(.caughtUp)
            var index = 0
            while (pace.count.map { index < $0 } ?? (ContinuousClock.now < deadline)) && !session.isClosed {
                let article = "lu/\(index % 100).txt"
                let text = Array("Tin \(index) trong trận lũ bài.\n".utf8)
                let hash = ContentHash.of(text)
                try await session.send(.blobPart(BlobPart(hash: hash, size: UInt64(text.count), encoding: 0, storedSize: UInt64(text.count),
                                                          offset: 0, bytes: text)))
                try await session.send(.entry(try chain.next(key, article: article, hash: hash, size: UInt64(text.count))))
                index += 1
                if pace.interval > .zero { try await Task.sleep(for: pace.interval) }
            }
            try await session.send(.goodbye("done"))
        }
    }
}

/// How fast a flood goes, and how far.
struct Pace: Sendable {
    var count: Int?
    var interval: Duration
}

/// One TLS session with the site, with a reader task collecting what it answers.
final class Session: @unchecked Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let channel: Channel
    private var messages: AsyncStream<WireMessage>.Iterator
    private let lock = NSLock()
    private var firstError: WireError?
    private var closed = false

    init(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, channel: Channel, messages: AsyncStream<WireMessage>) {
        self.outbound = outbound
        self.channel = channel
        self.messages = messages.makeAsyncIterator()
    }

    var isClosed: Bool { lock.withLock { closed } }

    /// Runs `script`, then waits for the site to close; returns the first error code it sent, or
    /// how the session ended without one.
    static func run(port: Int, key: SiteKey, reads: Bool, _ script: (Session) async throws -> Void) async throws -> String {
        let context = try SiteCredentials(key: key).clientContext()
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(
                        context: context, serverHostname: nil, customVerificationCallback: { _, promise in promise.succeed(.certificateVerified) }))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await connection.executeThenClose { inbound, outbound in
            let (stream, continuation) = AsyncStream.makeStream(of: WireMessage.self)
            let session = Session(outbound: outbound, channel: connection.channel, messages: stream)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                // A peer that reads nothing has no reader: the channel stops reading once its
                // small buffer is full, and the site's writes back up.
                if reads { group.addTask {
                    var decoder = FrameDecoder(maximumFrameLength: WireCodec.maximumFrameLength)
                    defer {
                        continuation.finish()
                        session.lock.withLock { session.closed = true }
                    }
                    do {
                        for try await buffer in inbound {
                            decoder.append(buffer.readableBytesView)
                            while let frame = try decoder.nextFrame() {
                                let message = try WireCodec.decode(frame)
                                if case .error(let error) = message { session.lock.withLock { session.firstError = session.firstError ?? error } }
                                continuation.yield(message)
                            }
                        }
                    } catch {}
                } }
                do { try await script(session) } catch where session.isClosed {
                    // The site closed first: its answer says why.
                }
                if reads {
                    // Until the site closes: at most 60 s.
                    let closing = connection.channel.eventLoop.scheduleTask(in: .seconds(60)) { connection.channel.close(promise: nil) }
                    while await session.nextMessage() != nil {}
                    closing.cancel()
                } else {
                    connection.channel.close(promise: nil)
                }
                group.cancelAll()
                try? await group.waitForAll()
                return session.lock.withLock { session.firstError.map { "\($0.code)" } ?? "closed without an error" }
            }
        }
    }

    func nextMessage() async -> WireMessage? { await messages.next() }

    func send(_ message: WireMessage) async throws { try await sendRaw(FrameDecoder.frame(WireCodec.encode(message))) }
    func sendRaw(_ bytes: [UInt8]) async throws { try await outbound.write(ByteBuffer(bytes: bytes)) }

    /// Hello and vector; returns the site's vector (empty when not waited for, or the site closed).
    @discardableResult
    func open(_ key: SiteKey, vector: VersionVector = VersionVector(), waitForVector: Bool = true) async throws -> VersionVector {
        try await sendRaw(Self.opening(key, vector: vector))
        guard waitForVector else { return VersionVector() }
        while let message = await nextMessage() {
            if case .vector(let held) = message { return held }
        }
        return VersionVector()
    }

    /// Hello, vector and (v4) chain tips that list nothing, framed.
    static func opening(_ key: SiteKey, vector: VersionVector) -> [UInt8] {
        FrameDecoder.frame(WireCodec.encode(.hello(Hello(siteID: key.siteID, siteName: "evil")))) + FrameDecoder.frame(WireCodec.encode(.vector(vector)))
            + FrameDecoder.frame(WireCodec.encode(.chainTips(ChainTips(tips: [], last: true))))
    }

    /// Reads nothing more from the socket: the site's writes back up.
    func stopReading() async throws { try await channel.setOption(.autoRead, value: false).get() }
}

/// This key's own chain of entries, kept beside the key so later runs continue it.
struct Chain: Codable {
    var path = ""
    /// Versions by sequence (index 0 is sequence 1).
    var versions: [String] = []
    /// The latest version of each article, which the next one replaces.
    var heads: [String: String] = [:]

    enum CodingKeys: String, CodingKey { case versions, heads }

    static func load(path: String) throws -> Chain {
        var chain = (try? JSONDecoder().decode(Chain.self, from: Data(contentsOf: URL(fileURLWithPath: path)))) ?? Chain()
        chain.path = path
        return chain
    }

    func save() throws { try JSONEncoder().encode(self).write(to: URL(fileURLWithPath: path)) }

    /// Forgets entries the site never stored (a session refused them), so they are made again.
    mutating func catchUp(to held: UInt64) {
        guard UInt64(versions.count) > held else { return }
        versions.removeLast(versions.count - Int(held))
        let kept = Set(versions)
        heads = heads.filter { kept.contains($0.value) }
    }

    /// A signed entry after the last, not yet counted as sent.
    func draft(_ key: SiteKey, article: String, hash: ContentHash, size: UInt64, replacing: [VersionID]? = nil) throws -> LogEntry {
        try LogEntry(signer: key, sequence: UInt64(versions.count + 1), article: ArticlePath(article), operation: .put, contentHash: hash,
                     size: size, replaces: replacing ?? heads[article].flatMap(VersionID.init(hex:)).map { [$0] } ?? [],
                     time: HybridTimestamp(milliseconds: UInt64(Date().timeIntervalSince1970 * 1000), counter: 0),
                     previous: versions.last.flatMap(VersionID.init(hex:)))
    }

    mutating func next(_ key: SiteKey, article: String, hash: ContentHash, size: UInt64, replacing: [VersionID]? = nil) throws -> LogEntry {
        let entry = try draft(key, article: article, hash: hash, size: size, replacing: replacing)
        versions.append(entry.version.hex)
        heads[article] = entry.version.hex
        return entry
    }
}

/// A zstd frame of `size` zero bytes, made and hashed a MiB at a time.
struct Bomb {
    let size: Int
    let frame: [UInt8]
    let hash: ContentHash

    static func make(size: Int) -> Bomb {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var hasher = SHA256()
        let context = ZSTD_createCCtx()!
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, 1)
        ZSTD_CCtx_setPledgedSrcSize(context, UInt64(size))
        var frame: [UInt8] = []
        var out = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        var remaining = size
        while true {
            let take = min(remaining, zeros.count)
            remaining -= take
            let mode = remaining == 0 ? ZSTD_e_end : ZSTD_e_continue
            zeros.withUnsafeBytes { src in
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: src[..<take]))
                var input = ZSTD_inBuffer(src: src.baseAddress, size: take, pos: 0)
                var finished = false
                while !finished {
                    let pending = out.withUnsafeMutableBytes { dst -> Int in
                        var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                        let pending = ZSTD_compressStream2(context, &output, &input, mode)
                        frame += dst[..<output.pos]
                        return pending
                    }
                    precondition(ZSTD_isError(pending) == 0)
                    finished = mode == ZSTD_e_end ? pending == 0 : input.pos == input.size
                }
            }
            if remaining == 0 { break }
        }
        return Bomb(size: size, frame: frame, hash: ContentHash(bytes: Array(hasher.finalize()))!)
    }
}

struct Tally: Encodable {
    let attack: String
    var sessions = 0
    var answers: [String: Int] = [:]

    mutating func count(_ answer: String) {
        sessions += 1
        answers[answer, default: 0] += 1
    }
}

func loadKey(_ path: String) throws -> SiteKey {
    if let pem = try? String(contentsOfFile: path, encoding: .utf8) { return try SiteKey(pem: pem) }
    let key = SiteKey()
    try key.pem.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o600)
    return key
}
