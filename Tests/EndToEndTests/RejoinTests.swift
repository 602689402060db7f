import Foundation
import Testing
import TestSupport

/// A site put back from an older copy of its data folder rejoins its peers without forking its own
/// chain: at start it takes back from them the entries it made after the copy, and only then
/// records anything local.
@Suite(.serialized) struct RejoinTests {
    let folder = TemporaryFolder("rejoin")

    func ownEntries(_ daemon: DaemonProcess, origin: String) throws -> Int {
        let result = try daemon.ctl(["log", "-n", "1000000", "--json"])
        let versions = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
        return versions.filter { $0["origin"] as? String == origin }.count
    }

    func replace(_ path: String, with copy: String) throws {
        try FileManager.default.removeItem(atPath: path)
        let copied = try run("/bin/cp", ["-a", copy, path])
        #expect(copied.status == 0, "\(copied.stderr)")
    }

    /// `articlesToo`: the articles folder is put back from the copy as well (a lost disk); else only
    /// the data folder is, and the folder holds saves the copy's log has never seen as its own.
    @Test(arguments: [false, true])
    func aSiteRestoredFromAnOlderCopyTakesBackItsOwnLaterEntries(articlesToo: Bool) async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder)
            for n in 0..<10 { folder.write("a/watch/bai-\(n).txt", "Bài \(n), bản đầu.\n") }
            var da = try a.start(peers: [b])
            let db = try b.start(peers: [a])
            defer { _ = db.terminate() }
            try da.waitUntilReady()
            try waitUntil(timeout: .seconds(20), "the first versions at B") { b.snapshot() == a.snapshot() && b.snapshot().count == 10 }

            // The copy: both folders as they are with A stopped (last night's backup).
            #expect(da.terminate() == 0)
            _ = try run("/bin/cp", ["-a", a.data, folder.sub("a-data.copy")])
            _ = try run("/bin/cp", ["-a", a.watch, folder.sub("a-watch.copy")])

            // 50 edits at A, all at B.
            da = try a.start(peers: [b])
            try da.waitUntilReady()
            for round in 1...5 {
                for n in 0..<10 { folder.write("a/watch/bai-\(n).txt", "Bài \(n), bản sửa \(round).\n") }
                try waitUntil(timeout: .seconds(20), "round \(round) logged at A") { try ownEntries(da, origin: a.id) == 10 + 10 * round }
            }
            try waitUntil(timeout: .seconds(20), "the 50 edits at B") { try ownEntries(db, origin: a.id) == 60 && b.snapshot() == a.snapshot() }
            let edited = a.snapshot()

            // The copy is put back; A starts.
            #expect(da.terminate() == 0)
            try replace(a.data, with: folder.sub("a-data.copy"))
            if articlesToo { try replace(a.watch, with: folder.sub("a-watch.copy")) }
            da = try a.start(peers: [b])
            defer { _ = da.terminate() }
            try da.waitUntilReady()
            try waitUntil(timeout: .seconds(20), "the 50 edits back in A's folder") { a.snapshot() == edited }
            #expect(try ownEntries(da, origin: a.id) == 60, "A holds its own 60 entries again, no more")
            #expect(da.log.contains("rejoined: caught up with every peer"), "\(da.log)")

            // No fork: A's next edit is the 61st entry of its chain, and B takes it.
            folder.write("a/watch/bai-0.txt", "Bài 0, sau khi khôi phục.\n")
            try waitUntil(timeout: .seconds(20), "A's edit after the restore at B") { folder.read("b/watch/bai-0.txt") == "Bài 0, sau khi khôi phục.\n" }
            #expect(try ownEntries(db, origin: a.id) == 61)
            #expect(!db.log.contains("chainBroken") && !db.log.contains("does not match"), "B refused something from A")
            for daemon in [da, db] {
                let verified = try daemon.ctl(["verify"])
                #expect(verified.status == 0, "\(verified.stdout)")
            }
        }
    }
}
