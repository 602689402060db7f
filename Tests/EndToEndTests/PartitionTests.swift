import Foundation
import Testing
import TestSupport
import SyncProtocol

/// Three real `newsd` processes in a triangle, every link through a `FaultProxy`: links are cut
/// (reset, black-holed) and slowed while articles are edited on both sides of the cut.
@Suite(.serialized) struct PartitionTests {
    let folder = TemporaryFolder("partitions")

    struct Unanswered: Error, CustomStringConvertible { let description: String }

    /// A control request's JSON answer; a failed request is an error, never an empty answer.
    func json(_ daemon: DaemonProcess, _ arguments: [String]) throws -> Any {
        let result = try daemon.ctl(arguments + ["--json"])
        guard result.status == 0 else { throw Unanswered(description: "newsctl \(arguments): \(result.stderr)") }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    /// Every version in the site's log.
    func versions(_ daemon: DaemonProcess) throws -> Set<String> {
        guard let entries = try json(daemon, ["log", "-n", "1000000"]) as? [[String: Any]] else { throw Unanswered(description: "log") }
        return Set(entries.compactMap { $0["version"] as? String })
    }

    /// The contents (SHA-256) every version of `article` carries in the site's log.
    func contents(_ daemon: DaemonProcess, _ article: String) throws -> Set<String> {
        guard let entries = try json(daemon, ["log", article]) as? [[String: Any]] else { throw Unanswered(description: "log \(article)") }
        return Set(entries.compactMap { $0["content_hash"] as? String })
    }

    /// Each conflicted article with its competing versions and winner, as the site lists them.
    func conflicts(_ daemon: DaemonProcess) throws -> [String] {
        guard let listed = try json(daemon, ["conflicts"]) as? [[String: Any]] else { throw Unanswered(description: "conflicts") }
        return listed.map { conflict in
            let versions = (conflict["versions"] as? [String] ?? []).sorted().joined(separator: ",")
            return "\(conflict["article"] ?? "") [\(versions)] -> \(conflict["winner"] ?? "")"
        }.sorted()
    }

    @Test func cutLinksHealAndEverySiteEndsWithEveryVersionAndTheSameConflicts() async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder), c = try TestSite("c", in: folder)
            try Seeds.copy(to: a.watch)
            // One dialled link per pair, each through its own proxy: A→B, B→C, C→A.
            let ab = try FaultProxy(to: b.port), bc = try FaultProxy(to: c.port), ca = try FaultProxy(to: a.port)
            defer { for proxy in [ab, bc, ca] { proxy.stop() } }
            let da = try a.start(dialing: [b.address(via: ab.port)], acceptOnly: [c])
            let db = try b.start(dialing: [c.address(via: bc.port)], acceptOnly: [a])
            let dc = try c.start(dialing: [a.address(via: ca.port)], acceptOnly: [b])
            let daemons = [da, db, dc], sites = [a, b, c]
            // Everything written anywhere, to check the logs against what was written, not only
            // against each other.
            var written: [(article: String, text: String)] = []
            func save(_ site: String, _ article: String, _ text: String) {
                folder.write("\(site)/watch/" + article, text)
                written.append((article, text))
            }
            for daemon in daemons { try daemon.waitUntilReady() }
            try waitUntil(timeout: .seconds(20), "the seeds everywhere") { sites.allSatisfy { $0.snapshot() == a.snapshot() } }

            // Round 1: A is cut off, one link reset, the other black-holed. Both sides edit the same
            // article, and each makes an article of its own.
            let shared = "000_15b2be1134f67c00.txt"
            ab.set(.reset)
            ca.set(.blackHole)
            save("a", shared, "Hà Nội sửa trong lúc mất mạng.\n")
            save("a", "ha-noi.txt", "Bài của Hà Nội.\n")
            save("b", shared, "Huế sửa trong lúc mất mạng.\n")
            save("c", "da-nang.txt", "Bài của Đà Nẵng.\n")
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
            for index in 0..<5 { save("a", "cham-\(index).txt", "Chậm \(index) từ Hà Nội.\n") }
            ab.set(.reset)
            bc.set(.reset)
            for index in 0..<5 {
                save("b", "dao-\(index).txt", "Đảo \(index) từ Huế.\n")
                save("c", "ben-\(index).txt", "Bến \(index) từ Đà Nẵng.\n")
                usleep(50_000)
            }
            save("b", "ha-noi.txt", "Huế sửa bài của Hà Nội.\n")
            save("c", "ha-noi.txt", "Đà Nẵng sửa bài của Hà Nội.\n")
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
            for (article, text) in written {
                let hash = ContentHash.of(Array(text.utf8)).hex
                for (name, daemon) in zip(["a", "b", "c"], daemons) {
                    #expect(try contents(daemon, article).contains(hash), "\(name)'s log lacks \(article): \(text)")
                }
            }
            #expect(try conflicts(db).count == 2, "the shared article and ha-noi.txt are both in conflict")
            for daemon in daemons {
                #expect(try daemon.ctl(["verify"]).status == 0)
                #expect(daemon.terminate() == 0)
            }
        }
    }
}
