import Foundation
import Logging
import Testing
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import TestSupport
@testable import NewsDaemon
@testable import Store
import SyncProtocol

/// A real replication listener in this process over `site`, listing `peers` as accept-only:
/// for tests that play a peer by hand on the wire.
struct ListeningSite {
    let site: SiteLog
    let registry: PeerRegistry
    let port: Int

    static func run(_ site: SiteLog, key: SiteKey, peers: [SiteID], timing: SessionTiming = SessionTiming(),
                    _ body: (ListeningSite) async throws -> Void) async throws {
        let logger = Logger(label: "listening-site")
        let registry = PeerRegistry(local: key.siteID, peers: peers.map { PeerAddress(site: $0, endpoint: nil) }, logger: logger)
        let service = try ReplicationService(site: site, registry: registry, listen: Endpoint(host: "127.0.0.1", port: 0),
                                             key: key, siteName: "victim", logger: logger, timing: timing)
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var port: Int?
            for _ in 0..<500 where port == nil {
                port = service.port
                if port == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            try await body(ListeningSite(site: site, registry: registry, port: try #require(port)))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func frame(_ message: WireMessage) -> [UInt8] { FrameDecoder.frame(WireCodec.encode(message)) }

    /// The opening a listed peer sends: its hello, an empty vector and (v4) no chain tips.
    static func opening(_ key: SiteKey) -> [[UInt8]] {
        [frame(.hello(Hello(siteID: key.siteID, siteName: "mallory"))), frame(.vector(VersionVector())),
         frame(.chainTips(ChainTips(tips: [], last: true)))]
    }

    /// Connects as `key`, sends `frames`, and returns what the site answered until it closed the
    /// connection; fails after `timeout`.
    func converse(as key: SiteKey, sendingHello: Bool = true, then frames: [[UInt8]],
                  timeout: Duration = .seconds(20)) async throws -> [WireMessage] {
        try await Self.converse(port: port, as: key, sendingHello: sendingHello, then: frames, timeout: timeout)
    }

    static func converse(port: Int, as key: SiteKey, sendingHello: Bool = true, then frames: [[UInt8]],
                         timeout: Duration = .seconds(20)) async throws -> [WireMessage] {
        let channel = try await connectAsPeer(port: port, key: key)
        let closer = channel.channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout / .milliseconds(1)))) {
            channel.channel.close(promise: nil)
        }
        defer { closer.cancel() }
        let started = ContinuousClock.now
        let received = try await channel.executeThenClose { inbound, outbound in
            for frame in (sendingHello ? Self.opening(key) : []) + frames { try await outbound.write(ByteBuffer(bytes: frame)) }
            var decoder = FrameDecoder(maximumFrameLength: WireCodec.maximumFrameLength)
            var received: [WireMessage] = []
            do {
                for try await buffer in inbound {
                    decoder.append(buffer.readableBytesView)
                    while let frame = try decoder.nextFrame() { received.append(try WireCodec.decode(frame)) }
                }
            } catch is ChannelError, is NIOSSLError, is IOError {
                // The site closed or reset the connection: what it said before is the answer. A
                // frame that does not decode is not caught.
            }
            return received
        }
        if ContinuousClock.now - started >= timeout { throw TimedOut(description: "the site did not end the session within \(timeout)") }
        return received
    }

    static func errorCode(_ messages: [WireMessage]) -> WireError.Code? {
        for case .error(let error) in messages { return error.code }
        return nil
    }
}
