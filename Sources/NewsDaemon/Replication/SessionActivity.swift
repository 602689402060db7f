import NIOCore
import Synchronization

/// When the peer last sent bytes, counted where they arrive on the channel: the watchdog's measure
/// of silence. Time the session's reader spends on its own work (the log busy with a scan, verify,
/// a `syncfs`) is the site's slowness, not the peer's silence, and is not counted.
final class SessionActivity: Sendable {
    private struct State {
        var lastBytes = ContinuousClock.now
        var working = false
    }
    private let state = Mutex(State())

    func heard() { state.withLock { $0.lastBytes = .now } }

    /// Brackets the reader's work on what it has read.
    func beginWork() { state.withLock { $0.working = true } }
    func endWork() {
        state.withLock {
            $0.working = false
            $0.lastBytes = max($0.lastBytes, .now)
        }
    }

    /// How long the peer has sent nothing while this site was ready to read.
    var silence: Duration {
        state.withLock { $0.working ? .zero : ContinuousClock.now - $0.lastBytes }
    }

    /// The channel handler that notes every read; placed after TLS, before the async channel.
    final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        let activity: SessionActivity
        init(_ activity: SessionActivity) { self.activity = activity }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            activity.heard()
            context.fireChannelRead(data)
        }
    }
}
