import Foundation
import Store
import SyncProtocol

/// Two chains of one origin (see `ChainFork.swift`): what the session asks of the log to find and
/// exchange them, and what this site does when one turns up.
extension SiteLog {
    public func chainTips() throws -> [ChainTip] { try log.chainTips() }
    public func forkWindow(of origin: SiteID, after sequence: UInt64) throws -> [(position: Int64, beside: Bool)] {
        try log.forkWindow(of: origin, after: sequence)
    }
    public func forkRegionStart(of origin: SiteID) throws -> UInt64? { try log.forkRegionStart(of: origin) }
    /// The position of the newest entry: what a session's start covers; later ones go live.
    public func lastPosition() -> Int64 { log.stats.lastLocalSeq }
    /// Whether the log keeps any entry beside a chain.
    public func keepsEntriesBeside() -> Bool { log.stats.besideEntries > 0 }
    /// Which of `versions` are kept beside a chain.
    public func besideVersions(among versions: [VersionID]) throws -> Set<VersionID> { try log.besideVersions(among: versions) }

    /// What the chain tips a peer sent call for, per origin.
    public struct ForkPlan: Sendable {
        /// Where the two logs hold different chains or keep different entries beside them: the
        /// place past which to send every entry of that origin, chain and beside. An origin this
        /// site keeps entries beside and the peer does not hold at all is sent whole.
        public var windows: [SiteID: UInt64] = [:]
        /// Where both hold both chains: the peer holds every entry of that origin this site holds,
        /// whatever its vector's number (that of the chain it numbers), up to this site's tip.
        public var settled: [SiteID: UInt64] = [:]
    }

    /// `mine`: the tips this site sent the peer, when it sent them (read again otherwise).
    public func forkPlan(for peerTips: [ChainTip], mine sent: [ChainTip]? = nil) throws -> ForkPlan {
        let mine = Dictionary(try (sent ?? log.chainTips()).map { ($0.origin, $0) }, uniquingKeysWith: { a, _ in a })
        var plan = ForkPlan()
        for tip in peerTips {
            // An origin this site does not hold: the peer's window of it comes from the peer.
            guard let own = mine[tip.origin] else { continue }
            if let after = try tip.window(mine: own, versionAt: { try log.version(origin: tip.origin, sequence: $0) }) {
                plan.windows[tip.origin] = after
            } else if own.besideCount > 0, tip.besideCount > 0 {
                plan.settled[tip.origin] = own.sequence
            }
        }
        let listed = Set(peerTips.map(\.origin))
        for (origin, tip) in mine where tip.besideCount > 0 && !listed.contains(origin) { plan.windows[origin] = 0 }
        return plan
    }

    /// After entries from a peer are stored: a second chain of an origin is logged once, and when
    /// it is this site's own, this site signs anew. A peer holding entries of this site's chain
    /// that this log does not means this site ran on an older copy of its log (a whole-disk
    /// snapshot put back while no peer answered): every entry it signed since sits at places that
    /// peer already holds. Signing anew stops the second chain growing; both chains stay kept.
    func noteForks(_ result: RemoteAppend) {
        for entry in result.beside where forksLogged.insert(entry.origin).inserted {
            logger.warning("""
                site \(entry.origin) signed two entries at #\(entry.sequence) of its chain (it ran on an older copy of its log): \
                this site keeps both chains; an article both changed becomes a conflict (newsctl status lists the fork)
                """)
        }
        for entry in result.overLimit where overLimitLogged.insert(entry.origin).inserted {
            logger.error("""
                site \(entry.origin) has a second chain longer than the \(log.maximumBesidePerOrigin) entries kept beside one origin's chain: \
                its entries from #\(entry.sequence) are passed over (not stored)
                """)
        }
        for entry in result.unlinked where unlinkedLogged.insert(entry.origin).inserted {
            logger.warning("""
                entries of a second chain of site \(entry.origin) (from #\(entry.sequence)) arrived without the entries before them \
                and were passed over; a peer speaking protocol v4 sends that chain from where the two part
                """)
        }
        // Entries of this site's own chain passed over for want of the entries before them show
        // the fork too; they are not stored, so only this batch tells.
        signAnewIfOwnChainForked(unlinked: result.unlinked.first { $0.origin == signer.siteID }?.sequence)
    }

    /// Signs anew when the log keeps entries beside the chain of the origin this site signs with.
    /// Read from the log, not from one batch: a stop or kill -9 between storing a peer's entries
    /// and saving the new key is mended at the next start (`NewsdApp` calls this before anything
    /// local is recorded).
    public func signAnewIfOwnChainForked(unlinked: UInt64? = nil) {
        let origin = signer.siteID
        guard let place = (try? log.forkRegionStart(of: origin)) ?? unlinked else { return }
        if ProcessInfo.processInfo.environment["NEWSD_TEST_CRASH_AT"] == "signing-anew-after-fork" {
            // Test seam: the process dies where a power cut could, the peer's entries committed.
            let said = "test seam: exiting before signing anew (NEWSD_TEST_CRASH_AT)\n"
            _ = said.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            _exit(137)
        }
        do {
            let author = try signAnew()
            forkedOwnChain = true
            logger.notice("""
                a peer holds entries of this site's chain (\(origin)) from #\(place) that this log does not: this site ran on an older copy \
                of its log. Both chains are kept, and this site's entries are signed as \(author.siteID) from now on, so none can fork again
                """)
        } catch {
            logger.error("a peer holds entries of this site's chain this log lacks, and no new author key could be saved: \(error)")
        }
    }

    /// Signs local entries with a new key from now on, kept as `author.key` (durably, before any
    /// entry is signed with it): a new origin forks no chain a peer holds.
    func signAnew() throws -> SiteKey {
        let folder = DataFolder(path: settings.dataDir)
        let author = SiteKey()
        try folder.save(author, to: folder.authorKeyPath)
        signer = author
        return author
    }
}
