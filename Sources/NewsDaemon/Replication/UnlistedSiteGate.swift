import NIOCore
import NIOSSL
import NIOTLS
import SyncProtocol

/// Lets a site that is not a peer finish the TLS handshake, so that it proves it holds the key
/// of the ID it presents (the certificate check runs before that proof), then notes it for
/// `newsctl peers --pending` and closes the connection before a byte of application data is
/// read. A site noted from its certificate alone could be anyone claiming any ID.
final class UnlistedSiteGate: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let authenticated: AuthenticatedPeer
    let registry: PeerRegistry
    let from: String

    init(authenticated: AuthenticatedPeer, registry: PeerRegistry, from: String) {
        self.authenticated = authenticated
        self.registry = registry
        self.from = from
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, let site = authenticated.unlisted.withLock({ $0 }) {
            registry.notePending(site, from: from)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Nothing from a site that is not a peer goes further, whatever arrives before the close.
        guard authenticated.unlisted.withLock({ $0 }) == nil else { return }
        context.fireChannelRead(data)
    }
}
