import Foundation
import Testing
import TestSupport
@testable import NewsDaemon
import SyncProtocol

/// Blame and authorship on real logs: which version a merge hands its lines to, and which saves
/// name their editor.
@Suite struct BlameTests {
    /// Two sites edit different paragraphs at once; a resolve that keeps either side gives every
    /// paragraph to the site that wrote it, never to the resolve.
    @Test(arguments: ["a", "b"]) func aResolveThatKeepsOneSideGivesItsLinesToThatSide(kept: String) async throws {
        let folder = TemporaryFolder("blame")
        let a = try InProcessSite("a", in: folder), b = try InProcessSite("b", in: folder)
        try await a.saveAndRecord("tin.txt", "Mở đầu\n\nThân bài\n\nKết luận\n")
        try await a.send(to: b)
        try await a.saveAndRecord("tin.txt", "Mở đầu của Hà Nội\n\nThân bài\n\nKết luận\n")
        try await b.saveAndRecord("tin.txt", "Mở đầu\n\nThân bài\n\nKết luận của Đà Nẵng\n")
        let edits = ["a": try await a.site.blame(BlameRequest(article: "tin.txt", version: .head)).info,
                     "b": try await b.site.blame(BlameRequest(article: "tin.txt", version: .head)).info]
        let first = try await a.site.blame(BlameRequest(article: "tin.txt", version: .back(1))).info
        try await a.send(to: b)
        try await b.send(to: a)
        #expect(try await a.heads()[ArticlePath("tin.txt")]?.count == 2)

        let resolved = try await a.site.resolve(ResolveRequest(article: "tin.txt", take: .prefix(edits[kept]!.version)))
        let blame = try await a.site.blame(BlameRequest(article: "tin.txt", version: .head))
        #expect(blame.info.version == resolved.version)
        let owners = blame.lines.map { blame.versions[$0.change].version }
        #expect(!owners.contains(resolved.version), "\(owners)")
        let changedLine = kept == "a" ? 0 : 4
        #expect(owners[changedLine] == edits[kept]!.version)
        #expect(owners.indices.filter { $0 != changedLine }.allSatisfy { owners[$0] == first.version })
        #expect(blame.stopped == nil && !blame.approximate)
    }

    /// A save that makes a new file (temp and rename) names the file's owner; a write into the
    /// file newsd last saw names no one: the owner of that file is not who wrote into it.
    @Test func onlyASaveThatMakesANewFileNamesItsEditor() async throws {
        let folder = TemporaryFolder("blame-author")
        let a = try InProcessSite("a", in: folder)
        let me = GroupDirectory.accountName(of: getuid())
        try await a.saveAndRecord("tin.txt", "Bản đầu\n")
        #expect(try await author(a) == me)

        // In place: same inode, new bytes.
        let fd = open(a.path("tin.txt"), O_WRONLY | O_TRUNC)
        #expect(fd >= 0)
        let bytes = Array("Bản sửa tại chỗ\n".utf8)
        #expect(write(fd, bytes, bytes.count) == bytes.count)
        close(fd)
        try await a.site.ingest(paths: ["tin.txt"])
        let inPlace = try await a.site.blame(BlameRequest(article: "tin.txt", version: .head))
        #expect(inPlace.lines.first?.text == "Bản sửa tại chỗ")
        #expect(inPlace.info.author == nil)

        try await a.saveAndRecord("tin.txt", "Bản lưu mới\n")
        #expect(try await author(a) == me)
    }

    /// The timeline in pages: `skip` passes over the newest; past the end is an empty page of a
    /// known article, and an unknown article stays unknown.
    @Test func historyPagesNewestFirst() async throws {
        let folder = TemporaryFolder("history-pages")
        let a = try InProcessSite("a", in: folder)
        for n in 0..<7 { try await a.saveAndRecord("tin.txt", "Bản \(n)\n") }
        let all = try await a.site.history(LogRequest(article: "tin.txt"))
        #expect(all.count == 7)
        let second = try await a.site.history(LogRequest(article: "tin.txt", limit: 3, skip: 3))
        #expect(second.map(\.version) == Array(all[3..<6]).map(\.version))
        #expect(try await a.site.history(LogRequest(article: "tin.txt", limit: 3, skip: 30)).isEmpty)
        await #expect(throws: ControlFailure.self) { try await a.site.history(LogRequest(article: "khong-co.txt", skip: 3)) }
    }

    func author(_ site: InProcessSite) async throws -> String? {
        try await site.site.blame(BlameRequest(article: "tin.txt", version: .head)).info.author
    }
}
