import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import SyncProtocol

/// Accepts peers on the listen address and dials every peer with an address, each session over
/// mutually authenticated TLS 1.3. A bad connection never stops the others.
public final class ReplicationService: Service {
    let site: SiteLog
    let registry: PeerRegistry
    let listen: Endpoint
    let credentials: SiteCredentials
    let hello: Hello
    let logger: Logger
    /// Connections not yet past their hello, at most: 1,000 sockets opened at once cost this many.
    let maximumPendingConnections = 256
    private let pending = Mutex(0)
    private let boundPort = Mutex<Int?>(nil)
    /// Peers with a dialler running; a reload starts diallers for new ones.
    private let dialing = Mutex<Set<SiteID>>([])
    private let events: AsyncStream<Event>
    private let eventsContinuation: AsyncStream<Event>.Continuation
    let onBound: @Sendable () async -> Void
    let timing: SessionTiming

    public init(site: SiteLog, registry: PeerRegistry, listen: Endpoint, key: SiteKey, siteName: String, logger: Logger,
                timing: SessionTiming = SessionTiming(), onBound: @escaping @Sendable () async -> Void = {}) throws {
        self.onBound = onBound
        self.timing = timing
        (events, eventsContinuation) = AsyncStream.makeStream(of: Event.self)
        self.site = site
        self.registry = registry
        self.listen = listen
        self.credentials = try SiteCredentials(key: key)
        self.hello = Hello(minimumVersion: WireCodec.minimumVersion, maximumVersion: WireCodec.currentVersion, siteID: key.siteID, siteName: siteName)
        self.logger = logger
    }

    /// The port actually bound (useful when listening on port 0).
    public var port: Int? { boundPort.withLock { $0 } }

    /// What the run loop is asked to do: dial a peer newly listed, or accept on a new listener.
    private enum Event: Sendable {
        case peer(SiteID)
        case accept(NIOAsyncChannel<Accepted, Never>)
    }

    /// The listening socket in use, and the address it was asked for.
    private struct Listener: Sendable {
        let server: NIOAsyncChannel<Accepted, Never>
        let requested: Endpoint
        var bound: Endpoint { Endpoint(host: requested.host, port: server.channel.localAddress?.port ?? requested.port) }
    }
    private let listener = Mutex<Listener?>(nil)

    /// Every connection open now, accepted or dialled, from the moment its channel exists: a stop
    /// closes them all, so none waits out a connect timeout or a hello limit (a peer that accepts
    /// TCP and never answers held a stop for 7 s).
    private let openChannels = Mutex<[ObjectIdentifier: any Channel]>([:])

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        openChannels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in self?.openChannels.withLock { _ = $0.removeValue(forKey: id) } }
    }

    public func run() async throws {
        let serverContext = try credentials.serverContext()
        let clientContext = try credentials.clientContext()
        self.serverContext.withLock { $0 = serverContext }
        let first = try await bind(listen, context: serverContext)
        use(first)
        await onBound()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                for peer in registry.peers { eventsContinuation.yield(.peer(peer.site)) }
                group.addTask { try await self.acceptWhileInUse(first) }
                for await event in events {
                    switch event {
                    case .peer(let peer):
                        guard registry.address(of: peer)?.endpoint != nil,
                              dialing.withLock({ $0.insert(peer).inserted }) else { continue }
                        group.addTask {
                            await self.dial(peer, context: clientContext)
                            self.dialing.withLock { _ = $0.remove(peer) }
                            // Given an address again while this dialler was ending: a new one.
                            if !Task.isShuttingDownGracefully, !Task.isCancelled, self.registry.address(of: peer)?.endpoint != nil {
                                self.eventsContinuation.yield(.peer(peer))
                            }
                        }
                    case .accept(let server):
                        group.addTask { try await self.acceptWhileInUse(server) }
                    }
                }
            }
        } onGracefulShutdown: {
            self.eventsContinuation.finish()
            self.listener.withLock { $0 }?.server.channel.close(promise: nil)
            self.registry.closeAll()
            for channel in self.openChannels.withLock({ Array($0.values) }) { channel.close(promise: nil) }
        }
    }

    /// Applies a new peer list (SIGHUP, `newsctl peers add`): sessions with dropped peers close,
    /// new peers are dialled.
    public func reconfigure(peers: [PeerAddress]) {
        registry.configure(peers)
        for peer in peers { eventsContinuation.yield(.peer(peer.site)) }
    }

    /// Accepts peers on `endpoint` instead (a reload changed `listen`); established sessions stay
    /// up. Returns the address now bound; on failure the old address is still accepting.
    public func listen(on endpoint: Endpoint) async -> Result<String, ListenFailure> {
        guard let context = serverContext.withLock({ $0 }) else {
            if endpoint == listen { return .success(endpoint.description) }
            return .failure(ListenFailure(endpoint: endpoint, reason: "not accepting peers yet"))
        }
        let (accepting, result) = await rebind(to: endpoint, context: context)
        if let accepting, case .terminated = eventsContinuation.yield(.accept(accepting)) {
            // Stopping: the run loop takes no more listeners.
            accepting.channel.close(promise: nil)
        }
        return result
    }
    private let serverContext = Mutex<NIOSSLContext?>(nil)

    private func bind(_ endpoint: Endpoint, context serverContext: NIOSSLContext) async throws(ListenFailure) -> NIOAsyncChannel<Accepted, Never> {
        do {
            return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                // Room for a burst of connections in the kernel's queue: past the pending-hello limit they
                // are accepted and closed at once, which a client in SYN retransmission would wait seconds for.
                .serverChannelOption(.backlog, value: 1024)
                .childChannelOption(.socketOption(.so_keepalive), value: 1)
                .bind(host: endpoint.host, port: endpoint.port) { [registry] channel in
                    self.track(channel)
                    let authenticated = AuthenticatedPeer()
                    let activity = SessionActivity()
                    let remote = channel.remoteAddress?.description ?? "?"
                    let from = channel.remoteAddress?.ipAddress ?? remote
                    return channel.eventLoop.makeCompletedFuture {
                        let verify = Self.verifier(registry: registry, authenticated: authenticated, from: from)
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverContext, customVerificationCallback: verify))
                        try channel.pipeline.syncOperations.addHandler(UnlistedSiteGate(authenticated: authenticated, registry: registry, from: from))
                        try channel.pipeline.syncOperations.addHandler(SessionActivity.Handler(activity))
                        return Accepted(connection: try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel),
                                        authenticated: authenticated, activity: activity, remote: remote)
                    }
                }
        } catch let error as IOError {
            throw ListenFailure(endpoint: endpoint, reason: String(cString: strerror(error.errnoCode)), code: error.errnoCode)
        } catch {
            throw ListenFailure(endpoint: endpoint, reason: "\(error)")
        }
    }

    /// Makes `server` the listener in use and says where it is.
    private func use(_ server: NIOAsyncChannel<Accepted, Never>, requested: Endpoint? = nil) {
        let next = Listener(server: server, requested: requested ?? listen)
        listener.withLock { $0 = next }
        boundPort.withLock { $0 = next.bound.port }
        registry.setListening(next.bound.description)
        logger.notice("accepting peers on \(next.bound)")
    }

    /// Binds `endpoint`, then lets the old listener go. The same port on another address (loopback
    /// to all addresses, say) cannot be bound while the old socket holds it: then the old one is
    /// closed first and, if the new bind still fails, taken back.
    private func rebind(to endpoint: Endpoint, context: NIOSSLContext) async
        -> (accepting: NIOAsyncChannel<Accepted, Never>?, result: Result<String, ListenFailure>) {
        guard let old = listener.withLock({ $0 }) else {
            // The last rebind lost every address: bind afresh.
            do {
                let next = try await bind(endpoint, context: context)
                use(next, requested: endpoint)
                return (next, .success(listener.withLock { $0 }!.bound.description))
            } catch {
                return (nil, .failure(error))
            }
        }
        if endpoint == old.requested { return (nil, .success(old.bound.description)) }
        do {
            let next = try await bind(endpoint, context: context)
            use(next, requested: endpoint)
            old.server.channel.close(promise: nil)
            return (next, .success(listener.withLock { $0 }!.bound.description))
        } catch {
            // Only a port the old socket itself holds is worth letting go of it for; a host that
            // does not exist here (EADDRNOTAVAIL) keeps the old listener.
            guard endpoint.port != 0, endpoint.port == old.bound.port, error.code == EADDRINUSE else {
                logger.error("reload: \(error); still accepting peers on \(old.bound)")
                return (nil, .failure(error))
            }
            try? await old.server.channel.close()
            do {
                let next = try await bind(endpoint, context: context)
                use(next, requested: endpoint)
                return (next, .success(next.channel.localAddress.map { "\(endpoint.host):\($0.port ?? endpoint.port)" } ?? endpoint.description))
            } catch {
                logger.error("reload: \(error); taking \(old.bound) back")
                do {
                    let back = try await bind(old.bound, context: context)
                    use(back, requested: old.requested)
                    return (back, .failure(error))
                } catch let lost {
                    // Nothing holds a port now: said loudly; sessions that are up stay up, and
                    // this site still dials its peers.
                    listener.withLock { $0 = nil }
                    logger.critical("not accepting peers: \(lost); established sessions and dialled peers go on; fix `listen` and reload")
                    return (nil, .failure(error))
                }
            }
        }
    }

    /// Accepts on `server` until it is closed; a listener replaced by a reload ends quietly, its
    /// sessions going on to their own ends.
    private func acceptWhileInUse(_ server: NIOAsyncChannel<Accepted, Never>) async throws {
        do { try await accept(server) } catch {
            let inUse = listener.withLock { $0.map { $0.server.channel === server.channel } ?? false }
            if inUse && !Task.isShuttingDownGracefully { throw error }
        }
    }

    /// An accepted connection, with what its pipeline learns of the peer.
    struct Accepted: Sendable {
        let connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        let authenticated: AuthenticatedPeer
        let activity: SessionActivity
        let remote: String
    }

    /// One task per connection; a bad connection never stops the others.
    private func accept(_ server: NIOAsyncChannel<Accepted, Never>) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await accepted in connections {
                    let (connection, authenticated, remote) = (accepted.connection, accepted.authenticated, accepted.remote)
                    let admitted = pending.withLock { count in
                        guard count < maximumPendingConnections else { return false }
                        count += 1
                        return true
                    }
                    guard admitted else {
                        logger.warning("refusing connection from \(remote): \(maximumPendingConnections) connections already waiting for their hello")
                        registry.countRefused()
                        try? await connection.channel.close()
                        continue
                    }
                    group.addTask {
                        let session = PeerSession(site: self.site, registry: self.registry, hello: self.hello, logger: self.logger,
                                                  dialedByUs: false, authenticated: authenticated, remote: remote, timing: self.timing)
                        await session.run(connection, activity: accepted.activity, onHello: { [self] in pending.withLock { $0 -= 1 } })
                    }
                }
            }
        }
    }

    public struct ListenFailure: Error, CustomStringConvertible {
        public let endpoint: Endpoint
        public let reason: String
        /// The bind's errno, when it was a system call that failed.
        public var code: Int32? = nil
        public var description: String {
            "cannot accept peers on \(endpoint): \(reason) (another newsd there? choose another address with --listen or `listen`)"
        }
    }

    /// Accepts a certificate only if its key's fingerprint is a configured peer. `from`: the
    /// address of a connection this site accepted, where a refused site is remembered as pending.
    static func verifier(registry: PeerRegistry, authenticated: AuthenticatedPeer, from: String? = nil) -> NIOSSLCustomVerificationCallback {
        { certificates, promise in
            guard let leaf = certificates.first, let spki = try? leaf.extractPublicKey().toSPKIBytes() else {
                authenticated.refusal.withLock { $0 = "no usable certificate" }
                promise.succeed(.failed)
                return
            }
            let site = SiteID(publicKeyDER: spki)
            guard registry.isAllowed(site) else {
                let revoked = registry.isRevoked(site)
                let why = revoked ? "site \(site) is revoked" : "site \(site) is not a configured peer (`newsctl peers --pending`)"
                authenticated.refusal.withLock { $0 = why }
                if !revoked, from != nil {
                    // Not refused yet: the handshake goes on so the site proves its key, and the
                    // gate after TLS notes it as pending and closes (nothing else is read).
                    authenticated.unlisted.withLock { $0 = site }
                    promise.succeed(.certificateVerified)
                    return
                }
                promise.succeed(.failed)
                return
            }
            authenticated.site.withLock { $0 = site }
            promise.succeed(.certificateVerified)
        }
    }

    /// Keeps one session with `peer` up: dial, run, back off with jitter, dial again.
    private func dial(_ peer: SiteID, context: NIOSSLContext) async {
        var backoff = ReconnectBackoff()
        var random = SystemRandomNumberGenerator()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            guard let address = registry.address(of: peer)?.endpoint else { return }
            if !registry.isConnected(peer) {
                let started = ContinuousClock.now
                do {
                    let authenticated = AuthenticatedPeer()
                    let activity = SessionActivity()
                    let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .connectTimeout(.seconds(5))
                        .connect(host: address.host, port: address.port) { [registry] channel in
                            self.track(channel)
                            return channel.eventLoop.makeCompletedFuture {
                                let verify = Self.verifier(registry: registry, authenticated: authenticated)
                                try channel.pipeline.syncOperations.addHandler(
                                    try NIOSSLClientHandler(context: context, serverHostname: nil, customVerificationCallback: verify))
                                try channel.pipeline.syncOperations.addHandler(SessionActivity.Handler(activity))
                                return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                            }
                        }
                    let session = PeerSession(site: site, registry: registry, hello: hello, logger: logger, dialedByUs: true,
                                              authenticated: authenticated, remote: address.description, timing: timing)
                    let outcome = await session.run(connection, activity: activity, onHello: {})
                    backoff.sessionEnded(clean: outcome.error == nil || outcome.duplicate, lasted: ContinuousClock.now - started)
                    // Refused before its hello (not trusted there, wrong version): this peer will not
                    // answer. One that failed later is retried within the rejoin's time limit.
                    if let error = outcome.error, !outcome.helloSeen { site.rejoin?.unreachable(peer, "session refused: \(error)") }
                } catch {
                    site.rejoin?.unreachable(peer, "\(error)")
                    backoff.dialFailed()
                    registry.noteDialFailure(peer: peer, error: "\(error)")
                    if backoff.failures <= 1 { logger.info("cannot reach peer \(peer) at \(address): \(error); retrying with back-off") }
                }
            }
            // `newsctl sync` cuts the wait short.
            let wait = registry.isConnected(peer) ? .milliseconds(500) : backoff.delay(using: &random)
            let deadline = ContinuousClock.now + wait
            while ContinuousClock.now < deadline {
                if registry.takeNudge(peer) { break }
                guard (try? await Task.sleep(for: .milliseconds(100))) != nil else { return }
            }
        }
    }
}
