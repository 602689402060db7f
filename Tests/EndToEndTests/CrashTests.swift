import Foundation
import Synchronization
import Testing
import TestSupport
import SyncProtocol

/// kill -9 at random moments, ten times during ingest and ten during replication (the short
/// version of `scripts/torture.sh`): every version the log held before a kill is in it after, and
/// `verify` passes after every restart. Compared as sets of version IDs, not counts: a lost entry
/// recorded again by the restart scan would keep the count.
@Suite(.serialized) struct CrashTests {
    let folder = TemporaryFolder("crash")

    func entries(_ daemon: DaemonProcess) -> Int? {
        guard let result = try? daemon.ctl(["status", "--json"]), result.status == 0,
              let status = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else { return nil }
        return status["log_entries"] as? Int
    }

    /// Every version ID in the log, or nil when the daemon does not answer.
    func versions(_ daemon: DaemonProcess) -> Set<String>? {
        guard let result = try? daemon.ctl(["log", "-n", "10000000", "--json"]), result.status == 0,
              let rows = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] else { return nil }
        return Set(rows.compactMap { $0["version"] as? String })
    }

    func verified(_ daemon: DaemonProcess) throws -> Bool { try daemon.ctl(["verify"]).status == 0 }

    @Test func tenKillsDuringIngestLoseNoAcknowledgedEntry() async throws {
        try await offThePool {
            let watch = folder.sub("ingest/watch"), data = folder.sub("ingest/data")
            try FileManager.default.createDirectory(atPath: watch + "/dot-tu", withIntermediateDirectories: true)
            // An editor saving all the while, temp file then rename, as editors do. Seeded: a failure
            // names its seed.
            let seed = UInt64.random(in: 0...UInt64.max)
            let stop = Atomic<Bool>(false), writes = Atomic<Int>(0)
            let writer = Thread {
                var random = SeededRandom(seed: seed)
                while !stop.load(ordering: .relaxed) {
                    let n = writes.add(1, ordering: .relaxed).newValue
                    let path = watch + "/dot-tu/bai-\(Int.random(in: 0..<60, using: &random)).txt"
                    let text = String(repeating: "Bản \(n): tin nóng từ Đà Nẵng.\n", count: Int.random(in: 1...30, using: &random))
                    _ = FileManager.default.createFile(atPath: path + ".tmp", contents: Data(text.utf8))
                    rename(path + ".tmp", path)
                    usleep(UInt32.random(in: 500...4_000, using: &random))
                }
            }
            writer.start()
            defer { stop.store(true, ordering: .relaxed) }

            var lost = 0
            var kills = 0
            var timing = SeededRandom(seed: seed ^ 0x5eed)
            for _ in 0..<10 {
                let daemon = try DaemonProcess(watch: watch, data: data)
                usleep(UInt32.random(in: 300_000...1_200_000, using: &timing))
                // Under a loaded test run the start may take longer than the pause: wait (up to 5 s)
                // until it answers, so the kill lands on a running daemon with what it acknowledged.
                var acknowledged = versions(daemon)
                for _ in 0..<50 where acknowledged == nil {
                    usleep(100_000)
                    acknowledged = versions(daemon)
                }
                guard let acknowledged else {
                    daemon.kill9()
                    continue
                }
                daemon.kill9()
                kills += 1
                let reopened = try DaemonProcess(watch: watch, data: data)
                try reopened.waitUntilReady()
                let after = try #require(versions(reopened))
                lost += acknowledged.subtracting(after).count
                #expect(try verified(reopened), "verify after restart \(kills) (seed \(seed))")
                reopened.kill9()
            }
            stop.store(true, ordering: .relaxed)
            #expect(kills >= 8, "most kills landed on a running daemon")
            #expect(lost == 0, "seed \(seed)")

            // The writer has stopped: a last start records what it left, then every file is its head.
            let daemon = try DaemonProcess(watch: watch, data: data)
            try daemon.waitUntilReady()
            let verify = try daemon.ctl(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            for name in try FileManager.default.contentsOfDirectory(atPath: watch + "/dot-tu") where !name.hasSuffix(".tmp") {
                let disk = ContentHash.of(Array(try Data(contentsOf: URL(fileURLWithPath: watch + "/dot-tu/" + name)))).hex
                let log = try daemon.ctl(["log", "dot-tu/" + name, "-n", "1", "--json"])
                let head = (try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [[String: Any]])?.first?["content_hash"] as? String
                #expect(head == disk, "dot-tu/\(name) on disk is its head in the log")
            }
            #expect(daemon.terminate() == 0)
            #expect(writes.load(ordering: .relaxed) > 100)
        }
    }

    @Test func tenKillsDuringReplicationLoseNothingAndTheSitesConverge() async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder)
            try Seeds.copy(to: a.watch)
            // More than one 512-entry batch, and one article larger than a frame (sent in parts).
            for index in 0..<700 {
                let section = ["thoi-su", "kinh-te", "the-thao", "van-hoa"][index % 4]
                folder.write("a/watch/\(section)/bai-\(index).txt",
                             String(repeating: "Bài \(index): phóng viên tại Hà Nội đưa tin về \(section).\n", count: 20 + index % 50))
            }
            var random = SeededRandom(seed: 42)
            let large = (0..<(5 << 20)).map { _ in UInt8.random(in: 0x20...0x7e, using: &random) }
            try Data(large).write(to: URL(fileURLWithPath: a.watch + "/ho-so-lon.txt"))
            let da = try a.start(peers: [], acceptOnly: [b])
            try da.waitUntilReady()
            let total = try #require(entries(da))

            let seed = UInt64.random(in: 0...UInt64.max)
            var timing = SeededRandom(seed: seed)
            var lost = 0
            for _ in 0..<10 {
                let db = try b.start(peers: [a])
                usleep(UInt32.random(in: 200_000...900_000, using: &timing))
                let acknowledged = versions(db) ?? []
                db.kill9()
                let reopened = try b.start(peers: [])
                try reopened.waitUntilReady()
                let after = try #require(versions(reopened))
                lost += acknowledged.subtracting(after).count
                #expect(try verified(reopened), "the log is valid after a kill mid-replication (seed \(seed))")
                reopened.kill9()
            }
            #expect(lost == 0, "seed \(seed)")

            let db = try b.start(peers: [a])
            try waitUntil(timeout: .seconds(90), "B caught up") { entries(db) == total && b.snapshot() == a.snapshot() }
            #expect(versions(db) == versions(da))
            #expect(try db.ctl(["verify"]).status == 0)
            #expect(db.terminate() == 0)
            #expect(da.terminate() == 0)
        }
    }
}
