/// The order of a replication session, as a value: feed it each message received, act on what
/// it returns. No sockets, no clocks: the session's I/O is a thin loop around it.
///
/// hello -> (versions agreed) vector -> replicating (sites, blobs, entries, caught-up, live).
public struct SessionStateMachine: Sendable {
    public enum Phase: Sendable, Equatable { case awaitingHello, awaitingVector, awaitingChainTips, replicating, closed }

    public enum Action: Sendable, Equatable {
        case send(WireMessage)
        /// Versions are agreed: send this site's version vector.
        case sendVector
        /// The peer's vector arrived: start sending it what it lacks.
        case startSending(VersionVector, [ChainTip])
        /// Content to check and store: a site key, a blob part or an entry.
        case deliver(WireMessage)
        /// The peer has sent everything it had when the session began.
        case peerCaughtUp
        case peerReport(PeerReport)
        /// End the session; with an error, it was sent to the peer first (or came from it).
        case close(WireError?)
    }

    public let local: Hello
    /// The site the TLS handshake proved the peer to be.
    public let authenticatedPeer: SiteID
    public private(set) var phase: Phase = .awaitingHello
    public private(set) var peerHello: Hello?
    public private(set) var agreedVersion: UInt16?
    /// The peer's vector, kept until its chain tips arrive (v4): the sender starts with both.
    private var peerVector: VersionVector?
    private var peerTips: [ChainTip] = []
    private var peerTipsCost = 0

    public init(local: Hello, authenticatedPeer: SiteID) {
        self.local = local
        self.authenticatedPeer = authenticatedPeer
    }

    /// What to send first.
    public func start() -> [Action] { [.send(.hello(local))] }

    public mutating func receive(_ message: WireMessage) -> [Action] {
        switch (phase, message) {
        case (.closed, _):
            return []
        case (_, .error(let error)):
            phase = .closed
            return [.close(error)]
        case (_, .goodbye):
            phase = .closed
            return [.close(nil)]
        case (.awaitingHello, .hello(let hello)):
            guard hello.siteID == authenticatedPeer else {
                return fail(WireError(.notAllowed, "certificate belongs to \(authenticatedPeer) but hello says \(hello.siteID)"))
            }
            switch Hello.negotiate(local: local, remote: hello) {
            case .failure(let error): return fail(error)
            case .success(let version):
                peerHello = hello
                agreedVersion = version
                phase = .awaitingVector
                return [.sendVector]
            }
        case (.awaitingHello, _):
            return fail(WireError(.unexpectedMessage, "expected hello, got \(message.kind)"))
        case (_, .ping(let nonce)):
            return [.send(.pong(nonce))]
        case (_, .pong):
            return []
        case (_, .status(let report)):
            return [.peerReport(report)]
        case (.awaitingVector, .vector(let vector)):
            if let agreedVersion, agreedVersion >= WireCodec.chainTipsVersion {
                phase = .awaitingChainTips
                peerVector = vector
                return []
            }
            phase = .replicating
            return [.startSending(vector, [])]
        case (.awaitingChainTips, .chainTips(let frame)):
            // Bounded like a vector: one tip per origin, and what they all cost, however many frames carry them.
            peerTipsCost += frame.tips.reduce(0) { $0 + $1.cost }
            guard peerTips.count + frame.tips.count <= WireCodec.maximumVectorOrigins, peerTipsCost <= ChainTip.maximumTotalCost else {
                return fail(WireError(.tooLarge, "chain tips of more than \(WireCodec.maximumVectorOrigins) origins or \(ChainTip.maximumTotalCost) bytes"))
            }
            peerTips += frame.tips
            guard frame.last else { return [] }
            phase = .replicating
            defer { peerVector = nil; peerTips = [] }
            return [.startSending(peerVector ?? VersionVector(), peerTips)]
        case (.replicating, .site), (.replicating, .blobPart), (.replicating, .entry):
            return [.deliver(message)]
        case (.replicating, .blobDelta):
            guard let agreedVersion, agreedVersion >= WireCodec.deltaVersion else {
                return fail(WireError(.unexpectedMessage, "blob_delta needs protocol v\(WireCodec.deltaVersion); v\(agreedVersion ?? 0) was agreed"))
            }
            return [.deliver(message)]
        case (.replicating, .author):
            guard let agreedVersion, agreedVersion >= WireCodec.authorVersion else {
                return fail(WireError(.unexpectedMessage, "author needs protocol v\(WireCodec.authorVersion); v\(agreedVersion ?? 0) was agreed"))
            }
            return [.deliver(message)]
        case (.replicating, .caughtUp):
            return [.peerCaughtUp]
        default:
            return fail(WireError(.unexpectedMessage, "\(message.kind) is not expected while \(phase)"))
        }
    }

    private mutating func fail(_ error: WireError) -> [Action] {
        phase = .closed
        return [.send(.error(error)), .close(error)]
    }
}
