import NIOCore
import Synchronization
import SyncProtocol

/// The one way frames leave a session. The sender batches frames and waits for each batch to be
/// written (its back-pressure); the reader and the watchdog only post, never wait, so neither can
/// sit behind a backlog the peer is not reading. What is handed to the channel and not yet written
/// is counted: past `maximumUnwritten`, or with no write completing for the stall limit, the peer
/// is not reading and the session ends.
///
/// Frames go out in the order they were handed over, whichever task hands them: the queue is taken
/// and given to the channel under one lock, and the event loop writes in the order it was given
/// buffers. An entry therefore never overtakes the blob queued before it.
final class SessionWriter: Sendable {
    let channel: Channel
    private let peerLink = Mutex<PeerLink?>(nil)
    private let state = Mutex(State())

    /// The sender writes a batch once it passes this.
    static let flushThreshold = 1 << 20
    /// Bytes given to the channel and not yet written, at most: the sender keeps at most about one
    /// batch in flight, so only a peer that stopped reading while posting to us gets near this.
    static let maximumUnwritten = 16 << 20

    private struct State {
        var queued: [UInt8] = []
        var unwritten = 0
        /// When the oldest unwritten bytes were handed over, or the last write completed since.
        var lastProgress = ContinuousClock.now
    }

    init(channel: Channel) { self.channel = channel }

    var link: PeerLink? {
        get { peerLink.withLock { $0 } }
        set { peerLink.withLock { $0 = newValue } }
    }

    /// Queues a frame; it goes out with the next `flush` or `post`.
    func enqueue(_ message: WireMessage) {
        let frame = FrameDecoder.frame(WireCodec.encode(message))
        state.withLock { $0.queued += frame }
    }

    var queuedBytes: Int { state.withLock { $0.queued.count } }

    /// Writes what is queued and waits until it is written (the sender's back-pressure).
    func flush() async throws {
        guard let written = try write() else { return }
        try await written.get()
    }

    /// Queues `message` and hands the queue to the channel without waiting for it to be written.
    func post(_ message: WireMessage) throws {
        enqueue(message)
        _ = try write()
    }

    /// Posts a last frame and waits at most `limit` for it to be written (a peer that reads nothing
    /// must not hold the session open).
    func sayLast(_ message: WireMessage, within limit: Duration = .seconds(2)) async {
        enqueue(message)
        guard let written = try? write() else { return }
        let promise = channel.eventLoop.makePromise(of: Void.self)
        written.cascade(to: promise)
        let timeout = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(limit.components.seconds * 1000))) {
            promise.fail(ChannelError.ioOnClosedChannel)
        }
        _ = try? await promise.futureResult.get()
        timeout.cancel()
    }

    /// How long bytes have been waiting to be written with none completing; zero when none wait.
    var stalledFor: Duration {
        state.withLock { $0.unwritten == 0 ? .zero : ContinuousClock.now - $0.lastProgress }
    }

    var unwrittenBytes: Int { state.withLock { $0.unwritten } }

    /// Writes are handed over in pieces of this size, each with its own completion, so a slow
    /// but reading peer shows progress every piece, not only after a whole 4 MiB blob part.
    static let pieceBytes = 64 << 10

    private func write() throws -> EventLoopFuture<Void>? {
        let handed: [(EventLoopFuture<Void>, Int)]? = try state.withLock { s in
            guard !s.queued.isEmpty else { return nil }
            guard s.unwritten + s.queued.count <= Self.maximumUnwritten || s.unwritten == 0 else {
                throw WireError(.timeout, "peer is not reading: \(s.unwritten) bytes not yet written")
            }
            if s.unwritten == 0 { s.lastProgress = .now }
            s.unwritten += s.queued.count
            defer { s.queued = [] }
            var pieces: [(EventLoopFuture<Void>, Int)] = []
            var start = 0
            while start < s.queued.count {
                let end = min(start + Self.pieceBytes, s.queued.count)
                pieces.append((channel.write(ByteBuffer(bytes: s.queued[start..<end])), end - start))
                start = end
            }
            channel.flush()
            return pieces
        }
        guard let handed else { return nil }
        // Outside the lock: a future already failed (a closed channel) runs this at once.
        for (future, count) in handed {
            future.whenComplete { [self] result in
                state.withLock {
                    $0.unwritten -= count
                    $0.lastProgress = .now
                }
                if case .success = result { link?.sent(bytes: count) }
            }
        }
        return handed.last?.0
    }
}
