import Foundation
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization
import ServiceLifecycle
import SyncProtocol

/// Serves newsctl on a Unix socket: length-prefixed JSON requests, one task per connection.
///
/// The socket is made safely: a live daemon answering on the path means refuse to start; a stale
/// socket is removed; anything else at the path is left alone and reported. Mode 0660, so the
/// daemon's user and group can connect and no one else.
public final class ControlServer: Service {
    public let path: String
    let dispatcher: ControlDispatcher
    let logger: Logger
    /// A client that sends nothing for this long is disconnected.
    let idleTimeout: TimeAmount
    let onBound: @Sendable () async -> Void

    public init(path: String, dispatcher: ControlDispatcher, logger: Logger, idleTimeout: TimeAmount = .seconds(30),
                onBound: @escaping @Sendable () async -> Void = {}) {
        self.onBound = onBound
        self.path = path
        self.dispatcher = dispatcher
        self.logger = logger
        self.idleTimeout = idleTimeout
    }

    public struct SocketInUse: Error, CustomStringConvertible {
        public let path: String
        public let detail: String
        public var description: String { "control socket \(path): \(detail)" }
    }

    /// Clears the way for `bind`, or says why it cannot.
    public static func prepare(path: String) throws {
        guard path.utf8.count < 108 else {
            throw SocketInUse(path: path, detail: "path is \(path.utf8.count) bytes; Unix sockets allow 107 (use --control with a shorter path)")
        }
        var raw = stat()
        guard lstat(path, &raw) == 0 else { return }
        guard raw.st_mode & S_IFMT == S_IFSOCK else {
            throw SocketInUse(path: path, detail: "exists and is not a socket; not removing it")
        }
        if ControlSocketProbe.answers(path) {
            throw SocketInUse(path: path, detail: "another newsd is answering there")
        }
        unlink(path)
    }

    public func run() async throws {
        try Self.prepare(path: path)
        let timeout = idleTimeout
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: timeout))
                    try channel.pipeline.syncOperations.addHandler(CloseOnIdleHandler())
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        chmod(path, 0o660)
        logger.debug("control socket listening at \(path)")
        await onBound()
        defer { unlink(path) }
        try await serveConnections(of: server) { connection in await self.serve(connection) }
    }

    /// Answers requests on one connection until the client hangs up. Never throws: a bad client
    /// is answered, logged and dropped; the server goes on.
    func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var decoder = FrameDecoder(maximumFrameLength: ControlLimits.maximumRequestBytes)
                // The idle timeout is for a client that stops talking, not for a request that takes
                // long to answer (verify of a large log).
                let idle = try? await connection.channel.pipeline.handler(type: CloseOnIdleHandler.self).get()
                let caller = await Self.caller(of: connection.channel)
                for try await buffer in inbound {
                    decoder.append(buffer.readableBytesView)
                    do {
                        while let frame = try decoder.nextFrame() {
                            if let backup = await CloseOnIdleHandler.answering(idle, { await dispatcher.backup(frame, caller: caller) }) {
                                defer { if let path = backup.path { ControlBackup.remove(path) } }
                                try await outbound.write(ByteBuffer(bytes: FrameDecoder.frame(backup.response)))
                                if let path = backup.path { try await stream(path, to: outbound, channel: connection.channel, idle: idle) }
                                continue
                            }
                            // Busy while answering; the write that follows is idle time again, so a
                            // client that stops reading its answer is still closed.
                            let response = await CloseOnIdleHandler.answering(idle) { await dispatcher.respond(to: frame, caller: caller) }
                            try await outbound.write(ByteBuffer(bytes: FrameDecoder.frame(response)))
                        }
                    } catch let error as FrameDecoder.FrameError {
                        logger.warning("control client sent an oversized request: \(error)")
                        let reply = ControlDispatcher.failure(ControlFailure(.badRequest, error.description))
                        try await outbound.write(ByteBuffer(bytes: FrameDecoder.frame(reply)))
                        return
                    }
                }
            }
        } catch {
            logger.debug("control connection ended: \(error)")
        }
    }
}

extension ControlServer {
    /// A backup copy, frame by frame. The connection counts as busy (the client only reads), so a
    /// reader that stops reading is dropped here instead: no chunk taken for 60 s closes it.
    func stream(_ path: String, to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, channel: Channel, idle: CloseOnIdleHandler?) async throws {
        idle?.busy.add(1, ordering: .relaxed)
        defer { idle?.busy.subtract(1, ordering: .relaxed) }
        let reader = try ControlBackup.ChunkReader(path)
        let lastWrite = NIOLockedValueBox(ContinuousClock.now)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while (try? await Task.sleep(for: .seconds(1))) != nil {
                    if ContinuousClock.now - lastWrite.withLockedValue({ $0 }) > .seconds(60) {
                        try? await channel.close()
                        return
                    }
                }
            }
            defer { group.cancelAll() }
            while let chunk = try reader.next() {
                try await outbound.write(ByteBuffer(bytes: FrameDecoder.frame(chunk)))
                lastWrite.withLockedValue { $0 = .now }
            }
        }
    }

    /// The connected process's user, group and pid, from the kernel (`SO_PEERCRED`).
    static func caller(of channel: Channel) async -> ControlAccess.Caller? {
        guard let provider = channel as? SocketOptionProvider else { return nil }
        // `struct ucred` (pid, uid, gid), which Glibc's module does not export without _GNU_SOURCE.
        struct PeerCredentials { var pid: Int32 = 0; var uid: UInt32 = 0; var gid: UInt32 = 0 }
        let credentials: PeerCredentials
        do {
            credentials = try await provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)).get()
        } catch { return nil }
        return ControlAccess.Caller(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid)
    }
}

/// Closes a connection whose client has gone quiet, so a hung newsctl holds nothing for long;
/// never while one of its requests is being answered.
final class CloseOnIdleHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    /// Requests of this connection being answered now.
    let busy = Atomic<Int>(0)

    /// Runs `answer` with the connection counted busy, so the idle timeout does not close it meanwhile.
    static func answering<T>(_ handler: CloseOnIdleHandler?, _ answer: () async -> T) async -> T {
        handler?.busy.add(1, ordering: .relaxed)
        defer { handler?.busy.subtract(1, ordering: .relaxed) }
        return await answer()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if busy.load(ordering: .relaxed) == 0 { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// Whether something accepts connections on a Unix socket path (a blocking connect, no data sent).
enum ControlSocketProbe {
    static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let size = socklen_t(MemoryLayout<sockaddr_un>.size)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) == 0 }
        }
    }
}
