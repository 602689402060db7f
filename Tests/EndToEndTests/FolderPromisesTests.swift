import Foundation
import SyncProtocol
import Testing
import TestSupport

/// The real binaries: a delete and an edit made apart and then joined, and a reload that names
/// a new watched folder.
@Suite(.serialized) struct FolderPromisesTests {
    let folder = TemporaryFolder("promises")

    func json(_ daemon: DaemonProcess, _ arguments: [String]) throws -> Any {
        let result = try daemon.ctl(arguments + ["--json"])
        guard result.status == 0 else { throw TimedOut(description: "newsctl \(arguments) failed: \(result.stderr)") }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    func entries(_ daemon: DaemonProcess) -> Int {
        ((try? json(daemon, ["status"])) as? [String: Any])?["log_entries"] as? Int ?? -1
    }

    @Test func aDeleteAndAnEditMadeApartKeepTheEditEverywhere() async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder)
            let da = try a.start(peers: [b])
            var db = try b.start(peers: [a])
            folder.write("a/watch/tin.txt", "Bản đầu.\n")
            try waitUntil(timeout: .seconds(20), "the article at B") { folder.read("b/watch/tin.txt") == "Bản đầu.\n" }
            #expect(db.terminate() == 0)

            // Apart: A edits; then B, not linked to anyone, deletes (later, so the old rule's delete would win).
            folder.write("a/watch/tin.txt", "Bản sửa ở Hà Nội.\n")
            try waitUntil("A's edit logged") { entries(da) == 2 }
            db = try b.start(peers: [])
            try db.waitUntilReady()
            try FileManager.default.removeItem(atPath: b.watch + "/tin.txt")
            try waitUntil("B's delete logged") { entries(db) == 2 }
            #expect(db.terminate() == 0)

            // Joined: the edit wins on both sites, and the conflict stays listed.
            db = try b.start(peers: [a])
            try waitUntil(timeout: .seconds(30), "joined") { entries(da) == 3 && entries(db) == 3 }
            try waitUntil(timeout: .seconds(10), "the edit in both folders") {
                folder.read("a/watch/tin.txt") == "Bản sửa ở Hà Nội.\n" && folder.read("b/watch/tin.txt") == "Bản sửa ở Hà Nội.\n"
            }
            for daemon in [da, db] {
                let conflicts = try #require(try json(daemon, ["conflicts"]) as? [[String: Any]])
                #expect(conflicts.map { $0["article"] as? String } == ["tin.txt"])
                let ops = (conflicts.first?["heads"] as? [[String: Any]])?.compactMap { $0["op"] as? String }.sorted()
                #expect(ops == ["delete", "put"])
                #expect(try daemon.ctl(["verify"]).status == 0)
            }
            #expect(da.terminate() == 0 && db.terminate() == 0)
        }
    }

    @Test func aReloadThatNamesANewWatchedFolderKeepsTheOldOneUntilARestart() async throws {
        try await offThePool {
            let old = folder.sub("cu"), new = folder.sub("moi")
            for path in [old, new] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            folder.write("cu/bai.txt", "Bài trong thư mục cũ.\n")
            let config = folder.sub("newsd.toml")
            // Any free port: a config file means DaemonProcess adds no --listen of its own.
            try "watch = \"\(old)\"\nlisten = \"127.0.0.1:0\"\n".write(toFile: config, atomically: true, encoding: .utf8)
            let daemon = try DaemonProcess(watch: old, data: folder.sub("d"), extra: ["--config", config], passWatch: false)
            try daemon.waitUntilReady()
            try waitUntil("the old folder's article") { entries(daemon) == 1 }

            try "watch = \"\(new)\"\nlisten = \"127.0.0.1:0\"\n".write(toFile: config, atomically: true, encoding: .utf8)
            kill(daemon.pid, SIGHUP)
            try waitUntil("the reload said the change waits for a restart") { daemon.log.contains("takes effect at the next restart") }
            // Edits in the old folder are still recorded; nothing is taken as deleted.
            folder.write("cu/bai.txt", "Bài sửa sau khi nạp lại cấu hình.\n")
            try waitUntil("the edit after the reload logged") { entries(daemon) == 2 }
            let status = try #require(try json(daemon, ["status"]) as? [String: Any])
            #expect(status["watch_dir"] as? String == old)
            #expect(status["articles"] as? Int == 1 && status["deleted_articles"] as? Int == 0)
            #expect(daemon.terminate() == 0)
        }
    }
}
