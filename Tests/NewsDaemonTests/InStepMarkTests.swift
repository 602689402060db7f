import Foundation
import Logging
import Testing
import TestSupport
@testable import NewsDaemon
@testable import Store
import SyncProtocol

/// A clean stop leaves a mark that lets the next start skip the out-of-step check; anything that
/// could have put the folder out of step since (an append, other folder settings, a stop with
/// something owed) makes the start check every article as after a crash.
@Suite struct InStepMarkTests {
    let folder = TemporaryFolder("in-step")

    var markPath: String { folder.sub("a/folder-in-step") }

    /// The start-up a daemon runs: take the mark, scan, check, ready.
    func start(_ a: InProcessSite, settings: SiteSettings? = nil) async throws -> (site: SiteLog, checked: Bool) {
        let site = SiteLog(log: try ArticleLog(path: a.root + "/log.sqlite"), key: a.key, settings: settings ?? a.settings,
                           logger: Logger(label: "a"))
        await site.takeInStepMark(at: markPath)
        #expect(access(markPath, F_OK) != 0, "the mark is taken at open, so a crash in this run cannot reuse it")
        try await site.scanAll(startUp: true)
        let checked = await site.startUpCheckNeeded
        try await site.checkoutOutOfStepAtStartUp()
        await site.markReady()
        return (site, checked)
    }

    func populated() async throws -> (InProcessSite, InProcessSite) {
        let a = try InProcessSite("a", in: folder), b = try InProcessSite("b", in: folder)
        for n in 0..<20 { a.save("muc/bai-\(n).txt", "Bài \(n): Hà Nội sáng nay\n") }
        try await a.site.scanAll(startUp: true)
        try await a.site.checkoutOutOfStepAtStartUp()
        await a.site.markReady()
        return (a, b)
    }

    @Test func aCleanStopInStepLetsTheNextStartSkipTheCheck() async throws {
        let (a, _) = try await populated()
        await a.site.leaveInStepMark(at: markPath)
        #expect(access(markPath, F_OK) == 0)
        let (site, checked) = try await start(a)
        #expect(!checked)
        // The mark was taken: a stop without a new one (a crash) makes the start after check.
        let (_, again) = try await start(a)
        #expect(again)
        withExtendedLifetime(site) {}
    }

    @Test func aSaveMadeWhileStoppedMakesTheStartCheck() async throws {
        let (a, _) = try await populated()
        await a.site.leaveInStepMark(at: markPath)
        a.save("muc/bai-3.txt", "Bài 3, sửa khi newsd dừng\n")
        let (_, checked) = try await start(a)
        #expect(checked)
    }

    /// An entry appended by another opener of the log (a peer's batch stored by a run that then
    /// crashed before its folder writes, say) leaves the mark stale: the start checks, and the
    /// article is written.
    @Test func anEntryAppendedAfterTheMarkMakesTheStartCheckAndWrite() async throws {
        let (a, b) = try await populated()
        await a.site.leaveInStepMark(at: markPath)
        let saved = try String(contentsOfFile: markPath, encoding: .utf8)
        // Another run: B's article stored, the folder write lost, the mark put back as it was.
        try await b.saveAndRecord("tin/moi.txt", "Tin mới từ Đà Nẵng\n")
        let log = try ArticleLog(path: a.root + "/log.sqlite")
        let entries = try await b.site.entries(at: try await b.site.backlog(for: log.versionVector()).positions[...]).map(\.1)
        var blobs: [ContentHash: StoredBlob] = [:]
        for entry in entries { if let hash = entry.contentHash { blobs[hash] = try await b.site.storedBlob(hash) } }
        let stored = try log.appendRemote(entries, blobs: blobs, keys: [b.key.siteID: b.key.publicKey], wallMillis: 1)
        #expect(stored.stored.count == 1)
        try saved.write(toFile: markPath, atomically: true, encoding: .utf8)
        #expect(a.read("tin/moi.txt") == nil)
        let (_, checked) = try await start(a)
        #expect(checked)
        #expect(a.read("tin/moi.txt") == "Tin mới từ Đà Nẵng\n")
    }

    @Test func otherFolderSettingsMakeTheStartCheck() async throws {
        let (a, _) = try await populated()
        await a.site.leaveInStepMark(at: markPath)
        var settings = a.settings
        settings.ignore = IgnoreRules(patterns: settings.ignore.patterns + ["*.bak"])
        let (_, checked) = try await start(a, settings: settings)
        #expect(checked)
    }

    @Test func noMarkIsLeftBeforeTheStartUpCheckOrWithDeletesHeld() async throws {
        let a = try InProcessSite("a", in: folder) { $0.massDeleteMinimum = 10 }
        for n in 0..<30 { a.save("bai-\(n).txt", "Bài \(n)\n") }
        try await a.site.scanAll(startUp: true)
        await a.site.leaveInStepMark(at: markPath)
        #expect(access(markPath, F_OK) != 0, "not ready: the start-up check has not run")
        try await a.site.checkoutOutOfStepAtStartUp()
        await a.site.markReady()
        await a.site.leaveInStepMark(at: markPath)
        #expect(access(markPath, F_OK) == 0)
        unlink(markPath)
        // Most of the folder deleted at once: held for an operator, so the folder and log differ.
        for n in 0..<25 { unlink(a.path("bai-\(n).txt")) }
        try await a.site.scanAll()
        #expect(await !a.site.pendingDeletes.isEmpty)
        await a.site.leaveInStepMark(at: markPath)
        #expect(access(markPath, F_OK) != 0)
    }

    @Test func theMarkLineRoundTripsAndRefusesOtherText() {
        let mark = InStepMark(lastLocalSeq: 42, lastVersion: String(repeating: "ab", count: 32), folderSettings: String(repeating: "cd", count: 32))
        #expect(InStepMark(line: mark.line) == mark)
        #expect(InStepMark(line: "") == nil)
        #expect(InStepMark(line: "newsd-in-step 2 42 x y\n") == nil)
        #expect(InStepMark(line: "newsd-in-step 1 forty x y\n") == nil)
    }
}
