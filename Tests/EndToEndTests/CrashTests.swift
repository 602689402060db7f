import Foundation
import Synchronization
import Testing
import TestSupport
import SyncProtocol

/// kill -9 at random moments, ten times during ingest and ten during replication (the short
/// version of `scripts/torture.sh`): nothing the log held before a kill is missing after it.
@Suite(.serialized) struct CrashTests {
    let folder = TemporaryFolder("crash")

    func entries(_ daemon: DaemonProcess) -> Int? {
        guard let result = try? daemon.ctl(["status", "--json"]), result.status == 0,
              let status = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else { return nil }
        return status["log_entries"] as? Int
    }

    @Test func tenKillsDuringIngestLoseNoAcknowledgedEntry() throws {
        let watch = folder.sub("ingest/watch"), data = folder.sub("ingest/data")
        try FileManager.default.createDirectory(atPath: watch + "/dot-tu", withIntermediateDirectories: true)
        // An editor saving all the while, temp file then rename, as editors do.
        let stop = Atomic<Bool>(false), writes = Atomic<Int>(0)
        let writer = Thread {
            var random = SystemRandomNumberGenerator()
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
        for _ in 0..<10 {
            let daemon = try DaemonProcess(watch: watch, data: data)
            usleep(UInt32.random(in: 300_000...1_200_000))
            guard let acknowledged = entries(daemon) else {
                daemon.kill9()
                continue
            }
            daemon.kill9()
            kills += 1
            let reopened = try DaemonProcess(watch: watch, data: data)
            try reopened.waitUntilReady()
            let after = entries(reopened) ?? 0
            if after < acknowledged { lost += acknowledged - after }
            reopened.kill9()
        }
        stop.store(true, ordering: .relaxed)
        usleep(50_000)
        #expect(kills >= 8, "most kills landed on a running daemon")
        #expect(lost == 0)

        let daemon = try DaemonProcess(watch: watch, data: data)
        try daemon.waitUntilReady()
        usleep(300_000)
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

    @Test func tenKillsDuringReplicationLoseNothingAndTheSitesConverge() throws {
        let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder)
        try Seeds.copy(to: a.watch)
        for index in 0..<400 {
            let section = ["thoi-su", "kinh-te", "the-thao", "van-hoa"][index % 4]
            folder.write("a/watch/\(section)/bai-\(index).txt",
                         String(repeating: "Bài \(index): phóng viên tại Hà Nội đưa tin về \(section).\n", count: 20 + index % 50))
        }
        let da = try a.start(peers: [], acceptOnly: [b])
        try da.waitUntilReady()
        let total = try #require(entries(da))

        var lost = 0
        for _ in 0..<10 {
            let db = try b.start(peers: [a])
            usleep(UInt32.random(in: 200_000...900_000))
            let acknowledged = entries(db) ?? 0
            db.kill9()
            let reopened = try b.start(peers: [])
            try reopened.waitUntilReady()
            let after = entries(reopened) ?? 0
            if after < acknowledged { lost += acknowledged - after }
            #expect(try reopened.ctl(["verify"]).status == 0, "the log is valid after a kill mid-replication")
            reopened.kill9()
        }
        #expect(lost == 0)

        let db = try b.start(peers: [a])
        try waitUntil(timeout: .seconds(60), "B caught up") { entries(db) == total && b.snapshot() == a.snapshot() }
        #expect(try db.ctl(["verify"]).status == 0)
        #expect(db.terminate() == 0)
        #expect(da.terminate() == 0)
    }
}
