import Foundation
import Testing
import TestSupport

/// Three real `newsd` processes in a triangle, every link through a `FaultProxy`: links are cut
/// (reset, black-holed) and slowed while articles are edited on both sides of the cut.
@Suite(.serialized) struct PartitionTests {
    let folder = TemporaryFolder("partitions")

    func json(_ daemon: DaemonProcess, _ arguments: [String]) throws -> Any? {
        let result = try daemon.ctl(arguments + ["--json"])
        guard result.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    /// Every version in the site's log.
    func versions(_ daemon: DaemonProcess) throws -> Set<String> {
        let entries = try json(daemon, ["log", "-n", "1000000"]) as? [[String: Any]] ?? []
        return Set(entries.compactMap { $0["version"] as? String })
    }

    /// Each conflicted article with its competing versions and winner, as the site lists them.
    func conflicts(_ daemon: DaemonProcess) throws -> [String] {
        let listed = try json(daemon, ["conflicts"]) as? [[String: Any]] ?? []
        return listed.map { conflict in
            let versions = (conflict["versions"] as? [String] ?? []).sorted().joined(separator: ",")
            return "\(conflict["article"] ?? "") [\(versions)] -> \(conflict["winner"] ?? "")"
        }.sorted()
    }

    @Test func cutLinksHealAndEverySiteEndsWithEveryVersionAndTheSameConflicts() throws {
        let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder), c = try TestSite("c", in: folder)
        try Seeds.copy(to: a.watch)
        // One dialled link per pair, each through its own proxy: A→B, B→C, C→A.
        let ab = try FaultProxy(to: b.port), bc = try FaultProxy(to: c.port), ca = try FaultProxy(to: a.port)
        defer { for proxy in [ab, bc, ca] { proxy.stop() } }
        let da = try a.start(dialing: [b.address(via: ab.port)], acceptOnly: [c])
        let db = try b.start(dialing: [c.address(via: bc.port)], acceptOnly: [a])
        let dc = try c.start(dialing: [a.address(via: ca.port)], acceptOnly: [b])
        let daemons = [da, db, dc], sites = [a, b, c]
        for daemon in daemons { try daemon.waitUntilReady() }
        try waitUntil(timeout: .seconds(20), "the seeds everywhere") { sites.allSatisfy { $0.snapshot() == a.snapshot() } }

        // Round 1: A is cut off, one link reset, the other black-holed. Both sides edit the same
        // article, and each makes an article of its own.
        let shared = "000_15b2be1134f67c00.txt"
        ab.set(.reset)
        ca.set(.blackHole)
        folder.write("a/watch/" + shared, "Hà Nội sửa trong lúc mất mạng.\n")
        folder.write("a/watch/ha-noi.txt", "Bài của Hà Nội.\n")
        folder.write("b/watch/" + shared, "Huế sửa trong lúc mất mạng.\n")
        folder.write("c/watch/da-nang.txt", "Bài của Đà Nẵng.\n")
        // B and C still reach each other; A's article cannot get out.
        try waitUntil(timeout: .seconds(15), "C's article at B") { folder.read("b/watch/da-nang.txt") == "Bài của Đà Nẵng.\n" }
        usleep(500_000)
        #expect(folder.read("b/watch/ha-noi.txt") == nil && folder.read("c/watch/ha-noi.txt") == nil)

        ab.set(.pass)
        ca.set(.pass)
        try waitUntil(timeout: .seconds(60), "round 1 healed") {
            let snapshots = sites.map { $0.snapshot() }
            guard snapshots.allSatisfy({ $0 == snapshots[0] }), snapshots[0]["ha-noi.txt"] != nil else { return false }
            return try Set(daemons.map(versions)).count == 1 && Set(daemons.map(conflicts)).count == 1
        }
        let afterRound1 = try conflicts(da)
        #expect(afterRound1.count == 1 && afterRound1[0].hasPrefix(shared), "\(afterRound1)")

        // Round 2: every link slow, then B cut off by resets while edits keep coming everywhere.
        for proxy in [ab, bc, ca] { proxy.set(.delay(milliseconds: 50)) }
        for index in 0..<5 { folder.write("a/watch/cham-\(index).txt", "Chậm \(index) từ Hà Nội.\n") }
        ab.set(.reset)
        bc.set(.reset)
        for index in 0..<5 {
            folder.write("b/watch/dao-\(index).txt", "Đảo \(index) từ Huế.\n")
            folder.write("c/watch/ben-\(index).txt", "Bến \(index) từ Đà Nẵng.\n")
            usleep(50_000)
        }
        folder.write("b/watch/ha-noi.txt", "Huế sửa bài của Hà Nội.\n")
        folder.write("c/watch/ha-noi.txt", "Đà Nẵng sửa bài của Hà Nội.\n")
        try waitUntil(timeout: .seconds(15), "C has A's slow articles") { folder.read("c/watch/cham-4.txt") != nil }
        for proxy in [ab, bc, ca] { proxy.set(.pass) }
        try waitUntil(timeout: .seconds(60), "round 2 healed") {
            let snapshots = sites.map { $0.snapshot() }
            guard snapshots.allSatisfy({ $0 == snapshots[0] }), snapshots[0]["dao-4.txt"] != nil else { return false }
            return try Set(daemons.map(versions)).count == 1 && Set(daemons.map(conflicts)).count == 1
        }
        let everywhere = try versions(da)
        let logged = (try json(da, ["status"]) as? [String: Any])?["log_entries"] as? Int
        #expect(everywhere.count == logged)
        #expect(try conflicts(db).count == 2, "the shared article and ha-noi.txt are both in conflict")
        for daemon in daemons {
            #expect(try daemon.ctl(["verify"]).status == 0)
            #expect(daemon.terminate() == 0)
        }
    }
}
