import NIOCore
import NIOPosix
import NIOSSL
@testable import NewsDaemon
import SyncProtocol

/// A TLS connection to a site's replication port as the listed peer `key`, for tests that speak
/// the wire protocol by hand.
func connectAsPeer(port: Int, key: SiteKey) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
    let context = try SiteCredentials(key: key).clientContext()
    return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(
                    context: context, serverHostname: nil, customVerificationCallback: { _, promise in promise.succeed(.certificateVerified) }))
                return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
}
