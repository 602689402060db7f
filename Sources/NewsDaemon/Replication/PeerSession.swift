import Foundation
import Logging
import NIOCore
import Store
import Synchronization
import SyncProtocol

/// The site a TLS handshake proved the peer to be, set by the verification callback.
final class AuthenticatedPeer: Sendable {
    let site = Mutex<SiteID?>(nil)
    /// Why the certificate was refused, for the session's one log line.
    let refusal = Mutex<String?>(nil)
}

/// One replication session over an established TLS connection: hello, vectors, then each side
/// streams what the other lacks and pushes new entries live. Ends on error, on the peer's
/// goodbye, on silence, or on shutdown; never throws.
struct PeerSession {
    let site: SiteLog
    let registry: PeerRegistry
    let hello: Hello
    let logger: Logger
    let dialedByUs: Bool
    let authenticated: AuthenticatedPeer
    let remote: String

    static let pingInterval: Duration = .seconds(10)
    /// A peer silent this long (no hello, no pong) is dropped.
    static let silenceLimit: Duration = .seconds(30)
    /// A connection that has not completed TLS and sent its hello by then is closed: until it does,
    /// it holds one of the listener's few pending-hello places.
    static let helloLimit: Duration = .seconds(10)
    static let pageSize = 256

    /// What the session learnt, for the log line and the registry when it ends.
    final class Outcome {
        var peer: SiteID?
        var error: String?
        var helloSeen = false
        /// Closed because another session with the same peer won; not worth an operator's notice.
        var duplicate = false
    }

    /// `onHello` runs once, when the peer's hello arrived or the session ended before it.
    func run(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, onHello: @escaping @Sendable () -> Void) async {
        let id = UUID()
        let outcome = Outcome()
        defer { if !outcome.helloSeen { onHello() } }
        let channel = connection.channel
        let authenticated = self.authenticated
        let helloDeadline = channel.eventLoop.scheduleTask(in: .seconds(Int64(Self.helloLimit.components.seconds))) {
            authenticated.refusal.withLock { $0 = $0 ?? "no hello within \(Self.helloLimit)" }
            channel.close(promise: nil)
        }
        defer { helloDeadline.cancel() }
        let onHello: @Sendable () -> Void = {
            helloDeadline.cancel()
            onHello()
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let out = FrameOutput(channel: connection.channel)
                try await out.send(.hello(hello))
                // A frame that fails a check is answered with the reason before the session ends.
                do {
                    try await exchange(inbound: inbound, out: out, channel: connection.channel, id: id, outcome: outcome, onHello: onHello)
                } catch let wire as WireError {
                    try? await out.send(.error(wire))
                    throw wire
                } catch let frame as FrameDecoder.FrameError {
                    try? await out.send(.error(WireError(.tooLarge, frame.description)))
                    throw frame
                }
            }
        } catch let wire as WireError {
            outcome.error = wire.description
            if wire.code != .duplicateSession { registry.countRejected() }
            logger.warning("session with \(outcome.peer.map(\.rawValue) ?? remote) failed: \(wire)")
        } catch let frame as FrameDecoder.FrameError {
            outcome.error = frame.description
            registry.countRejected()
            logger.warning("session with \(outcome.peer.map(\.rawValue) ?? remote) failed: \(frame)")
        } catch {
            outcome.error = "\(error)"
            if outcome.peer == nil {
                // Not TLS, a failed handshake, or gone before its hello: one line, one count.
                registry.countRefused()
                let reason = authenticated.refusal.withLock { $0 } ?? "\(error)"
                logger.warning("refused connection from \(remote): \(reason)")
            } else {
                logger.info("session with \(outcome.peer!) ended: \(error)")
            }
        }
        if let peer = outcome.peer {
            registry.detach(peer: peer, id: id, error: outcome.error)
            if outcome.duplicate {
                logger.debug("closed a duplicate session with peer \(peer)")
            } else {
                logger.notice("disconnected from peer \(peer)")
            }
        }
    }

    /// Reads frames and acts on them until the peer leaves; the sender and the pinger run beside.
    private func exchange(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>, out: FrameOutput, channel: Channel, id: UUID,
        outcome: Outcome, onHello: @Sendable () -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await watchSilence(channel: channel, out: out) }
            defer { group.cancelAll() }
            var decoder = FrameDecoder(maximumFrameLength: WireCodec.maximumFrameLength)
            var machine: SessionStateMachine?
            var batch = IncomingBatch()
            var live = false
            var link: PeerLink?

            /// Stores what has arrived; false when the peer sent something invalid (already answered).
            func flush() async throws -> Bool {
                guard let link, !batch.isEmpty else { return true }
                let (entries, blobs) = batch.drain()
                for entry in entries { link.peerHolds(entry) }
                let result = try await site.applyRemote(entries, blobs: blobs, keys: batch.keys)
                link.update {
                    $0.entriesReceived += UInt64(result.stored.count)
                    $0.lastExchange = Date()
                }
                guard let rejection = result.rejection else { return true }
                registry.countRejected()
                logger.error("peer \(link.site) at \(remote) sent an invalid entry: \(rejection); session closed, nothing from it stored")
                try await out.send(.error(rejection))
                outcome.error = rejection.description
                return false
            }

            reading: for try await buffer in inbound {
                out.heard()
                link?.received(bytes: buffer.readableBytes)
                decoder.append(buffer.readableBytesView)
                while let frame = try decoder.nextFrame() {
                    let message = try WireCodec.decode(frame)
                    if machine == nil {
                        guard let verified = authenticated.site.withLock({ $0 }) else {
                            throw WireError(.notAllowed, "no verified certificate")
                        }
                        machine = SessionStateMachine(local: hello, authenticatedPeer: verified)
                        outcome.peer = verified
                        outcome.helloSeen = true
                        onHello()
                    }
                    for action in machine!.receive(message) {
                        switch action {
                        case .send(let reply):
                            try await out.send(reply)
                        case .sendVector:
                            guard let peer = outcome.peer else { break reading }
                            let name = machine?.peerHello?.siteName ?? ""
                            guard registry.attach(peer: peer, id: id, channel: channel, dialer: dialedByUs ? hello.siteID : peer, name: name) else {
                                try await out.send(.goodbye("duplicate session: keeping the one dialled by the smaller site ID"))
                                outcome.duplicate = true
                                break reading
                            }
                            link = registry.link(peer)
                            out.link = link
                            logger.notice("connected to peer \(peer) (\(name)) at \(remote)")
                            try await out.send(.vector(await site.versionVector()))
                        case .startSending(let vector):
                            guard let link else { break }
                            link.update { $0.vector = vector }
                            let deltas = (machine?.agreedVersion ?? 0) >= WireCodec.deltaVersion
                            group.addTask { try await sendAll(to: link, out: out, deltas: deltas) }
                        case .deliver(.blobDelta(let delta)):
                            // The base came in this session and is not stored yet, or is in the log.
                            var base = batch.content(of: delta.base)
                            if base == nil { base = try await site.blobContent(delta.base) }
                            guard let base else {
                                throw WireError(.blobMismatch, "delta for blob \(delta.hash.hex) is against \(delta.base.hex), which this site does not hold")
                            }
                            try batch.take(delta, base: base)
                            if batch.isFull, try await !flush() { break reading }
                        case .deliver(let content):
                            try batch.take(content)
                            if batch.isFull, try await !flush() { break reading }
                        case .peerCaughtUp:
                            live = true
                            if try await !flush() { break reading }
                        case .peerReport(let report):
                            link?.update { $0.reported = report }
                        case .close(let reason):
                            if let reason {
                                outcome.error = reason.description
                                logger.warning("session with \(outcome.peer.map(\.rawValue) ?? remote) ended by the peer: \(reason)")
                            }
                            break reading
                        }
                    }
                }
                if live, try await !flush() { break reading }
            }
            _ = try await flush()
        }
    }

    /// Sends the backlog the peer lacks, then `caughtUp`, then every new entry as it is logged.
    private func sendAll(to link: PeerLink, out: FrameOutput, deltas: Bool) async throws {
        let growth = await site.logGrowth()
        let (positions, through) = try await site.backlog(for: link.vector)
        var sender = EntrySender(site: site, link: link, out: out, deltas: deltas)
        var index = 0
        while index < positions.count {
            let page = positions[index..<min(index + Self.pageSize, positions.count)]
            for (_, entry) in try await site.entries(at: page) { try await sender.send(entry) }
            try await out.flush()
            index += Self.pageSize
        }
        try await out.send(.caughtUp)
        try await out.send(.status(await site.report(peersConnected: registry.connectedCount, peersConfigured: registry.configuredCount)))
        var cursor = through
        for await _ in growth {
            while true {
                let page = try await site.entries(after: cursor, limit: Self.pageSize)
                guard let last = page.last else { break }
                for (_, entry) in page { try await sender.send(entry) }
                try await out.flush()
                cursor = last.0
            }
        }
    }

    /// Pings while the session is quiet; closes it when the peer has said nothing for too long.
    private func watchSilence(channel: Channel, out: FrameOutput) async {
        var nonce: UInt64 = 0
        while (try? await Task.sleep(for: Self.pingInterval)) != nil {
            if out.silence > Self.silenceLimit {
                logger.warning("peer at \(remote) silent for \(Self.silenceLimit); closing")
                try? await out.send(.error(WireError(.timeout, "no message for \(Self.silenceLimit)")))
                channel.close(promise: nil)
                return
            }
            nonce += 1
            try? await out.send(.ping(nonce))
            if out.link != nil {
                try? await out.send(.status(await site.report(peersConnected: registry.connectedCount, peersConfigured: registry.configuredCount)))
            }
        }
    }
}

/// Sends entries with what each needs first: its origin's key once per session, its content once,
/// and only if the peer does not hold it already, as a delta when it can.
struct EntrySender {
    let site: SiteLog
    let link: PeerLink
    let out: FrameOutput
    /// The peer speaks `blob_delta` (protocol v2).
    let deltas: Bool
    var sentKeys = Set<SiteID>()
    var sentBlobs = Set<ContentHash>()

    init(site: SiteLog, link: PeerLink, out: FrameOutput, deltas: Bool) {
        self.site = site
        self.link = link
        self.out = out
        self.deltas = deltas
    }

    mutating func send(_ entry: LogEntry) async throws {
        guard entry.sequence > link.vector[entry.origin] else { return }
        if !sentKeys.contains(entry.origin) {
            guard let key = try await site.publicKey(of: entry.origin) else { throw WireError(.internal, "no key for \(entry.origin)") }
            out.enqueue(.site(publicKeyDER: key.der))
            sentKeys.insert(entry.origin)
        }
        if let hash = entry.contentHash, !sentBlobs.contains(hash) {
            switch try await site.plan(contentOf: entry, for: link.vector, deltas: deltas) {
            case .held?:
                break
            case .delta(let delta)?:
                out.enqueue(.blobDelta(delta))
            case .whole(let blob)?:
                var offset = 0
                repeat {
                    let end = min(offset + WireCodec.blobPartLength, blob.data.count)
                    out.enqueue(.blobPart(BlobPart(hash: hash, size: blob.size, encoding: UInt8(blob.encoding.rawValue),
                                                   storedSize: UInt64(blob.data.count), offset: UInt64(offset),
                                                   bytes: Array(blob.data[offset..<end]))))
                    if out.queuedBytes >= FrameOutput.flushThreshold { try await out.flush() }
                    offset = end
                } while offset < blob.data.count
            case nil:
                throw WireError(.internal, "blob \(hash.hex) missing")
            }
            if sentBlobs.count > 100_000 { sentBlobs.removeAll() }
            sentBlobs.insert(hash)
        }
        out.enqueue(.entry(entry))
        if out.queuedBytes >= FrameOutput.flushThreshold { try await out.flush() }
        link.peerHolds(entry)
        link.update {
            $0.entriesSent += 1
            $0.lastExchange = Date()
        }
    }
}

/// Writes frames and counts their bytes, and notes when the peer was last heard; shared by the
/// session's reader, sender and pinger.
///
/// Frames go out in the order they were queued, whichever task flushes: the queue is taken and
/// handed to the channel under one lock, and the event loop writes in the order it was handed
/// buffers. An entry therefore never overtakes the blob queued before it. Waiting for the write
/// to complete is the back-pressure.
final class FrameOutput: Sendable {
    let channel: Channel
    private let peerLink = Mutex<PeerLink?>(nil)
    private let lastHeard = Mutex(ContinuousClock.now)

    func heard() { lastHeard.withLock { $0 = .now } }
    var silence: Duration { ContinuousClock.now - lastHeard.withLock { $0 } }

    init(channel: Channel) { self.channel = channel }

    var link: PeerLink? {
        get { peerLink.withLock { $0 } }
        set { peerLink.withLock { $0 = newValue } }
    }

    /// Frames queued by `enqueue`, written together by `flush`: one TLS record and one syscall
    /// for a page of entries instead of one per frame.
    private let queued = Mutex<[UInt8]>([])
    static let flushThreshold = 1 << 20

    func send(_ message: WireMessage) async throws {
        enqueue(message)
        try await flush()
    }

    /// Queues a frame; writes the queue once it passes 1 MiB.
    func enqueue(_ message: WireMessage) {
        let frame = FrameDecoder.frame(WireCodec.encode(message))
        queued.withLock { $0 += frame }
    }

    var queuedBytes: Int { queued.withLock { $0.count } }

    func flush() async throws {
        let (written, count) = queued.withLock { pending -> (EventLoopFuture<Void>?, Int) in
            guard !pending.isEmpty else { return (nil, 0) }
            defer { pending = [] }
            return (channel.writeAndFlush(ByteBuffer(bytes: pending)), pending.count)
        }
        guard let written else { return }
        try await written.get()
        link?.sent(bytes: count)
    }
}
