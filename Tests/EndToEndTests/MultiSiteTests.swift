import Foundation
import Testing
import TestSupport
import SyncProtocol

/// Three real `newsd` processes on loopback, A—B—C (A and C are not peered).
@Suite(.serialized) struct MultiSiteTests {
    let folder = TemporaryFolder("sites")

    func json(_ daemon: DaemonProcess, _ arguments: [String]) throws -> Any? {
        let result = try daemon.ctl(arguments + ["--json"])
        guard result.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    func entries(_ daemon: DaemonProcess) throws -> Int {
        (try json(daemon, ["status"]) as? [String: Any])?["log_entries"] as? Int ?? -1
    }

    @Test func editsTravelAlongAChainAndConcurrentEditsBecomeOneConflictEverywhere() async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder), c = try TestSite("c", in: folder)
            try Seeds.copy(to: a.watch)
            let da = try a.start(peers: [b])
            var db: DaemonProcess? = try b.start(peers: [a, c])
            let dc = try c.start(peers: [b])
            for daemon in [da, db!, dc] { try daemon.waitUntilReady() }

            // The seeds reach C through B.
            try waitUntil(timeout: .seconds(20), "seeds at C") { c.snapshot() == a.snapshot() }
            let peers = try json(db!, ["peers"]) as? [[String: Any]] ?? []
            #expect(peers.count == 2 && peers.allSatisfy { $0["connected"] as? Bool == true })

            // An edit at A appears in C's folder.
            let article = "000_15b2be1134f67c00.txt"
            folder.write("a/watch/" + article, "Bản sửa ở Hà Nội.\n")
            try waitUntil(timeout: .seconds(10), "A's edit at C") { folder.read("c/watch/" + article) == "Bản sửa ở Hà Nội.\n" }

            // Concurrent edits at A and C while B, their only link, is down.
            #expect(db!.terminate() == 0)
            db = nil
            folder.write("a/watch/" + article, "Hà Nội viết thế này.\n")
            folder.write("c/watch/" + article, "Đà Nẵng viết thế kia.\n")
            folder.write("c/watch/moi-tu-c.txt", "Bài mới từ C.\n")
            try waitUntil("both edits logged") { try entries(da) == 4 && entries(dc) == 5 }

            // B comes back; everyone converges.
            db = try b.start(peers: [a, c])
            try db!.waitUntilReady()
            let sites = [a, b, c]
            try waitUntil(timeout: .seconds(30), "three identical folders") {
                let snapshots = sites.map { $0.snapshot() }
                return snapshots[0] == snapshots[1] && snapshots[1] == snapshots[2] && snapshots[0]["moi-tu-c.txt"] != nil
            }
            let daemons = [da, db!, dc]
            try waitUntil(timeout: .seconds(30), "same log everywhere") { try daemons.map(entries).allSatisfy { $0 == 6 } }
            var winners: Set<String> = []
            for daemon in daemons {
                let conflicts = try json(daemon, ["conflicts"]) as? [[String: Any]] ?? []
                #expect(conflicts.count == 1)
                #expect(conflicts.first?["article"] as? String == article)
                #expect((conflicts.first?["versions"] as? [String])?.count == 2)
                winners.insert(conflicts.first?["winner"] as? String ?? "")
                #expect(try daemon.ctl(["verify"]).status == 0)
            }
            #expect(winners.count == 1, "every site picks the same winner")
            let inFolder = folder.read("a/watch/" + article)
            #expect(inFolder == "Hà Nội viết thế này.\n" || inFolder == "Đà Nẵng viết thế kia.\n")

            // Resolving at C, keeping the version that lost, closes the conflict everywhere.
            let loser = try #require((try json(dc, ["conflicts"]) as? [[String: Any]])?.first?["versions"] as? [String]).first { !winners.contains($0) }!
            #expect(try dc.ctl(["resolve", article, "--take", String(loser.prefix(12))]).status == 0)
            try waitUntil(timeout: .seconds(10), "resolution everywhere") {
                try daemons.allSatisfy { (try json($0, ["conflicts"]) as? [Any])?.isEmpty == true }
                    && Set(sites.map { folder.read("\($0.name)/watch/" + article) }).count == 1
            }
            #expect(folder.read("a/watch/" + article) != inFolder)
            for daemon in daemons { #expect(daemon.terminate() == 0) }
        }
    }

    @Test func aSiteWithAnUnlistedKeyIsRefusedAndReceivesNothing() async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), stranger = try TestSite("x", in: folder)
            try Seeds.copy(to: a.watch)
            let da = try a.start(peers: [])
            let dx = try stranger.start(peers: [a])
            try da.waitUntilReady()
            try dx.waitUntilReady()
            try waitUntil("the refusal") {
                ((try json(da, ["status"]) as? [String: Any])?["refused_connections"] as? Int ?? 0) >= 1
            }
            #expect(stranger.snapshot().isEmpty)
            #expect(try entries(dx) == 0)
            #expect(da.log.contains("is not a configured peer"))
        }
    }

    /// A (with the seeds) and B, each dialling the other, once B's folder matches A's.
    func twoSitesInSync() throws -> (TestSite, TestSite, DaemonProcess, DaemonProcess) {
        let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder)
        try Seeds.copy(to: a.watch)
        let da = try a.start(peers: [b]), db = try b.start(peers: [a])
        try da.waitUntilReady()
        try db.waitUntilReady()
        try waitUntil(timeout: .seconds(20), "seeds at B; A's log:\n\(da.log.suffix(4000))\nB's log:\n\(db.log.suffix(4000))") { b.snapshot() == a.snapshot() }
        return (a, b, da, db)
    }

    @Test func twoSitesReplicateBothWaysWithinASecondOfTheSave() async throws {
        try await offThePool {
            let (a, b, da, db) = try twoSitesInSync()
            folder.write("b/watch/tu-b.txt", "Viết ở Đà Nẵng.\n")
            try waitUntil(timeout: .seconds(5), "B's new article at A") { folder.read("a/watch/tu-b.txt") == "Viết ở Đà Nẵng.\n" }
            try FileManager.default.removeItem(atPath: a.watch + "/tu-b.txt")
            try waitUntil(timeout: .seconds(5), "A's delete at B") { !FileManager.default.fileExists(atPath: b.watch + "/tu-b.txt") }
            // A's own write of B's article made no new version at A: one put from B, one delete from A.
            let log = try json(da, ["log", "tu-b.txt"]) as? [[String: Any]] ?? []
            #expect(log.map { $0["op"] as? String } == ["delete", "put"])
            #expect(log.map { $0["origin"] as? String } == [a.id, b.id])
        }
    }

    /// An append travels as a delta from the version B holds, a rename as entries alone: together
    /// well under one compressed article (each seed is about 1.3 KB compressed).
    @Test func anEditAndARenameCostTheirChangeNotTheArticle() async throws {
        try await offThePool {
            let (a, b, da, db) = try twoSitesInSync()
            func received() throws -> Int { (try json(db, ["peers"]) as? [[String: Any]])?.first?["bytes_received"] as? Int ?? -1 }
            let before = try received()

            let edited = "000_15b2be1134f67c00.txt", renamed = "004_bd07f1746bb36ee4.txt"
            let text = try #require(folder.read("a/watch/" + edited))
            folder.write("a/watch/" + edited, text + "\nCập nhật: biên tập viên ở Hà Nội thêm một câu.\n")
            try FileManager.default.moveItem(atPath: a.watch + "/" + renamed, toPath: a.watch + "/doi-ten.txt")
            try waitUntil(timeout: .seconds(10), "the edit and the rename at B") { b.snapshot() == a.snapshot() }
            try waitUntil(timeout: .seconds(5), "entries counted") { (try json(db, ["status"]) as? [String: Any])?["log_entries"] as? Int == 5 }
            let cost = try received() - before
            #expect(cost > 0 && cost < 1_800, "B received \(cost) bytes for an appended sentence and a rename")
            #expect(try db.ctl(["verify"]).status == 0)
            #expect(da.terminate() == 0 && db.terminate() == 0)
        }
    }
}
