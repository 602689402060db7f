import Foundation
import Logging
import Synchronization
import Testing
import TestSupport
@testable import NewsDaemon
@testable import Store
import SyncProtocol

/// Ingest over a real temp folder, driven by explicit scans and path batches (no inotify timing).
@Suite struct SiteLogIngestTests {
    let folder = TemporaryFolder("ingest")
    let site: SiteLog

    init() throws {
        try FileManager.default.createDirectory(atPath: folder.sub("w"), withIntermediateDirectories: true)
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        site = SiteLog(log: log, key: SiteKey(),
                       settings: SiteSettings(siteName: "test", watchDir: folder.sub("w"), dataDir: folder.path, maximumFileBytes: 1000),
                       logger: Logger(label: "test"))
    }

    func history(_ article: String) async throws -> [VersionInfo] {
        try await site.history(LogRequest(article: article))
    }

    /// A whole-folder scan says how far it is while it runs (the STATUS= line and the terminal
    /// read it): how many files it will read once the walk is done, each one as it is read, and
    /// nothing once it ends; a scan with nothing new to read counts nothing.
    @Test func aScanReportsHowFarItIs() async throws {
        for n in 0..<250 { _ = folder.write("w/muc-\(n % 5)/bai-\(n).txt", "Bài \(n)\n") }
        let seen = Mutex<[ScanProgress.Snapshot?]>([])
        site.scanProgress.watch { snapshot in seen.withLock { $0.append(snapshot) } }
        try await site.scanAll(startUp: true)
        let steps = seen.withLock { $0 }
        #expect(steps.first == .some(ScanProgress.Snapshot()) && steps.last == .some(nil))
        let reads = steps.compactMap { $0 }.filter { $0.toRead > 0 }
        #expect(reads.first == ScanProgress.Snapshot(read: 0, toRead: 250))
        #expect(reads.map(\.read) == Array(0...250))
        #expect(site.scanProgress.current == nil)
        #expect(ScanProgress.describe(ScanProgress.Snapshot(read: 45_120, toRead: 100_000)) == "scanning 45,120 of about 100,000 files")
        #expect(ScanProgress.describe(ScanProgress.Snapshot()) == "scanning the folder")

        seen.withLock { $0.removeAll() }
        try await site.scanAll()
        let again = seen.withLock { $0 }.compactMap { $0 }
        #expect(!again.isEmpty && again.allSatisfy { $0.read == 0 })
    }

    @Test func createModifyDeleteBecomeThreeVersions() async throws {
        folder.write("w/a.txt", "Bản tin sáng")
        try await site.scanAll()
        folder.write("w/a.txt", "Bản tin sáng, cập nhật")
        try await site.ingest([.path("a.txt")])
        try FileManager.default.removeItem(atPath: folder.sub("w/a.txt"))
        try await site.ingest([.path("a.txt")])
        #expect(try await history("a.txt").map(\.op) == ["delete", "put", "put"])
        #expect(await site.stats.liveArticles == 0)
        #expect(await site.stats.deletedArticles == 1)
    }

    @Test func savingTheSameContentAgainMakesNoVersion() async throws {
        folder.write("w/a.txt", "không đổi")
        try await site.scanAll()
        folder.write("w/a.txt", "không đổi")
        let summary = try await site.ingest([.path("a.txt")])
        #expect(summary.entries == 0)
        #expect(try await history("a.txt").count == 1)
    }

    @Test func renameIsADeleteAndAPutOfTheSameBlob() async throws {
        folder.write("w/cu.txt", "tên cũ")
        try await site.scanAll()
        try FileManager.default.moveItem(atPath: folder.sub("w/cu.txt"), toPath: folder.sub("w/moi.txt"))
        try await site.ingest([.path("cu.txt"), .path("moi.txt")])
        #expect(try await history("cu.txt").first?.op == "delete")
        #expect(try await history("moi.txt").first?.contentHash == history("cu.txt").last?.contentHash)
        #expect(await site.stats.blobs == 1)
    }

    @Test func vimSavePatternRecordsOnlyTheArticle() async throws {
        folder.write("w/bai.txt", "bản nháp 1")
        try await site.scanAll()
        // vim: probe file 4913, backup bai.txt~, write new file, remove backup; plus a swap file.
        folder.write("w/4913", "")
        try FileManager.default.removeItem(atPath: folder.sub("w/4913"))
        folder.write("w/.bai.txt.swp", "swap")
        try FileManager.default.moveItem(atPath: folder.sub("w/bai.txt"), toPath: folder.sub("w/bai.txt~"))
        folder.write("w/bai.txt", "bản nháp 2")
        try FileManager.default.removeItem(atPath: folder.sub("w/bai.txt~"))
        try await site.ingest([.path("4913"), .path(".bai.txt.swp"), .path("bai.txt~"), .path("bai.txt")])
        #expect(try await history("bai.txt").map(\.op) == ["put", "put"])
        #expect(await site.stats.entries == 2)
    }

    @Test func editorTempThenRenameSaveIsOneNewVersion() async throws {
        folder.write("w/bai.txt", "v1")
        try await site.scanAll()
        folder.write("w/.~lock.bai.txt#", "lock")
        folder.write("w/.#bai.txt", "emacs lock")
        folder.write("w/#bai.txt#", "emacs autosave")
        folder.write("w/bai.txt.tmp", "v2")
        try FileManager.default.removeItem(atPath: folder.sub("w/bai.txt"))
        try FileManager.default.moveItem(atPath: folder.sub("w/bai.txt.tmp"), toPath: folder.sub("w/bai.txt"))
        try await site.ingest([.path(".~lock.bai.txt#"), .path(".#bai.txt"), .path("#bai.txt#"), .path("bai.txt.tmp"), .path("bai.txt")])
        #expect(try await history("bai.txt").map(\.op) == ["put", "put"])
        #expect(await site.stats.entries == 2)
    }

    @Test func decomposedFileNameIsVersionedUnderItsNFCName() async throws {
        let nfd = "Đà Nẵng.txt".decomposedStringWithCanonicalMapping
        folder.write("w/" + nfd, "tin miền Trung")
        try await site.scanAll()
        #expect(try await history("Đà Nẵng.txt").count == 1)
        #expect(try await history(nfd).count == 1)
    }

    @Test func binaryAndInvalidUTF8FilesAreVersionedAsBytes() async throws {
        try Data([0xff, 0xfe, 0x00, 0xc3, 0x28]).write(to: URL(fileURLWithPath: folder.sub("w/anh.bin")))
        try await site.scanAll()
        let shown = try await site.show(ShowRequest(article: "anh.bin", version: .head))
        #expect(shown.content == Data([0xff, 0xfe, 0x00, 0xc3, 0x28]))
    }

    @Test func oversizedFilesAndOutsideSymlinksAreSkippedAndCounted() async throws {
        folder.write("w/big.txt", String(repeating: "x", count: 2000))
        folder.write("outside.txt", "bí mật")
        try FileManager.default.createSymbolicLink(atPath: folder.sub("w/link.txt"), withDestinationPath: folder.sub("outside.txt"))
        try FileManager.default.createSymbolicLink(atPath: folder.sub("w/loop"), withDestinationPath: folder.sub("w/loop"))
        folder.write("w/ok.txt", "bình thường")
        try await site.scanAll()
        let status = await site.status()
        #expect(status.articles == 1)
        #expect(Set(status.skipped.map(\.path)) == ["big.txt", "link.txt", "loop"])
        #expect(status.skipped.first { $0.path == "big.txt" }?.reason.contains("size limit") == true)
        #expect(status.skipped.first { $0.path == "link.txt" }?.reason.contains("outside") == true)
    }

    @Test func symlinkInsideTheFolderIsVersionedWithItsTargetsBytes() async throws {
        folder.write("w/goc.txt", "bản gốc")
        try FileManager.default.createSymbolicLink(atPath: folder.sub("w/ban-sao.txt"), withDestinationPath: "goc.txt")
        try await site.scanAll()
        let shown = try await site.show(ShowRequest(article: "ban-sao.txt", version: .head))
        #expect(String(decoding: shown.content, as: UTF8.self) == "bản gốc")
    }

    @Test func emptyFolderWhileTheLogHasArticlesIsNotTakenAsDeletes() async throws {
        for i in 0..<3 { folder.write("w/\(i).txt", "bài \(i)") }
        try await site.scanAll()
        for i in 0..<3 { try FileManager.default.removeItem(atPath: folder.sub("w/\(i).txt")) }
        try await site.scanAll()
        #expect(await site.folderState == .emptyWhileLogHasArticles(3))
        #expect(await site.stats.liveArticles == 3)
        #expect(await site.status().problems.count == 1)
    }

    @Test func missingFolderRecordsNothingAndRecoversWhenItReturns() async throws {
        folder.write("w/a.txt", "một")
        try await site.scanAll()
        try FileManager.default.moveItem(atPath: folder.sub("w"), toPath: folder.sub("w-unmounted"))
        try await site.scanAll()
        #expect(await site.folderState == .missing)
        #expect(await site.stats.deletedArticles == 0)
        try FileManager.default.moveItem(atPath: folder.sub("w-unmounted"), toPath: folder.sub("w"))
        try await site.scanAll()
        #expect(await site.folderState == .ok)
        #expect(await site.stats.liveArticles == 1)
    }

    @Test func deletingMostArticlesAtOnceIsHeldUntilConfirmed() async throws {
        for i in 0..<20 { folder.write("w/\(i).txt", "bài \(i)") }
        try await site.scanAll()
        for i in 0..<15 { try FileManager.default.removeItem(atPath: folder.sub("w/\(i).txt")) }
        let summary = try await site.scanAll()
        #expect(summary.heldDeletes == 15)
        #expect(await site.stats.liveArticles == 20)
        #expect(await site.status().pendingDeletes == 15)
        // One comes back by itself; the rest are confirmed.
        folder.write("w/3.txt", "bài 3")
        try await site.ingest([.path("3.txt")])
        let confirmed = try await site.deletes(DeletesRequest(action: .confirm))
        #expect(confirmed.recorded == 14)
        #expect(await site.stats.liveArticles == 6)
    }

    @Test func aSlowDeleteSpreadOverManyBatchesIsHeldLikeAFastOne() async throws {
        for i in 0..<20 { folder.write("w/\(i).txt", "bài \(i)") }
        try await site.scanAll()
        // Four files per debounce batch: each batch alone is under the guard's minimum of 10.
        var held = 0
        for batch in 0..<5 {
            let names = (batch * 4..<batch * 4 + 4).map { "\($0).txt" }
            for name in names { try FileManager.default.removeItem(atPath: folder.sub("w/" + name)) }
            held += try await site.ingest(names.map { .path($0) }).heldDeletes
        }
        // 4 + 4 are recorded (8 of 20 in the window); the third batch makes 12 of 20: held from there on.
        #expect(await site.stats.liveArticles == 12)
        #expect(held == 12)
        #expect(await site.status().pendingDeletes == 12)
        #expect(await site.status().problems.contains { $0.contains("within 60 s") })
    }

    @Test func namesWithControlCharactersAreSkippedAndListed() async throws {
        folder.write("w/tin\u{1}.txt", "một")
        folder.write("w/tin\u{85}.txt", "hai")
        folder.write("w/binh-thuong.txt", "ba")
        try await site.scanAll()
        #expect(await site.stats.liveArticles == 1)
        let skipped = await site.status().skipped.map(\.path).sorted()
        #expect(skipped == ["tin\u{1}.txt", "tin\u{85}.txt"])
        #expect(ArticlePath.escape("tin\u{1}.txt") == "tin\\u{1}.txt")
    }

    @Test func aFewDeletesAreRecordedAtOnce() async throws {
        for i in 0..<20 { folder.write("w/\(i).txt", "bài \(i)") }
        try await site.scanAll()
        for i in 0..<3 { try FileManager.default.removeItem(atPath: folder.sub("w/\(i).txt")) }
        try await site.scanAll()
        #expect(await site.stats.liveArticles == 17)
    }

    @Test func newSubfoldersAndTheirFilesAreIngested() async throws {
        folder.write("w/2026/11/bai-moi.txt", "trong thư mục con")
        try await site.ingest([.folder("2026")])
        #expect(try await history("2026/11/bai-moi.txt").count == 1)
        try FileManager.default.removeItem(atPath: folder.sub("w/2026"))
        try await site.ingest([.folder("2026")])
        #expect(try await history("2026/11/bai-moi.txt").first?.op == "delete")
    }

    @Test func restartSkipsUnchangedFilesWithoutReadingThem() async throws {
        for i in 0..<5 { folder.write("w/\(i).txt", "bài \(i)") }
        try await site.scanAll()
        let again = try await site.scanAll()
        #expect(again.filesRead == 0 && again.unchanged == 5 && again.entries == 0)
    }

    @Test func tempFilesLeftByACrashAreRemovedAtStartUpOnlyAndOnlyIfTheLogHoldsThem() async throws {
        folder.write("w/bai.txt", "bài")
        folder.write("w/.newsd-4k2j9x.tmp", "bài")
        folder.write("w/.newsd-7zzzzz.tmp", "một bản lưu chưa ghi")
        try await site.scanAll()
        #expect(folder.read("w/.newsd-4k2j9x.tmp") != nil, "a rescan while running leaves them: one may be this process's write")
        try await site.scanAll(startUp: true)
        #expect(folder.read("w/.newsd-4k2j9x.tmp") == nil, "its bytes are in the log")
        #expect(folder.read("w/.newsd-7zzzzz.tmp") == "một bản lưu chưa ghi", "bytes the log lacks are never removed")
        #expect(await site.status().problems.contains { $0.contains(".newsd-7zzzzz.tmp") })
        #expect(folder.read("w/bai.txt") == "bài")
        #expect(await site.stats.entries == 1, "a temp file is never an article")
    }

    @Test func restoreBringsBackAnOldVersionAsTheNewest() async throws {
        folder.write("w/a.txt", "bản một")
        try await site.scanAll()
        folder.write("w/a.txt", "bản hai")
        try await site.ingest([.path("a.txt")])
        let restored = try await site.restore(RestoreRequest(article: "a.txt", version: .back(1)))
        #expect(folder.read("w/a.txt") == "bản một")
        #expect(try await history("a.txt").count == 3)
        #expect(restored.head.contentHash == restored.restored.contentHash)
    }

    @Test func restoreOfADeletedArticleWritesItsLastContent() async throws {
        folder.write("w/a.txt", "còn lại")
        try await site.scanAll()
        try FileManager.default.removeItem(atPath: folder.sub("w/a.txt"))
        try await site.ingest([.path("a.txt")])
        _ = try await site.restore(RestoreRequest(article: "a.txt", version: .head))
        #expect(folder.read("w/a.txt") == "còn lại")
        #expect(try await history("a.txt").map(\.op) == ["put", "delete", "put"])
    }

    @Test func unknownArticleIsNotFound() async throws {
        await #expect(throws: ControlFailure.self) { try await site.show(ShowRequest(article: "khong-co.txt", version: .head)) }
    }

    @Test func verifyPassesAfterAllOfIt() async throws {
        folder.write("w/a.txt", "1")
        folder.write("w/b/c.txt", "2")
        try await site.scanAll()
        #expect(try await site.verify().ok)
    }
}
