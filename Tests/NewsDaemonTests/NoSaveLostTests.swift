import Foundation
import Testing
import TestSupport
@testable import NewsDaemon
@testable import Store
import SyncProtocol

/// The promise that no editor's save is lost, path by path: two sites in this process, entries
/// handed over directly, the folder writer's swap paused where a save would race it.
@Suite struct NoSaveLostTests {
    let folder = TemporaryFolder("nosavelost")

    func pair() throws -> (InProcessSite, InProcessSite) {
        (try InProcessSite("a", in: folder), try InProcessSite("b", in: folder))
    }

    @Test func aSaveLandingAtTheSwapIsRecordedAndNeitherVersionIsLost() async throws {
        let (a, b) = try pair()
        a.save("tin.txt", "bản gốc")
        try await a.site.scanAll()
        try await a.send(to: b)
        #expect(b.read("tin.txt") == "bản gốc")

        try await a.saveAndRecord("tin.txt", "bản của Hà Nội")
        // B's editor saves exactly between B's pre-ingest and the swap.
        let editor = b
        await b.site.setBeforeSwap { path in
            if path == "tin.txt" { editor.save("tin.txt", "bản của Đà Nẵng") }
        }
        try await a.send(to: b)
        await b.site.setBeforeSwap(nil)

        #expect(try await b.logHolds("tin.txt", "bản của Đà Nẵng"), "the racing save is in B's log")
        #expect(try await b.logHolds("tin.txt", "bản của Hà Nội"))
        let heads = try await b.heads()[ArticlePath("tin.txt")] ?? []
        #expect(heads.count == 2, "the two edits are concurrent: a conflict")
        try await b.send(to: a)
        #expect(try await a.heads() == b.heads())
        #expect(try await a.logHolds("tin.txt", "bản của Đà Nẵng"))
        // Both folders hold the same winner, and no temp file is left.
        #expect(a.read("tin.txt") == b.read("tin.txt"))
        #expect(try b.leftoverTemps().isEmpty)
        #expect(try await b.site.verify().problems.isEmpty)
    }

    @Test func anInPlaceWriterHoldingTheFileOpenAcrossTheSwapLosesNothing() async throws {
        let (a, b) = try pair()
        a.save("tin.txt", "bản gốc")
        try await a.site.scanAll()
        try await a.send(to: b)
        try await a.saveAndRecord("tin.txt", "bản của Hà Nội")
        // B's editor saves in place (open, truncate, write) at the instant of the swap, and is
        // still writing when the file is moved out.
        let writer = HeldWriter()
        let target = b.path("tin.txt")
        await b.site.setBeforeSwap { path in
            if path == "tin.txt" { writer.open(target, writing: "nửa đầu, ") }
        }
        try await a.send(to: b)
        await b.site.setBeforeSwap(nil)
        #expect(b.read("tin.txt") == "bản của Hà Nội")
        #expect(await b.site.status().problems.contains { $0.contains("still open for writing") }, "kept, not removed")
        // The editor finishes and closes; the kept file is recorded at the next retry.
        writer.finish(writing: "nửa sau.")
        // Retried as the daemon's timer does: a child another test spawns at that instant holds a
        // copy of the writer's descriptor until it execs, and the lease waits for it to go.
        for _ in 0..<100 {
            try await b.site.retryOwedWrites(all: true)
            if try await b.logHolds("tin.txt", "nửa đầu, nửa sau.") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await b.logHolds("tin.txt", "nửa đầu, nửa sau."), "the whole in-place save is in the log")
        #expect(try b.leftoverTemps().isEmpty)
        #expect(try await b.site.verify().problems.isEmpty)
    }

    @Test func aDeleteLandingAtTheSwapKeepsTheSave() async throws {
        let (a, b) = try pair()
        a.save("xoa.txt", "sắp bị xoá")
        try await a.site.scanAll()
        try await a.send(to: b)
        try FileManager.default.removeItem(atPath: a.path("xoa.txt"))
        try await a.site.ingest(paths: ["xoa.txt"])
        let editor = b
        await b.site.setBeforeSwap { path in
            if path == "xoa.txt" { editor.save("xoa.txt", "vẫn đang viết") }
        }
        try await a.send(to: b)
        await b.site.setBeforeSwap(nil)
        #expect(try await b.logHolds("xoa.txt", "vẫn đang viết"))
        #expect(b.read("xoa.txt") == "vẫn đang viết", "the edit beats the concurrent delete and stays in the folder")
        try await b.send(to: a)
        #expect(a.read("xoa.txt") == "vẫn đang viết")
        #expect(try await a.heads() == b.heads())
        #expect(try await a.site.conflicts().map(\.article) == ["xoa.txt"])
    }

    @Test func deleteVersusEditMadeApartThenJoinedKeepsTheEditEverywhere() async throws {
        let (a, b) = try pair()
        a.save("bai.txt", "bản đầu")
        try await a.site.scanAll()
        try await a.send(to: b)
        // Apart: A's editor edits, B's editor deletes, later.
        try await a.saveAndRecord("bai.txt", "bản sửa ở A")
        try await Task.sleep(for: .milliseconds(5))
        try FileManager.default.removeItem(atPath: b.path("bai.txt"))
        try await b.site.ingest(paths: ["bai.txt"])
        // Joined.
        try await a.send(to: b)
        try await b.send(to: a)
        for site in [a, b] {
            #expect(site.read("bai.txt") == "bản sửa ở A", "\(site.name): the edit wins")
            let conflicts = try await site.site.conflicts()
            #expect(conflicts.map(\.article) == ["bai.txt"], "\(site.name): the conflict stays listed")
            #expect(conflicts.first?.heads.map(\.op).sorted() == ["delete", "put"])
        }
        #expect(try await a.heads() == b.heads())
    }

    @Test func aLocalEditReplacesOnlyWhatItsFileHeld() async throws {
        let (a, b) = try pair()
        a.save("tin.txt", "một")
        try await a.site.scanAll()
        try await a.send(to: b)
        // A version reaches B's log, but its write fails: a folder stands where the file goes.
        try await a.saveAndRecord("tin.txt", "hai")
        try FileManager.default.removeItem(atPath: b.path("tin.txt"))
        try await b.site.ingest(paths: ["tin.txt"])   // a delete at B, concurrent with "hai"
        try FileManager.default.createDirectory(atPath: b.path("tin.txt"), withIntermediateDirectories: true)
        try await a.send(to: b)
        #expect(await b.site.status().problems.contains { $0.contains("tin.txt") }, "the failed write is listed")
        #expect(try await b.site.history(LogRequest(article: "tin.txt")).count == 3)
        // The cause goes away; the write is retried and lands.
        try FileManager.default.removeItem(atPath: b.path("tin.txt"))
        try await b.site.retryOwedWrites(all: true)
        #expect(b.read("tin.txt") == "hai")
        #expect(await !b.site.status().problems.contains { $0.contains("tin.txt") })
        // B's editor edits it now: the edit replaces "hai" (what the file holds), not B's delete.
        try await b.saveAndRecord("tin.txt", "ba")
        let latest = try await b.site.history(LogRequest(article: "tin.txt", limit: 1)).first
        let two = try await b.site.history(LogRequest(article: "tin.txt")).first { $0.op == "put" && $0.size == 3 }
        #expect(latest?.replaces == [two?.version].compactMap { $0 })
    }

    @Test func restoreFirstRecordsASaveStillInsideTheDebounce() async throws {
        let (a, _) = try pair()
        a.save("tin.txt", "bản một")
        try await a.site.scanAll()
        try await a.saveAndRecord("tin.txt", "bản hai")
        // Saved, not yet seen by the watcher.
        a.save("tin.txt", "bản ba chưa ghi")
        let restored = try await a.site.restore(RestoreRequest(article: "tin.txt", version: .back(1)))
        #expect(try await a.logHolds("tin.txt", "bản ba chưa ghi"), "the unrecorded save is in the log before the restore writes")
        #expect(a.read("tin.txt") == "bản hai")
        #expect(restored.head.size == UInt64("bản hai".utf8.count))
    }

    @Test func restoreFindsAnArticleStoredUnderAnNFDName() async throws {
        let (a, _) = try pair()
        let nfd = "Huế mưa.txt".decomposedStringWithCanonicalMapping
        a.save(nfd, "mưa lớn")
        try await a.site.scanAll()
        try await a.saveAndRecord(nfd, "mưa rất lớn")
        _ = try await a.site.restore(RestoreRequest(article: "Huế mưa.txt", version: .back(1)))
        let names = try FileManager.default.contentsOfDirectory(atPath: a.watch).filter { !$0.hasPrefix(".") }
        #expect(names.count == 1, "no second, NFC-named copy: \(names)")
        #expect(a.read(nfd) == "mưa lớn")
    }

    @Test func aMissingFolderThatComesBackGetsEveryArticleWritten() async throws {
        let (a, b) = try pair()
        a.save("mot.txt", "một")
        try await a.site.scanAll()
        try await a.send(to: b)
        let aside = b.root + "/w-away"
        #expect(rename(b.watch, aside) == 0)
        try await b.site.scanAll()
        try await a.saveAndRecord("hai.txt", "hai")
        try await a.send(to: b)
        #expect(rename(aside, b.watch) == 0)
        try await b.site.scanAll()
        #expect(b.read("hai.txt") == "hai")
        #expect(b.read("mot.txt") == "một")
        #expect(try await b.site.stats.liveArticles == 2)
    }

    @Test func writesNeverFollowASymlinkedFolder() async throws {
        let (a, b) = try pair()
        let outside = folder.sub("srv-www")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        #expect(symlink(outside, b.path("pub")) == 0)
        a.save("pub/x.html", "<p>tin</p>")
        try await a.site.scanAll()
        try await a.send(to: b)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty, "nothing written outside the folder")
        #expect(await b.site.status().problems.contains { $0.contains("pub/x.html") && $0.contains("symlink") })
    }

    @Test func aPeerClockADayAheadIsStoredButNotFollowed() async throws {
        let (a, b) = try pair()
        // A's entries are stamped a day ahead.
        let day: UInt64 = 86_400_000
        let log = try ArticleLog(path: folder.sub("future.sqlite"))
        var clock = HybridLogicalClock()
        let bytes = Array("tin từ tương lai".utf8)
        let article = try ArticlePath("tuong-lai.txt")
        let state = FileState(path: "tuong-lai.txt", article: article, size: Int64(bytes.count), mtimeNanos: 1, ctimeNanos: 1, inode: 1, contentHash: .of(bytes))
        let made = try log.recordLocal([LocalChange(article: article, kind: .put(bytes: bytes, hash: .of(bytes), file: state))],
                                       signer: a.key, clock: &clock, wallMillis: SiteLog.wallMillis() + day)
        let blob = try #require(try log.storedBlob(.of(bytes)))
        let result = try await b.site.applyRemote(made, blobs: [blob.hash: blob], keys: [a.key.siteID: a.key.publicKey])
        #expect(result.stored.count == 1)
        #expect(b.read("tuong-lai.txt") == "tin từ tương lai")
        // B's own next edit is stamped by B's clock, not a day ahead.
        try await b.saveAndRecord("cua-b.txt", "tin của B")
        let mine = try #require(try await b.site.history(LogRequest(article: "cua-b.txt")).first)
        #expect(mine.hlc >> 16 < SiteLog.wallMillis() + 60_000)
        #expect(await b.site.status().problems.contains { $0.contains(a.key.siteID.description) && $0.contains("ahead") })
        // Nor after a restart: the clock starts from this site's own times, not the peer's.
        try await b.restart()
        try await b.saveAndRecord("cua-b-2.txt", "tin thứ hai của B")
        let second = try #require(try await b.site.history(LogRequest(article: "cua-b-2.txt")).first)
        #expect(second.hlc >> 16 < SiteLog.wallMillis() + 60_000)
    }

    @Test func anArticleMadeAgainAfterItsDeleteIsNotAConflict() async throws {
        let (a, _) = try pair()
        a.save("ngay.txt", "hôm qua")
        try await a.site.scanAll()
        try FileManager.default.removeItem(atPath: a.path("ngay.txt"))
        try await a.site.ingest(paths: ["ngay.txt"])
        try await a.saveAndRecord("ngay.txt", "hôm nay")
        #expect(try await a.site.conflicts().isEmpty)
        #expect(await a.site.stats.liveArticles == 1)
    }

    @Test func reloadKeepsTheWatchedFolderUntilARestart() async throws {
        let (a, _) = try pair()
        a.save("tin.txt", "một")
        try await a.site.scanAll()
        var moved = a.settings
        moved.watchDir = folder.sub("elsewhere")
        try FileManager.default.createDirectory(atPath: moved.watchDir, withIntermediateDirectories: true)
        await a.site.update(moved)
        try await a.site.scanAll()
        #expect(await a.site.settings.watchDir == a.watch)
        #expect(await a.site.stats.liveArticles == 1, "nothing recorded as deleted")
    }

    @Test func namesAPeerMayNotCreateAreStoredButNeverWritten() async throws {
        let (a, b) = try pair()
        let log = try ArticleLog(path: folder.sub("peer.sqlite"))
        var clock = HybridLogicalClock()
        var changes: [LocalChange] = []
        for name in ["tin\u{7}.txt", "a/.newsd-abc.tmp", ".newsd-x.tmp", "ghi-chu.bak", "ok.txt"] {
            let bytes = Array("nội dung \(name)".utf8)
            let article = try ArticlePath(name)
            changes.append(LocalChange(article: article, kind: .put(bytes: bytes, hash: .of(bytes), file: FileState(
                path: name, article: article, size: Int64(bytes.count), mtimeNanos: 1, ctimeNanos: 1, inode: 1, contentHash: .of(bytes)))))
        }
        let made = try log.recordLocal(changes, signer: a.key, clock: &clock, wallMillis: SiteLog.wallMillis())
        var blobs: [ContentHash: StoredBlob] = [:]
        for entry in made { blobs[entry.contentHash!] = try log.storedBlob(entry.contentHash!) }
        var settings = b.settings
        settings.ignore = IgnoreRules(patterns: IgnoreRules.defaults + ["*.bak"])
        await b.site.update(settings)
        let result = try await b.site.applyRemote(made, blobs: blobs, keys: [a.key.siteID: a.key.publicKey])
        #expect(result.stored.count == 5, "stored and relayed: refusing them would break the origin's chain")
        let onDisk = try FileManager.default.subpathsOfDirectory(atPath: b.watch).sorted()
        #expect(onDisk == ["ok.txt"])
        let problems = await b.site.status().problems
        #expect(problems.contains { $0.contains("tin\\u{7}.txt") && $0.contains("control character") })
        #expect(problems.contains { $0.contains(".newsd-x.tmp") && $0.contains("temp name") })
        #expect(problems.contains { $0.contains("ghi-chu.bak") && $0.contains("ignore rules") })
    }
}

/// An editor that writes a file in place and keeps it open.
final class HeldWriter: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32 = -1

    func open(_ path: String, writing text: String) {
        lock.withLock {
            fd = Glibc.open(path, O_WRONLY | O_TRUNC)
            _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }

    func finish(writing text: String) {
        lock.withLock {
            _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
    }
}
