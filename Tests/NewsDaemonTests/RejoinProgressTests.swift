import Testing
@testable import NewsDaemon
import SyncProtocol

/// When start-up stops waiting for peers: every order of reports gives the same answer.
@Suite struct RejoinProgressTests {
    let peers = (0..<3).map { _ in SiteKey().siteID }

    enum Report { case caughtUp(Int), unreachable(Int) }

    /// Every interleaving of "caught up" and "unreachable" reports for three peers (with repeats):
    /// finished exactly when each peer has caught up or (unless patient) failed; a peer once
    /// caught up stays so whatever is reported after.
    @Test(arguments: [false, true])
    func finishesExactlyWhenEveryPeerIsAccountedFor(patient: Bool) {
        let reports: [Report] = [.caughtUp(0), .unreachable(1), .caughtUp(2), .unreachable(0), .unreachable(2), .caughtUp(1)]
        var seed: UInt64 = 7
        for _ in 0..<500 {
            var progress = RejoinProgress(peers: peers, patient: patient)
            var caught = Set<Int>(), failed = Set<Int>()
            var order = reports
            for i in order.indices.reversed() {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                order.swapAt(i, Int(seed >> 33) % (i + 1))
            }
            for report in order.prefix(Int(seed >> 40) % (order.count + 1)) {
                switch report {
                case .caughtUp(let n): progress.caughtUp(with: peers[n]); caught.insert(n)
                case .unreachable(let n): progress.unreachable(peers[n], "refused"); if !caught.contains(n) { failed.insert(n) }
                }
                let expected = (0..<3).allSatisfy { caught.contains($0) || (!patient && failed.contains($0)) }
                #expect(progress.isFinished == expected)
                #expect(progress.caughtUpCount == caught.count)
                #expect(Set(progress.outstanding.map(\.0)) == Set((0..<3).filter { !caught.contains($0) }.map { peers[$0] }))
            }
        }
    }

    @Test func aSiteNotAmongThePeersChangesNothing() {
        var progress = RejoinProgress(peers: [peers[0]], patient: false)
        progress.caughtUp(with: peers[1])
        #expect(!progress.isFinished && progress.summary.contains("caught up with 0 of 1"))
    }

    @Test func theWaitEndsAtItsTimeLimit() async {
        let rejoin = Rejoin(peers: peers, patient: true, timeout: .milliseconds(100))
        rejoin.caughtUp(with: peers[0])
        #expect(await rejoin.wait() == .timedOut([peers[1], peers[2]].sorted()))
        #expect(!rejoin.isRejoining)
    }
}
