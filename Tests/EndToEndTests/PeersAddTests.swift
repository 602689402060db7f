import Foundation
import Testing
import TestSupport
import SyncProtocol

/// Sites joined and parted with `newsctl peers add` and `remove` while both run; `listen` moved by
/// a reload with a session up.
@Suite(.serialized) struct PeersAddTests {
    let folder = TemporaryFolder("peers-add")

    func json(_ daemon: DaemonProcess, _ arguments: [String]) throws -> Any? {
        let result = try daemon.ctl(arguments + ["--json"])
        guard result.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    func peers(_ daemon: DaemonProcess) throws -> [[String: Any]] { try json(daemon, ["peers"]) as? [[String: Any]] ?? [] }

    func connected(_ daemon: DaemonProcess, to site: TestSite) throws -> Bool {
        try peers(daemon).contains { $0["id"] as? String == site.id && $0["connected"] as? Bool == true }
    }

    @Test func twoSitesJoinWithPeersAddOnEachSideAndNoRestart() async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder)
            let da = try a.start(peers: [])
            let db = try b.start(peers: [])
            try da.waitUntilReady()
            try db.waitUntilReady()

            // A dials B; B does not know A yet, refuses it and lists it as pending.
            let added = try da.ctl(["peers", "add", b.address, "--name", "Đà Nẵng"])
            #expect(added.status == 0, "\(added.stderr)")
            #expect(added.stdout.contains("added peer \(b.id) (Đà Nẵng)"))
            #expect(added.stdout.contains("newsctl peers add \(a.id)@"), "the command to run at the peer: \(added.stdout)")
            var pending: [[String: Any]] = []
            try waitUntil(timeout: .seconds(15), "A pending at B") {
                pending = try json(db, ["peers", "--pending"]) as? [[String: Any]] ?? []
                return pending.contains { $0["id"] as? String == a.id }
            }
            let knock = try #require(pending.first { $0["id"] as? String == a.id })
            #expect(knock["address"] as? String == "127.0.0.1")
            #expect((knock["attempts"] as? Int ?? 0) >= 1)
            let status = try #require(try json(db, ["status"]) as? [String: Any])
            #expect(status["pending_peers"] as? Int == 1)
            #expect(status["problems"] as? [String] == [], "a stranger knocking is not a problem of this site")

            // The exact command the listing gives accepts it.
            let accept = try #require(knock["accept"] as? String)
            let words = accept.split(separator: " ").map(String.init)
            #expect(words.first == "newsctl")
            #expect(try db.ctl(Array(words.dropFirst())).status == 0)
            try waitUntil(timeout: .seconds(20), "A and B connected") { try connected(da, to: b) && connected(db, to: a) }
            #expect((try json(db, ["peers", "--pending"]) as? [[String: Any]])?.isEmpty == true, "accepted: no longer pending")
            #expect(try peers(da).first?["label"] as? String == "Đà Nẵng")

            // An article saved at A is in B's folder, neither restarted.
            folder.write("a/watch/tin-moi.txt", "Tin mới từ Hà Nội.\n")
            try waitUntil(timeout: .seconds(10), "A's article at B") { folder.read("b/watch/tin-moi.txt") == "Tin mới từ Hà Nội.\n" }
            #expect(da.pid > 0 && db.process.isRunning && da.process.isRunning)

            // Adding again is a no-op; a new address replaces the old.
            let again = try da.ctl(["peers", "add", b.address, "--name", "Đà Nẵng"])
            #expect(again.status == 0 && again.stdout.contains("already a peer"), "\(again.stdout)")

            // Removed at A: the session closes at once, and nothing is dialled any more.
            let removed = try da.ctl(["peers", "remove", b.id])
            #expect(removed.status == 0, "\(removed.stderr)")
            try waitUntil(timeout: .seconds(10), "session closed") { try peers(da).isEmpty && !connected(db, to: a) }
            let gone = try da.ctl(["peers", "remove", b.id])
            #expect(gone.status == 4, "removing a peer that is not one: not found")
            #expect(da.terminate() == 0)
            #expect(db.terminate() == 0)
        }
    }

    @Test func anAddedPeerOutlivesARestartAndComposesWithTheConfigFile() async throws {
        try await offThePool {
            let a = try TestSite("a2", in: folder), b = try TestSite("b2", in: folder), c = try TestSite("c2", in: folder)
            let config = folder.write("a2/newsd.toml", """
                watch = "\(a.watch)"
                data = "\(a.data)"
                listen = "127.0.0.1:\(a.port)"
                peers = ["\(c.id)"]

                """)
            var da: DaemonProcess? = try DaemonProcess(watch: a.watch, data: a.data, extra: ["--config", config], passWatch: false)
            let db = try b.start(peers: [a])
            try da!.waitUntilReady()
            try db.waitUntilReady()
            #expect(try da!.ctl(["peers", "add", b.id]).status == 0)
            try waitUntil(timeout: .seconds(20), "B connected to A") { try connected(da!, to: b) }

            // A peer the config file lists cannot be removed with newsctl (the file is the operator's).
            let fromConfig = try da!.ctl(["peers", "remove", c.id])
            #expect(fromConfig.status == 1 && fromConfig.stderr.contains(config), "\(fromConfig.stderr)")
            // Nor added again with another address.
            let clash = try da!.ctl(["peers", "add", "\(c.id)@127.0.0.1:1"])
            #expect(clash.status == 1 && clash.stderr.contains(config), "\(clash.stderr)")
            // Its own ID is refused; a mistyped ID names the group.
            #expect(try da!.ctl(["peers", "add", a.id]).status == 2)
            var typo = Array(b.id)
            typo[9] = typo[9] == "A" ? "B" : "A"
            let mistyped = try da!.ctl(["peers", "add", String(typo)])
            #expect(mistyped.status == 2 && mistyped.stderr.contains("group 2"), "\(mistyped.stderr)")

            // After a restart A has B (kept in the data folder) and C (the config).
            #expect(da!.terminate() == 0)
            da = try DaemonProcess(watch: a.watch, data: a.data, extra: ["--config", config], passWatch: false)
            try da!.waitUntilReady()
            let ids = Set(try peers(da!).compactMap { $0["id"] as? String })
            #expect(ids == [b.id, c.id])
            try waitUntil(timeout: .seconds(20), "B reconnected after A's restart") { try connected(da!, to: b) }
            let check = try run(Binaries.newsd, ["check-config", "--config", config])
            #expect(check.stdout.contains("\(b.id) (accept only) [peers add]"), "\(check.stdout)")
            #expect(da!.terminate() == 0)
            #expect(db.terminate() == 0)
        }
    }

    @Test func aReloadMovesListenWithoutDroppingTheSessionsThatAreUp() async throws {
        try await offThePool {
            let a = try TestSite("a3", in: folder), b = try TestSite("b3", in: folder), c = try TestSite("c3", in: folder)
            let configText = { (port: Int) in """
                watch = "\(a.watch)"
                data = "\(a.data)"
                listen = "127.0.0.1:\(port)"
                peers = ["\(b.id)", "\(c.id)"]

                """ }
            let config = folder.write("a3/newsd.toml", configText(a.port))
            let da = try DaemonProcess(watch: a.watch, data: a.data, extra: ["--config", config], passWatch: false)
            let db = try b.start(peers: [a])
            try da.waitUntilReady()
            try db.waitUntilReady()
            try waitUntil(timeout: .seconds(20), "B connected") { try connected(da, to: b) }
            let since = try peers(da).first { $0["id"] as? String == b.id }?["since"] as? String

            // `listen` moves to another port; SIGHUP; the new port accepts, B's session is the same one.
            let moved = freePort()
            _ = folder.write("a3/newsd.toml", configText(moved))
            kill(da.pid, SIGHUP)
            try waitUntil(timeout: .seconds(10), "listening on the new port") { da.listeningPort == moved }
            let dc = try c.start(dialing: ["\(a.id)@127.0.0.1:\(moved)"])
            try dc.waitUntilReady()
            try waitUntil(timeout: .seconds(20), "C connected through the new port") { try connected(da, to: c) }
            let after = try peers(da).first { $0["id"] as? String == b.id }
            #expect(after?["connected"] as? Bool == true)
            #expect(after?["since"] as? String == since, "B's session was not dropped")
            #expect(!da.log.contains("reload refused"))

            // A port another program holds: the reload says so, and the old address stays.
            let (holder, taken) = boundSocket()
            defer { close(holder) }
            _ = folder.write("a3/newsd.toml", configText(taken))
            kill(da.pid, SIGHUP)
            try waitUntil(timeout: .seconds(10), "the bind failure logged") { da.log.contains("cannot accept peers on 127.0.0.1:\(taken)") }
            #expect(da.listeningPort == moved)
            #expect(try connected(da, to: b) && connected(da, to: c))
            for daemon in [da, db, dc] { #expect(daemon.terminate() == 0) }
        }
    }
}
