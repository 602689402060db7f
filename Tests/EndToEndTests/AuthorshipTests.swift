import Foundation
import Testing
import TestSupport

/// Who wrote what, across two sites: a save by another account is recorded as that account's,
/// signed, and shows the same at the peer in `log` and `blame`; a restore through newsctl is the
/// caller's.
@Suite(.serialized) struct AuthorshipTests {
    let folder = TemporaryFolder("authors")

    func json(_ daemon: DaemonProcess, _ arguments: [String]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try daemon.ctl(arguments + ["--json"]).stdout.utf8))
    }

    /// Saving as another account takes root (chown).
    @Test(.enabled(if: getuid() == 0)) func aSaveIsTheFileOwnersAndTheSameAtEverySite() async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder)
            folder.write("a/watch/bai.txt", "Tin Đà Nẵng\n\nĐoạn một, bản đầu.\n\nĐoạn hai, bản đầu.\n")
            let da = try a.start(peers: [b]), db = try b.start(peers: [a])
            defer { _ = da.terminate(); _ = db.terminate() }
            try da.waitUntilReady()
            try db.waitUntilReady()
            try waitUntil(timeout: .seconds(20), "the first version at B") { b.snapshot() == a.snapshot() }
            let me = String(cString: getpwuid(getuid()).pointee.pw_name)

            // An editor's save as another account (temp file and rename, owned by that account).
            let temp = a.watch + "/.bai.txt.tmp"
            try Data("Tin Đà Nẵng\n\nĐoạn một, bản đầu.\n\nĐoạn hai, do người khác sửa.\n".utf8).write(to: URL(fileURLWithPath: temp))
            #expect(chown(temp, 65534, 65534) == 0)
            #expect(rename(temp, a.watch + "/bai.txt") == 0)
            let nobody = getpwuid(65534).map { String(cString: $0.pointee.pw_name) } ?? "uid 65534"
            try waitUntil(timeout: .seconds(20), "the save at B") { folder.read("b/watch/bai.txt")?.contains("do người khác sửa") == true }

            for daemon in [da, db] {
                let versions = try json(daemon, ["log", "bai.txt"]) as? [[String: Any]] ?? []
                #expect(versions.map { $0["author"] as? String } == [nobody, me], "\(versions)")
                // Blame: the heading and the first paragraph are the first version's, the second the other account's.
                let blame = try json(daemon, ["blame", "bai.txt"]) as? [String: Any]
                let lines = blame?["lines"] as? [[String: Any]] ?? []
                let changes = blame?["versions"] as? [[String: Any]] ?? []
                let authors = lines.map { line in (line["change"] as? Int).flatMap { changes.indices.contains($0) ? changes[$0]["author"] as? String : nil } }
                #expect(lines.count == 5 && authors == [me, me, me, me, nobody], "\(lines)")
                let text = try daemon.ctl(["blame", "bai.txt"])
                #expect(text.status == 0 && text.stdout.contains(nobody) && text.stdout.contains("Đoạn hai, do người khác sửa."), "\(text.stdout)")
                #expect(try daemon.ctl(["verify"]).status == 0)
            }

            // A restore through newsctl is the caller's; blame of an older version works too.
            let first = try #require((try json(db, ["log", "bai.txt"]) as? [[String: Any]])?.last?["version"] as? String)
            #expect(try db.ctl(["restore", "bai.txt@" + String(first.prefix(12))]).status == 0)
            try waitUntil(timeout: .seconds(20), "the restore at A") { folder.read("a/watch/bai.txt")?.contains("Đoạn hai, bản đầu.") == true }
            let atA = try json(da, ["log", "bai.txt"]) as? [[String: Any]] ?? []
            #expect(atA.first?["author"] as? String == me && atA.count == 3)
            let older = try json(da, ["blame", "bai.txt@" + String(first.prefix(12))]) as? [String: Any]
            #expect((older?["lines"] as? [Any])?.count == 5)
            // Bad input: a delete or an unknown version is a clear error.
            #expect(try da.ctl(["blame", "khong-co.txt"]).status != 0)

            // A write into the file in place (as `nano` saves) keeps the file's owner whoever wrote:
            // recorded with no author rather than a wrong one, at both sites.
            let handle = try #require(FileHandle(forWritingAtPath: a.watch + "/bai.txt"))
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data("Tin Đà Nẵng\n\nSửa tại chỗ.\n".utf8))
            try handle.close()
            try waitUntil(timeout: .seconds(20), "the in-place save at B") { folder.read("b/watch/bai.txt")?.contains("Sửa tại chỗ.") == true }
            for daemon in [da, db] {
                let versions = try json(daemon, ["log", "bai.txt"]) as? [[String: Any]] ?? []
                #expect(versions.count >= 4 && versions.first?["author"] == nil, "\(versions.first ?? [:])")
            }
        }
    }
}
