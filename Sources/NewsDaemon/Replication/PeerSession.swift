import Foundation
import Logging
import NIOCore
import NIOSSL
import Store
import Synchronization
import SyncProtocol

/// The site a TLS handshake proved the peer to be, set by the verification callback.
final class AuthenticatedPeer: Sendable {
    let site = Mutex<SiteID?>(nil)
    /// Why the certificate was refused, for the session's one log line.
    let refusal = Mutex<String?>(nil)
    /// A site that is not a peer, let through the handshake to prove its key (see UnlistedSiteGate).
    let unlisted = Mutex<SiteID?>(nil)
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
    var timing = SessionTiming()

    static let pageSize = 256
    /// A received batch holding at most this many blob bytes is stored while the next is read; a
    /// larger one is stored first (so a session holds at most this beside `IncomingBatch`'s limit,
    /// and the store's own working set, up to `checkoutBytes` of articles being written, now
    /// overlaps with a batch filling).
    static let pipelinedBytes = 32 << 20

    /// What the session learnt, for the log line and the registry when it ends. Written only by
    /// the reader while the session runs and read after its task group has ended.
    final class Outcome: @unchecked Sendable {
        var peer: SiteID?
        var error: String?
        var helloSeen = false
        /// Whether the peer was told why the session ends: the reader and the supervisor may both
        /// want to, and only the first does.
        private let answered = Mutex(false)
        func claimAnswer() -> Bool { answered.withLock { done in defer { done = true }; return !done } }
        /// Closed because another session with the same peer won; not worth an operator's notice.
        var duplicate = false
    }

    /// `onHello` runs once, when the peer's hello arrived or the session ended before it.
    /// Returns what the session learnt: the dialler backs off on an error.
    @discardableResult
    func run(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, activity: SessionActivity,
             onHello: @escaping @Sendable () -> Void) async -> Outcome {
        let id = UUID()
        let outcome = Outcome()
        defer { if !outcome.helloSeen { onHello() } }
        let channel = connection.channel
        let authenticated = self.authenticated
        let helloLimit = timing.helloLimit
        let helloDeadline = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(helloLimit / .milliseconds(1)))) {
            authenticated.refusal.withLock { $0 = $0 ?? "no hello within \(helloLimit)" }
            channel.close(promise: nil)
        }
        defer { helloDeadline.cancel() }
        let onHello: @Sendable () -> Void = {
            helloDeadline.cancel()
            onHello()
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await supervise(inbound: inbound, out: SessionWriter(channel: connection.channel), activity: activity,
                                    channel: connection.channel, id: id, outcome: outcome, onHello: onHello)
            }
        } catch is CancellationError {
            // Shutdown.
        } catch let wire as WireError {
            outcome.error = wire.description
            // Rejected: the peer broke the protocol or went silent; a failure on this side is not its doing.
            if wire.code != .duplicateSession && wire.code != .internal { registry.countRejected() }
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
            } else if error is IOError || error is ChannelError || error is NIOSSLError {
                logger.info("session with \(outcome.peer!) ended: \(error)")
            } else {
                logger.warning("session with \(outcome.peer!) failed: \(error)")
            }
        }
        if outcome.peer == nil && outcome.error == nil {
            // Closed before its hello without an error on this side: timed out, or TLS refused.
            let reason = authenticated.refusal.withLock { $0 } ?? "closed before its hello"
            outcome.error = reason
            registry.countRefused()
            logger.warning("refused connection from \(remote): \(reason)")
        }
        if let peer = outcome.peer {
            registry.detach(peer: peer, id: id, error: outcome.duplicate ? nil : outcome.error)
            if outcome.duplicate {
                logger.debug("closed a duplicate session with peer \(peer)")
            } else {
                logger.notice("disconnected from peer \(peer)")
            }
        }
        return outcome
    }

    /// Runs the session's three tasks, reader, sender and watchdog; the first to end, by error or
    /// not, ends the session, and its error is the session's.
    private func supervise(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>, out: SessionWriter, activity: SessionActivity, channel: Channel,
        id: UUID, outcome: Outcome, onHello: @escaping @Sendable () -> Void
    ) async throws {
        let (starts, startSending) = AsyncStream.makeStream(of: SenderStart.self, bufferingPolicy: .bufferingOldest(1))
        let forkRequests = ForkRequests()
        try out.post(.hello(hello))
        // The reader's failure, kept before the sender is released: the sender, ending because the
        // reader did, may be the first task the group hands back, and the session's error is the
        // reader's (it was lost so once, in a loaded full test run: answered, never logged).
        let readFailure = ReadFailure()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await read(inbound: inbound, out: out, activity: activity, channel: channel, id: id, outcome: outcome,
                                   onHello: onHello, startSending: startSending, forkRequests: forkRequests)
                } catch {
                    readFailure.value.withLock { $0 = error }
                    startSending.finish()
                    throw error
                }
                startSending.finish()
            }
            group.addTask {
                for await start in starts {
                    try await sendAll(to: start.link, holdings: start.holdings, out: out, deltas: start.deltas,
                                      forkAware: start.forkAware, authored: start.authored, peerTips: start.peerTips, ownTips: start.ownTips,
                                      forkRequests: forkRequests)
                    return
                }
            }
            let report = LatestReport()
            group.addTask { try await watch(out: out, activity: activity, report: report) }
            group.addTask {
                // Fetched beside the watchdog, never by it: a busy log must not stop the pings.
                // Only once the peer is attached: a connection before its hello never waits on the log.
                while true {
                    if out.link != nil {
                        let fresh = await site.report(peersConnected: registry.connectedCount, peersConfigured: registry.configuredCount)
                        report.value.withLock { $0 = fresh }
                    }
                    try await Task.sleep(for: out.link == nil ? .milliseconds(100) : timing.pingInterval)
                }
            }
            defer { group.cancelAll() }
            do {
                try await group.next()
                if let failure = readFailure.value.withLock({ $0 }) { throw failure }
            } catch {
                // A frame that fails a check, a store error, a timeout: the peer is told why.
                if let reason = (error as? WireError) ?? (error as? FrameDecoder.FrameError).map({ WireError(.tooLarge, $0.description) }),
                   outcome.claimAnswer() {
                    await out.sayLast(.error(reason))
                }
                // Closed before the others are awaited: a sender waiting on a write the peer never
                // reads ends only when the channel does.
                channel.close(promise: nil)
                throw error
            }
            channel.close(promise: nil)
        }
    }

    /// How the reader ended, if it failed (see `supervise`).
    final class ReadFailure: Sendable {
        let value = Mutex<(any Error)?>(nil)
    }

    /// This site's latest report of itself, fetched beside the watchdog.
    final class LatestReport: Sendable {
        let value = Mutex<PeerReport?>(nil)
    }

    /// What the reader hands the sender once the peer's vector (and, on v4, its chain tips) is in.
    struct SenderStart: Sendable {
        let link: PeerLink
        let holdings: PeerHoldings
        let deltas: Bool
        /// The peer speaks v4: it finds and keeps a second chain. An older peer is never sent an
        /// entry kept beside a chain (it would refuse it as a fork and end the session).
        let forkAware: Bool
        let peerTips: [ChainTip]
        /// The tips this site sent: the plan compares the two the peer compares.
        let ownTips: [ChainTip]?
        /// The peer speaks protocol v5: each entry's author goes before it.
        let authored: Bool
    }

    /// Origins whose entries the reader found the peer lacks mid-session (a second chain of them
    /// arrived): the sender sends their window next, once per origin and place.
    final class ForkRequests: Sendable {
        private let state = Mutex<(pending: [SiteID: UInt64], sent: [SiteID: UInt64], asked: [SiteID: Int])>(([:], [:], [:]))
        /// Windows of one origin per session: a genuine fork needs one; a peer signing entries at
        /// ever lower places of its own chain must not make this site resend it again and again.
        static let perOrigin = 4
        /// Woken when a request is added; the sender also wakes on log growth.
        let wake: AsyncStream<Void>.Continuation
        let wakes: AsyncStream<Void>

        init() { (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1)) }

        /// Asks for every entry of `origin` past `sequence`, unless one sent already covers it.
        func request(_ origin: SiteID, after sequence: UInt64) {
            let added = state.withLock { state -> Bool in
                if let sent = state.sent[origin], sent <= sequence { return false }
                guard state.asked[origin, default: 0] < Self.perOrigin else { return false }
                state.asked[origin, default: 0] += 1
                state.pending[origin] = min(state.pending[origin] ?? .max, sequence)
                return true
            }
            if added { wake.yield() }
        }

        /// The requests to send now; each counts as sent.
        func take() -> [SiteID: UInt64] {
            state.withLock { state in
                let taken = state.pending
                state.pending = [:]
                for (origin, after) in taken { state.sent[origin] = min(state.sent[origin] ?? .max, after) }
                return taken
            }
        }

        func markSent(_ origin: SiteID, after sequence: UInt64) {
            state.withLock {
                $0.sent[origin] = min($0.sent[origin] ?? .max, sequence)
                $0.asked[origin, default: 0] += 1
            }
        }
    }

    /// Reads frames and acts on them until the peer leaves.
    private func read(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>, out: SessionWriter, activity: SessionActivity, channel: Channel,
        id: UUID, outcome: Outcome, onHello: @Sendable () -> Void, startSending: AsyncStream<SenderStart>.Continuation,
        forkRequests: ForkRequests
    ) async throws {
        var decoder = FrameDecoder(maximumFrameLength: WireCodec.maximumFrameLength)
        var machine: SessionStateMachine?
        var batch = IncomingBatch()
        var live = false
        var link: PeerLink?
        var holdings: PeerHoldings?
        var sentTips: [ChainTip]?
        var frames = inbound.makeAsyncIterator()
        // Versions passed over in this session (a second chain's without its start, or past what
        // is kept): an entry that builds on one is passed over too. Bounded like `sentBlobs`.
        var passedOver = Set<VersionID>()

        /// Tells the peer why the session ends, then reads and discards what it still sends for a
        /// moment: closing with its bytes unread would reset the connection, and the reset can
        /// destroy the answer before the peer reads it.
        func refuse(_ reason: WireError) async {
            guard outcome.claimAnswer() else { return }
            try? out.post(.error(reason))
            let closing = channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
            while let buffer = try? await frames.next() { _ = buffer }
            closing.cancel()
        }

        /// The batch the store thread is storing while the next one is read and checked: receiving,
        /// checking signatures and storing overlap, on both cores.
        var storing: Task<RemoteAppend, any Error>?

        /// Stores what has arrived; false when the peer sent something invalid (already answered).
        /// `waiting: false` lets a batch be stored while the session reads on; the next flush (or
        /// `settle`) acts on its result first. A batch over `pipelinedBytes` is stored before more
        /// is read, so at most that much is held beside the session's own limit.
        func flush(waiting: Bool = true) async throws -> Bool {
            guard let link, !batch.isEmpty else { return try await settle() }
            let (entries, blobs) = batch.drain()
            for entry in entries {
                holdings?.holds(entry)
                link.peerHolds(entry)
            }
            // Checked while the batch before is still being stored; then that one is acted on
            // (a refusal drops this batch), and only then is this one handed to the store.
            let checked = batch.checkedSignatures(of: entries)
            guard try await settle() else { return false }
            let keys = batch.keys, passed = passedOver, site = self.site
            storing = Task { try await site.applyRemote(entries, blobs: blobs, keys: keys, passedOver: passed, checked: checked) }
            let held = blobs.values.reduce(0) { $0 + $1.data.count }
            return waiting || held > Self.pipelinedBytes ? try await settle() : true
        }

        /// Waits for the batch being stored and acts on what it found; false when it held something
        /// invalid (the peer is answered).
        func settle() async throws -> Bool {
            guard let task = storing else { return true }
            storing = nil
            let result = try await task.value
            guard let link else { return true }
            if passedOver.count > 100_000 { passedOver.removeAll() }
            passedOver.formUnion((result.unlinked + result.overLimit).map(\.version))
            link.update {
                $0.entriesReceived += UInt64(result.stored.count)
                $0.lastExchange = Date()
            }
            // The peer holds another chain of these origins: it lacks this site's, from where the
            // chains this log holds part (below that, all agree). Only entries that link here count:
            // unlinked ones cost their sender nothing to make.
            holdings?.peerSent(beside: result.beside.map(\.version))
            for origin in Set(result.beside.map(\.origin)) {
                guard let start = try await site.forkRegionStart(of: origin) else { continue }
                holdings?.forked(origin, agreeingThrough: start - 1)
                forkRequests.request(origin, after: start - 1)
            }
            guard let rejection = result.rejection else { return true }
            // What was read after it is dropped too: nothing more from this peer is stored.
            _ = batch.drain()
            registry.countRejected()
            logger.error("peer \(link.site) at \(remote) sent an invalid entry: \(rejection); session closed, nothing from it stored")
            outcome.error = rejection.description
            await refuse(rejection)
            return false
        }

        /// The session proper: frames in, actions out.
        func readFrames() async throws {
            reading: while let buffer = try await frames.next() {
                activity.beginWork()
                defer { activity.endWork() }
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
                        case .send(.error(let refusal)):
                            // The peer broke the protocol (the state machine's verdict).
                            outcome.error = refusal.description
                            registry.countRejected()
                            logger.warning("session with \(outcome.peer.map(\.rawValue) ?? remote) failed: \(refusal)")
                            await refuse(refusal)
                            break reading
                        case .send(let reply):
                            try out.post(reply)
                        case .sendVector:
                            guard let peer = outcome.peer else { break reading }
                            let name = machine?.peerHello?.siteName ?? ""
                            guard registry.attach(peer: peer, id: id, channel: channel, dialer: dialedByUs ? hello.siteID : peer, name: name) else {
                                await out.sayLast(.goodbye("duplicate session: keeping the one dialled by the smaller site ID"))
                                outcome.duplicate = true
                                break reading
                            }
                            link = registry.link(peer)
                            out.link = link
                            logger.notice("connected to peer \(peer) (\(name)) at \(remote)")
                            try out.post(.vector(await site.versionVector()))
                            if let agreed = machine?.agreedVersion, agreed >= WireCodec.chainTipsVersion {
                                let tips = try await site.chainTips()
                                sentTips = tips
                                for frame in ChainTips.frames(tips) { try out.post(.chainTips(frame)) }
                            }
                        case .startSending(let vector, let peerTips):
                            guard let link else { break }
                            link.update {
                                $0.vector = vector
                                $0.vectorReported = true
                            }
                            let session = PeerHoldings(vector)
                            holdings = session
                            let deltas = (machine?.agreedVersion ?? 0) >= WireCodec.deltaVersion
                            let forkAware = (machine?.agreedVersion ?? 0) >= WireCodec.chainTipsVersion
                            let authored = (machine?.agreedVersion ?? 0) >= WireCodec.authorVersion
                            startSending.yield(SenderStart(link: link, holdings: session, deltas: deltas, forkAware: forkAware, peerTips: peerTips,
                                                            ownTips: sentTips, authored: authored))
                        case .deliver(.blobDelta(let delta)):
                            // Sizes first: the base is decoded whole to apply the delta.
                            let limit = WireCodec.maximumAcceptedDeltaBytes
                            guard delta.size <= limit else {
                                throw WireError(.tooLarge, "delta for blob \(delta.hash.hex) claims \(delta.size) bytes; a delta may give at most \(limit)")
                            }
                            // The base came in this session and is not stored yet, or is in the log
                            // (perhaps in the batch being stored: waited for).
                            var base = try batch.content(of: delta.base, maximumBytes: limit)
                            if base == nil {
                                guard try await settle() else { break reading }
                                base = try await site.blobContent(delta.base, maximumBytes: limit)
                            }
                            guard let base else {
                                throw WireError(.blobMismatch, "delta for blob \(delta.hash.hex) is against \(delta.base.hex), which this site does not hold")
                            }
                            try batch.take(delta, base: base)
                            if batch.isFull, try await !flush(waiting: false) { break reading }
                        case .deliver(let content):
                            try batch.take(content)
                            if batch.isFull, try await !flush(waiting: false) { break reading }
                        case .peerCaughtUp:
                            live = true
                            if try await !flush() { break reading }
                            // Everything the peer held at the start of the session is here.
                            if let link { site.rejoin?.caughtUp(with: link.site) }
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
            // Storing what is left (and the batch being stored) is this site's time, not the peer's silence.
            activity.beginWork()
            defer { activity.endWork() }
            _ = try await flush()
        }

        do {
            try await readFrames()
        } catch {
            // What was handed to the store is stored, or refused, and acted on (a refusal is
            // answered first, as it was before anything after it was read). The wait is this site's
            // time, not the peer's silence.
            activity.beginWork()
            _ = try? await settle()
            activity.endWork()
            switch error {
            case let wire as WireError: await refuse(wire)
            case let frame as FrameDecoder.FrameError: await refuse(WireError(.tooLarge, frame.description))
            default: break
            }
            throw error
        }
    }

    /// Sends the backlog the peer lacks, and (protocol v4) the windows of origins whose chains
    /// differ at the two sites, as one stream in arrival order (an entry of either may replace a
    /// version in the other); then `caughtUp`; then every new entry as it is logged and every
    /// window the reader asks for.
    private func sendAll(to link: PeerLink, holdings: PeerHoldings, out: SessionWriter, deltas: Bool, forkAware: Bool, authored: Bool,
                         peerTips: [ChainTip], ownTips: [ChainTip]?, forkRequests: ForkRequests) async throws {
        let growth = await site.logGrowth()
        var sender = EntrySender(site: site, link: link, holdings: holdings, out: out, deltas: deltas, forkAware: forkAware,
                                 authored: authored, logger: logger)
        // What the start covers, read first: entries logged while it is planned go live, in order.
        let through = await site.lastPosition()
        var windowed: [Int64: Bool] = [:]
        if forkAware {
            let plan = try await site.forkPlan(for: peerTips, mine: ownTips)
            for (origin, tip) in plan.settled {
                // Both hold both chains: the peer holds all of this origin, whatever its number says.
                holdings.holdsAll(of: origin, through: tip)
                holdings.forked(origin, agreeingThrough: tip)
                link.update { $0.vector.advance(origin, to: tip) }
            }
            for (origin, after) in plan.windows.sorted(by: { $0.key < $1.key }) {
                holdings.forked(origin, agreeingThrough: after)
                forkRequests.markSent(origin, after: after)
                logger.notice("peer \(link.site) holds another chain of \(origin) (or keeps other entries beside it): sending this site's entries of it past #\(after)")
                for item in try await site.forkWindow(of: origin, after: after) where item.position <= through {
                    windowed[item.position] = item.beside
                }
            }
        }
        let backlog = try await site.backlog(for: holdings.vector).positions.filter { $0 <= through }
        let positions = windowed.isEmpty ? backlog : Self.merged(backlog, windowed.keys.sorted())
        var index = 0
        while index < positions.count {
            let page = positions[index..<min(index + Self.pageSize, positions.count)]
            for (position, entry) in try await site.entries(at: page) {
                if let beside = windowed[position] {
                    try await sender.send(entry, whatever: true, beside: beside)
                    if !beside { holdings.sentChainEntry(entry) }
                } else {
                    try await sender.send(entry)
                }
            }
            try await out.flush()
            index += Self.pageSize
        }
        out.enqueue(.caughtUp)
        out.enqueue(.status(await site.report(peersConnected: registry.connectedCount, peersConfigured: registry.configuredCount)))
        try await out.flush()
        var cursor = through
        let wake = forkRequests.wake
        let forwarding = Task {
            for await _ in growth { wake.yield() }
            wake.finish()
        }
        defer { forwarding.cancel() }
        for await _ in forkRequests.wakes {
            for (origin, after) in forkRequests.take().sorted(by: { $0.key < $1.key }) {
                logger.notice("peer \(link.site) sent another chain of \(origin): sending this site's entries of it past #\(after)")
                try await sendWindow(of: origin, after: after, through: cursor, sender: &sender)
            }
            sender.besideKept = await site.keepsEntriesBeside()
            while true {
                let page = try await site.entries(after: cursor, limit: Self.pageSize)
                guard let last = page.last else { break }
                for item in page {
                    // An older peer is never sent an entry kept beside a chain. A v4 peer gets one
                    // whatever its vector says (its number there is the other chain's), and so every
                    // entry of an origin forked in this session.
                    if item.beside && !forkAware { continue }
                    try await sender.send(item.entry, whatever: forkAware && (item.beside || holdings.isForked(item.entry.origin)), beside: item.beside)
                }
                try await out.flush()
                cursor = last.position
            }
        }
    }

    /// Two ascending lists of positions as one, without repeats.
    static func merged(_ a: [Int64], _ b: [Int64]) -> [Int64] {
        var out: [Int64] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            let next = j == b.count || (i < a.count && a[i] <= b[j]) ? a[i] : b[j]
            if out.last != next { out.append(next) }
            if i < a.count && a[i] == next { i += 1 }
            if j < b.count && b[j] == next { j += 1 }
        }
        return out
    }

    /// Every entry of `origin` past `after` in this site's chain, and all it keeps beside it, in
    /// arrival order, whatever the peer's vector says, up to `through`: later ones go with the
    /// live entries, in order.
    private func sendWindow(of origin: SiteID, after: UInt64, through: Int64, sender: inout EntrySender) async throws {
        let items = try await site.forkWindow(of: origin, after: after).filter { $0.position <= through }
        let beside = Dictionary(items.map { ($0.position, $0.beside) }, uniquingKeysWith: { a, _ in a })
        let positions = items.map(\.position)
        var index = 0
        while index < positions.count {
            let page = positions[index..<min(index + Self.pageSize, positions.count)]
            for (position, entry) in try await site.entries(at: page) {
                try await sender.send(entry, whatever: true, beside: beside[position] ?? false)
                if beside[position] == false { sender.holdings.sentChainEntry(entry) }
            }
            try await sender.out.flush()
            index += Self.pageSize
        }
    }

    /// Pings every `timing.pingInterval` and ends the session when the peer has sent no byte for
    /// `timing.silenceLimit` while this site was ready to read, or has read none of this site's
    /// bytes for four times that. The longer limit is for a peer that still talks: an honest peer
    /// whose log is busy stops reading for as long as that takes, but keeps pinging.
    private func watch(out: SessionWriter, activity: SessionActivity, report: LatestReport) async throws {
        var nonce: UInt64 = 0
        let stallLimit = timing.silenceLimit * 4
        while true {
            try await Task.sleep(for: timing.pingInterval)
            if activity.silence > timing.silenceLimit {
                throw WireError(.timeout, "no byte from the peer for \(timing.silenceLimit)")
            }
            if out.stalledFor > stallLimit {
                throw WireError(.timeout, "the peer read none of \(out.unwrittenBytes) bytes for \(stallLimit)")
            }
            nonce += 1
            try out.post(.ping(nonce))
            if out.link != nil, let current = report.value.withLock({ $0 }) { try out.post(.status(current)) }
        }
    }
}

/// Sends entries with what each needs first: its origin's key once per session, its content once,
/// and only if the peer does not hold it already, as a delta when it can.
struct EntrySender {
    let site: SiteLog
    let link: PeerLink
    let holdings: PeerHoldings
    let out: SessionWriter
    /// The peer speaks `blob_delta` (protocol v2).
    let deltas: Bool
    /// The peer speaks protocol v4 (see `SenderStart.forkAware`).
    let forkAware: Bool
    /// The peer speaks protocol v5 (see `SenderStart.authored`).
    let authored: Bool
    /// Whether this log keeps any entry beside a chain (refreshed as the session goes on).
    var besideKept: Bool
    var sentKeys = Set<SiteID>()
    var sentBlobs = Set<ContentHash>()
    /// Origins whose entries an older peer cannot take this session: one of them replaces a version
    /// kept beside a chain, which that peer will never hold. Sending it would be refused, every session.
    var heldBack = Set<SiteID>()

    let logger: Logger

    init(site: SiteLog, link: PeerLink, holdings: PeerHoldings, out: SessionWriter, deltas: Bool, forkAware: Bool, authored: Bool,
         logger: Logger) {
        self.authored = authored
        self.logger = logger
        self.site = site
        self.link = link
        self.holdings = holdings
        self.out = out
        self.deltas = deltas
        self.forkAware = forkAware
        self.besideKept = true
    }

    /// `whatever`: send even if the peer's vector counts it held (a fork's window). `beside`: the
    /// entry is kept beside its chain here; its place says nothing of what the peer holds.
    mutating func send(_ entry: LogEntry, whatever: Bool = false, beside: Bool = false) async throws {
        guard whatever ? !holdings.sentUs(entry.version) : entry.sequence > holdings.sequence(of: entry.origin) else { return }
        if !forkAware {
            guard !heldBack.contains(entry.origin) else { return }
            if besideKept, !entry.replaces.isEmpty, try await !site.besideVersions(among: entry.replaces).isEmpty {
                heldBack.insert(entry.origin)
                logger.warning("""
                    entries of \(entry.origin) from #\(entry.sequence) are held back from peer \(link.site) this session: \(entry.version.short) \
                    replaces a version of a second chain, which a peer on protocol v3 cannot hold; upgrade it
                    """)
                return
            }
        }
        if !sentKeys.contains(entry.origin) {
            guard let key = try await site.publicKey(of: entry.origin) else { throw WireError(.internal, "no key for \(entry.origin)") }
            out.enqueue(.site(publicKeyDER: key.der))
            sentKeys.insert(entry.origin)
        }
        if let hash = entry.contentHash, !sentBlobs.contains(hash) {
            switch try await site.plan(contentOf: entry, for: holdings.contentVector, deltas: deltas) {
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
                    if out.queuedBytes >= SessionWriter.flushThreshold { try await out.flush() }
                    offset = end
                } while offset < blob.data.count
            case nil:
                throw WireError(.internal, "blob \(hash.hex) missing")
            }
            if sentBlobs.count > 100_000 { sentBlobs.removeAll() }
            sentBlobs.insert(hash)
        }
        if authored, let author = entry.author { out.enqueue(.author(author)) }
        out.enqueue(.entry(entry))
        if out.queuedBytes >= SessionWriter.flushThreshold { try await out.flush() }
        if !beside {
            holdings.holds(entry)
            link.peerHolds(entry)
        }
        link.update {
            $0.entriesSent += 1
            $0.lastExchange = Date()
        }
    }
}
