import Foundation
import Testing
import TestSupport

/// Entries of `origin` in the daemon's log.
private func ownEntries(_ daemon: DaemonProcess, origin: String) throws -> Int {
    let result = try daemon.ctl(["log", "-n", "1000000", "--json"])
    let versions = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
    return versions.filter { $0["origin"] as? String == origin }.count
}

/// A site put back from an older copy of its data folder rejoins its peers without forking its own
/// chain: at start it takes back from them the entries it made after the copy, and only then
/// records anything local.
@Suite(.serialized) struct RejoinTests {
    let folder = TemporaryFolder("rejoin")

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

extension RejoinTests {
    /// The measured fork, with the peer down for the whole wait: the data folder put back by hand
    /// (not `restore-backup`), the articles folder kept. The watched folder's marker shows the log
    /// behind; A waits, then signs anew instead of recording at places of its chain B holds.
    /// When B returns nothing is refused: A gets its 50 edits back, B gets what A recorded
    /// meanwhile, both list the same conflicts, both verify.
    @Test func aDataFolderPutBackByHandWithThePeerDownSignsAnewAndForksNothing() async throws {
        try await offThePool {
            let a = try TestSite("a-hand", in: folder), b = try TestSite("b-hand", in: folder)
            for n in 0..<4 { folder.write("a-hand/watch/bai-\(n).txt", "Bài \(n), bản đầu.\n") }
            var da = try a.start(peers: [b])
            var db = try b.start(peers: [a])
            defer { _ = db.terminate() }
            try da.waitUntilReady()
            try waitUntil(timeout: .seconds(20), "the first versions at B") { b.snapshot() == a.snapshot() && b.snapshot().count == 4 }
            #expect(da.terminate() == 0)
            _ = try run("/bin/cp", ["-a", a.data, folder.sub("a-hand-data.copy")])

            da = try a.start(peers: [b])
            try da.waitUntilReady()
            for n in 0..<2 { folder.write("a-hand/watch/bai-\(n).txt", "Bài \(n), bản sửa sau bản sao.\n") }
            try waitUntil(timeout: .seconds(20), "the edits at B") { try ownEntries(db, origin: a.id) == 6 }
            #expect(da.terminate() == 0)
            #expect(db.terminate() == 0)
            #expect(FileManager.default.fileExists(atPath: a.watch + "/.newsd-site"), "the marker is in the watched folder")

            // The data folder goes back to the copy; B stays down past the wait.
            try replace(a.data, with: folder.sub("a-hand-data.copy"))
            let flags = ["--listen", "127.0.0.1:\(a.port)", "--site-name", "a", "--peer", b.address, "--rejoin-timeout", "2"]
            da = try DaemonProcess(watch: a.watch, data: a.data, extra: flags)
            defer { _ = da.terminate() }
            try da.waitUntilReady(timeout: .seconds(30))
            #expect(da.log.contains("the data folder is older than the last run"), "\(da.log)")
            let status = try JSONSerialization.jsonObject(with: Data(try da.ctl(["status", "--json"]).stdout.utf8)) as? [String: Any]
            let author = try #require((status?["signing_as"] as? String)?.split(separator: " ").first.map(String.init), "\(String(describing: status))")
            #expect(try ownEntries(da, origin: a.id) == 4, "nothing more signed as A")
            try waitUntil(timeout: .seconds(10), "the folder's newer files recorded under the new key") { try ownEntries(da, origin: author) == 2 }
            folder.write("a-hand/watch/bai-3.txt", "Bài 3, viết khi Đà Nẵng chưa về.\n")
            try waitUntil(timeout: .seconds(10), "a new save recorded") { try ownEntries(da, origin: author) == 3 }

            // B returns: no refusal either way; A's chain is whole again at A, A's new entries at B.
            db = try b.start(peers: [a])
            try waitUntil(timeout: .seconds(30), "both chains everywhere") {
                try ownEntries(da, origin: a.id) == 6 && ownEntries(db, origin: author) == 3
            }
            try waitUntil(timeout: .seconds(20), "both folders alike") { a.snapshot() == b.snapshot() }
            #expect(folder.read("b-hand/watch/bai-3.txt") == "Bài 3, viết khi Đà Nẵng chưa về.\n")
            var listed: [[String?]] = []
            for daemon in [da, db] {
                let conflicts = try JSONSerialization.jsonObject(with: Data(try daemon.ctl(["conflicts", "--json"]).stdout.utf8)) as? [[String: Any]]
                listed.append((conflicts ?? []).map { $0["article"] as? String }.sorted { ($0 ?? "") < ($1 ?? "") })
                #expect(try daemon.ctl(["verify"]).status == 0)
            }
            #expect(listed[0] == listed[1], "the same conflicts at both")
            #expect(!db.log.contains("chainBroken") && !da.log.contains("chainBroken"), "no fork")
        }
    }
}

/// `newsctl backup` while editors save, and `newsd restore-backup` after a lost disk.
@Suite(.serialized) struct BackupTests {
    let folder = TemporaryFolder("backup")

    /// Back up, 50 edits, replicated; the disk is lost (data and articles); restore the backup and
    /// start: the 50 edits come back from the peer, nothing is forked. `peerDownAtFirst`: B starts
    /// only after A has, and A waits for it (a restored site is patient). `olderFolder`: the
    /// articles folder comes back from a copy older than the backup instead of empty: its stale
    /// files are not taken as edits (which would revert the articles everywhere).
    @Test(arguments: [(false, false), (true, false), (false, true)])
    func restoreAndRejoin(peerDownAtFirst: Bool, olderFolder: Bool) async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder)
            for n in 0..<10 { folder.write("a/watch/bai-\(n).txt", "Bài \(n), bản đầu.\n") }
            var da = try a.start(peers: [b])
            var db = try b.start(peers: [a])
            defer { _ = db.terminate() }
            try da.waitUntilReady()
            try waitUntil(timeout: .seconds(20), "the first versions at B") { b.snapshot() == a.snapshot() && b.snapshot().count == 10 }
            _ = try run("/bin/cp", ["-a", a.watch, folder.sub("a-watch.older")])
            for n in 0..<10 { folder.write("a/watch/bai-\(n).txt", "Bài \(n), bản sửa 0.\n") }
            try waitUntil(timeout: .seconds(20), "round 0 logged at A") { try ownEntries(da, origin: a.id) == 20 }
            let backup = folder.sub("a.backup")
            let made = try da.ctl(["backup", backup, "--with-key"])
            #expect(made.status == 0 && made.stdout.contains("verified"), "\(made)")
            print(made.stdout)

            for round in 1...5 {
                for n in 0..<10 { folder.write("a/watch/bai-\(n).txt", "Bài \(n), bản sửa \(round).\n") }
                try waitUntil(timeout: .seconds(20), "round \(round) logged at A") { try ownEntries(da, origin: a.id) == 20 + 10 * round }
            }
            try waitUntil(timeout: .seconds(20), "the 50 edits at B") { try ownEntries(db, origin: a.id) == 70 && b.snapshot() == a.snapshot() }
            let edited = a.snapshot()

            // The disk is lost: no data folder, an empty articles folder. The backup goes back.
            #expect(da.terminate() == 0)
            if peerDownAtFirst { #expect(db.terminate() == 0) }
            try FileManager.default.removeItem(atPath: a.data)
            try FileManager.default.removeItem(atPath: a.watch)
            if olderFolder {
                _ = try run("/bin/cp", ["-a", folder.sub("a-watch.older"), a.watch])
            } else {
                try FileManager.default.createDirectory(atPath: a.watch, withIntermediateDirectories: true)
            }
            let restored = try run(Binaries.newsd, ["restore-backup", backup, "--data", a.data])
            #expect(restored.status == 0, "\(restored)")
            print(restored.stdout)
            da = try a.start(peers: [b])
            defer { _ = da.terminate() }
            if peerDownAtFirst {
                try waitUntil(timeout: .seconds(10), "A to say it is rejoining") {
                    (try da.ctl(["status"])).stdout.contains("rejoining")
                }
                let early = try da.ctl(["restore", "bai-0.txt"])
                #expect(early.status == 1 && early.stderr.contains("rejoining"), "no local change while rejoining: \(early)")
                db = try b.start(peers: [a])
            }
            try da.waitUntilReady(timeout: .seconds(60))
            try waitUntil(timeout: .seconds(20), "the 50 edits back in A's folder") { a.snapshot() == edited }
            #expect(try ownEntries(da, origin: a.id) == 70, "nothing recorded from the stale or empty folder")
            if olderFolder { #expect(da.log.contains("10 file(s) hold older versions of their articles"), "\(da.log)") }
            #expect(da.log.contains("rejoined: caught up with every peer"), "\(da.log)")
            print(da.log.split(separator: "\n").filter { $0.contains("rejoin") || $0.contains("restore") }.joined(separator: "\n"))

            folder.write("a/watch/bai-0.txt", "Bài 0, sau khi khôi phục.\n")
            try waitUntil(timeout: .seconds(20), "A's edit after the restore at B") { folder.read("b/watch/bai-0.txt") == "Bài 0, sau khi khôi phục.\n" }
            var heldAtB = -1
            try waitUntil(timeout: .seconds(10), "B to hold A's 71st entry (it holds \(heldAtB))") {
                heldAtB = try ownEntries(db, origin: a.id)
                return heldAtB == 71
            }
            #expect(heldAtB == 71, "no fork: A's chain goes on at 71")
            #expect(!FileManager.default.fileExists(atPath: a.data + "/restored-from-backup"), "the restore is complete")
            for daemon in [da, db] { #expect(try daemon.ctl(["verify"]).status == 0) }
        }
    }

    /// Restored while its only peer stays down past the rejoin's time limit: A starts, signs its
    /// new edits with a new author key, and when B comes back the 50 edits return, A's edit made
    /// meanwhile reaches B, and the article both changed is the same conflict at both. No fork.
    @Test func restoredWithThePeerDownForTheWholeWaitSignsAnewAndLosesNothing() async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder)
            for n in 0..<10 { folder.write("a/watch/bai-\(n).txt", "Bài \(n), bản đầu.\n") }
            var da = try a.start(peers: [b])
            var db = try b.start(peers: [a])
            defer { _ = db.terminate() }
            try da.waitUntilReady()
            try waitUntil(timeout: .seconds(20), "the first versions at B") { b.snapshot() == a.snapshot() && b.snapshot().count == 10 }
            let backup = folder.sub("a-down.backup")
            #expect(try da.ctl(["backup", backup, "--with-key"]).status == 0)
            for round in 1...5 {
                for n in 0..<10 { folder.write("a/watch/bai-\(n).txt", "Bài \(n), bản sửa \(round).\n") }
                try waitUntil(timeout: .seconds(20), "round \(round) logged at A") { try ownEntries(da, origin: a.id) == 10 + 10 * round }
            }
            try waitUntil(timeout: .seconds(20), "the 50 edits at B") { try ownEntries(db, origin: a.id) == 60 && b.snapshot() == a.snapshot() }
            let edited = a.snapshot()

            // The disk is lost and B is down; the backup goes back, and A starts alone.
            #expect(da.terminate() == 0)
            #expect(db.terminate() == 0)
            try FileManager.default.removeItem(atPath: a.data)
            try FileManager.default.removeItem(atPath: a.watch)
            try FileManager.default.createDirectory(atPath: a.watch, withIntermediateDirectories: true)
            #expect(try run(Binaries.newsd, ["restore-backup", backup, "--data", a.data]).status == 0)
            let flags = ["--listen", "127.0.0.1:\(a.port)", "--site-name", "a", "--peer", b.address, "--rejoin-timeout", "2"]
            da = try DaemonProcess(watch: a.watch, data: a.data, extra: flags)
            defer { _ = da.terminate() }
            try da.waitUntilReady(timeout: .seconds(30))
            let status = try JSONSerialization.jsonObject(with: Data(try da.ctl(["status", "--json"]).stdout.utf8)) as? [String: Any]
            let author = try #require((status?["signing_as"] as? String)?.split(separator: " ").first.map(String.init), "\(String(describing: status))")
            #expect(author != a.id)
            #expect(FileManager.default.fileExists(atPath: a.data + "/author.key"))

            // An editor saves at A meanwhile: signed by the author key, not as A's 11th.
            folder.write("a/watch/bai-0.txt", "Bài 0, viết khi Đà Nẵng chưa về.\n")
            try waitUntil(timeout: .seconds(10), "the edit logged at A") { try ownEntries(da, origin: author) == 1 }
            #expect(try ownEntries(da, origin: a.id) == 10, "nothing more signed as A")

            // B comes back: the 50 edits reach A, A's edit reaches B, one conflict on bai-0 at both.
            db = try b.start(peers: [a])
            try waitUntil(timeout: .seconds(30), "A's chain back at A and the new edit at B") {
                try ownEntries(da, origin: a.id) == 60 && ownEntries(db, origin: author) == 1
            }
            try waitUntil(timeout: .seconds(20), "both folders alike") { a.snapshot() == b.snapshot() }
            for n in 1..<10 { #expect(a.snapshot()["bai-\(n).txt"] == edited["bai-\(n).txt"], "bai-\(n): the 50 edits are back") }
            for daemon in [da, db] {
                let conflicts = try JSONSerialization.jsonObject(with: Data(try daemon.ctl(["conflicts", "--json"]).stdout.utf8)) as? [[String: Any]]
                #expect(conflicts?.map { $0["article"] as? String } == ["bai-0.txt"], "the same conflict at both")
                #expect(try daemon.ctl(["verify"]).status == 0)
            }
            #expect(!db.log.contains("chainBroken") && !da.log.contains("chainBroken"), "no fork")

            // A later start keeps the author key made for this restore.
            #expect(da.terminate() == 0)
            da = try DaemonProcess(watch: a.watch, data: a.data, extra: flags)
            try da.waitUntilReady(timeout: .seconds(30))
            let again = try JSONSerialization.jsonObject(with: Data(try da.ctl(["status", "--json"]).stdout.utf8)) as? [String: Any]
            #expect((again?["signing_as"] as? String)?.hasPrefix(author) == true)
        }
    }

    /// A backup taken while 1,000 edits land verifies, and restores into an empty data folder.
    @Test func aBackupDuringEditsVerifiesAndRestores() async throws {
        try await offThePool {
            let watch = folder.sub("w")
            try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: true)
            let daemon = try DaemonProcess(watch: watch, data: folder.sub("d"))
            defer { _ = daemon.terminate() }
            try daemon.waitUntilReady()
            let editor = Thread {
                for n in 0..<1000 { folder.write("w/tin-\(n % 50).txt", "Tin \(n % 50), bản \(n / 50).\n\(String(repeating: "Nội dung. ", count: n % 40))") }
            }
            editor.start()
            var backups: [String] = []
            for n in 0..<3 {
                let path = folder.sub("during-\(n).backup")
                let made = try daemon.ctl(["backup", path])
                #expect(made.status == 0, "\(made)")
                backups.append(path)
            }
            while editor.isExecuting { usleep(20_000) }
            let again = try daemon.ctl(["backup", backups[0]])
            #expect(again.status == 2 && again.stderr.contains("exists"), "\(again)")
            let keyed = try daemon.ctl(["backup", folder.sub("keyed.backup"), "--with-key"])
            #expect(keyed.status == 0 && keyed.stdout.contains("includes the site key"))
            var st = stat()
            #expect(stat(folder.sub("keyed.backup"), &st) == 0 && st.st_mode & 0o777 == 0o600)
            // A plain backup cannot be restored without the key; a keyed one can, anywhere.
            let keyless = try run(Binaries.newsd, ["restore-backup", backups[2], "--data", folder.sub("elsewhere")])
            #expect(keyless.status != 0 && keyless.stderr.contains("has no key"), "\(keyless)")
            let restored = try run(Binaries.newsd, ["restore-backup", folder.sub("keyed.backup"), "--data", folder.sub("elsewhere")])
            #expect(restored.status == 0 && restored.stdout.contains("verified"), "\(restored)")
            // Not over a running site's data folder.
            let busy = try run(Binaries.newsd, ["restore-backup", backups[2], "--data", folder.sub("d")])
            #expect(busy.status != 0 && busy.stderr.contains("stop it first"), "\(busy)")
            #expect(!((try? FileManager.default.contentsOfDirectory(atPath: folder.sub("d"))) ?? []).contains { $0.hasPrefix("backup-") },
                    "no copy left in the data folder")
        }
    }
}
