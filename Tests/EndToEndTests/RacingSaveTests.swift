import Foundation
import SyncProtocol
import Testing
import TestSupport

/// The real binaries, with B's folder writer held just before its swap (the
/// `NEWSD_TEST_SWAP_PAUSE_MS` seam): an editor at B saves while A's version is staged beside the
/// article. Both saves must end up in both logs, as one conflict listed alike.
@Suite(.serialized) struct RacingSaveTests {
    let folder = TemporaryFolder("racing")

    func contentHashes(_ daemon: DaemonProcess, _ article: String) throws -> Set<String> {
        let result = try daemon.ctl(["log", article, "--json"])
        guard result.status == 0, let rows = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] else { return [] }
        return Set(rows.compactMap { $0["content_hash"] as? String })
    }

    func sha256(_ text: String) -> String { ContentHash.of(Array(text.utf8)).hex }

    @Test func aSaveMadeWhileAnIncomingVersionIsStagedIsInBothLogs() async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder)
            let da = try a.start(peers: [b])
            let db = try b.start(peers: [a], environment: ["NEWSD_TEST_SWAP_PAUSE_MS": "1500"])
            try da.waitUntilReady()
            try db.waitUntilReady()
            folder.write("a/watch/tin.txt", "Bản đầu tiên.\n")
            try waitUntil(timeout: .seconds(20), "the first version at B") { folder.read("b/watch/tin.txt") == "Bản đầu tiên.\n" }

            folder.write("a/watch/tin.txt", "Bản sửa ở Hà Nội.\n")
            // A's version is staged beside the article at B: the writer is paused before the swap.
            try waitUntil(timeout: .seconds(20), "A's version staged at B") {
                (try? FileManager.default.contentsOfDirectory(atPath: b.watch))?.contains { $0.hasPrefix(".newsd-") && $0 != ".newsd-site" } == true
            }
            let mine = "Bản của biên tập viên Đà Nẵng, lưu đúng lúc đó.\n"
            let temp = b.watch + "/.tin.txt.swp"
            try Data(mine.utf8).write(to: URL(fileURLWithPath: temp))
            #expect(rename(temp, b.watch + "/tin.txt") == 0)

            let both: Set<String> = [sha256("Bản sửa ở Hà Nội.\n"), sha256(mine)]
            try waitUntil(timeout: .seconds(30), "both saves in both logs") {
                try both.isSubset(of: contentHashes(db, "tin.txt")) && both.isSubset(of: contentHashes(da, "tin.txt"))
            }
            try waitUntil(timeout: .seconds(30), "the same winner in both folders") {
                folder.read("a/watch/tin.txt") == folder.read("b/watch/tin.txt")
            }
            for daemon in [da, db] {
                let conflicts = try daemon.ctl(["conflicts", "--json"])
                #expect(conflicts.stdout.contains("tin.txt"), "the two saves are one conflict")
                #expect(try daemon.ctl(["verify"]).status == 0)
            }
            #expect(da.terminate() == 0 && db.terminate() == 0)
        }
    }
}
