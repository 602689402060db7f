import Foundation
import Testing
import TestSupport
@testable import NewsDaemon
import SyncProtocol

/// The folder writer on its own, with both swap schemes: `renameat2(RENAME_EXCHANGE)` and the
/// move-aside-and-link fallback for file systems without it.
@Suite struct FolderWriterTests {
    let folder = TemporaryFolder("writer")

    init() throws {
        try FileManager.default.createDirectory(atPath: folder.sub("w"), withIntermediateDirectories: true)
    }

    func writer(_ exchange: Bool, beforeSwap: (@Sendable (String) -> Void)? = nil) -> FolderWriter {
        FolderWriter(root: folder.sub("w"), beforeSwap: beforeSwap, useRenameat2: exchange)
    }

    func write(_ path: String, _ text: String, expected: String?) -> FolderWriter.Change {
        let bytes = Array(text.utf8)
        return .write(path: path, bytes: bytes, hash: .of(bytes), expected: expected.map { .of(Array($0.utf8)) })
    }

    func leftovers() throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: folder.sub("w")).filter { $0.contains(".newsd-") }
    }

    @Test(arguments: [true, false]) func aFileHoldingWhatWasExpectedIsReplacedQuietly(exchange: Bool) throws {
        folder.write("w/a.txt", "cũ")
        let outcome = writer(exchange).apply([write("a.txt", "mới", expected: "cũ"), write("sub/b.txt", "bài b", expected: nil)])
        #expect(outcome.failed.isEmpty && outcome.displaced.isEmpty)
        #expect(folder.read("w/a.txt") == "mới" && folder.read("w/sub/b.txt") == "bài b")
        #expect(outcome.scheme == (exchange ? .exchange : .aside))
        let st = try FileSystem.lstat(folder.sub("w/a.txt"))
        #expect(outcome.written["a.txt"]?.inode == st.inode && outcome.written["a.txt"]?.size == st.size)
        #expect(try leftovers().isEmpty)
    }

    @Test(arguments: [true, false]) func anEditorsSaveInThePlaceIsHandedBackAndKeptUntilDiscarded(exchange: Bool) throws {
        folder.write("w/a.txt", "cũ")
        let root = folder.sub("w")
        let outcome = writer(exchange) { _ in writeFile(root + "/a.txt", "bản lưu của biên tập viên") }
            .apply([write("a.txt", "mới", expected: "cũ")])
        #expect(folder.read("w/a.txt") == "mới")
        let displaced = try #require(outcome.displaced.first)
        #expect(String(decoding: displaced.bytes, as: UTF8.self) == "bản lưu của biên tập viên")
        #expect(folder.read("w/" + displaced.temp) == "bản lưu của biên tập viên", "still on disk until recorded")
        writer(exchange).discard(displaced.temp)
        #expect(try leftovers().isEmpty)
    }

    @Test(arguments: [true, false]) func aFileThatAppearedWhereNoneWasIsHandedBack(exchange: Bool) throws {
        let root = folder.sub("w")
        let outcome = writer(exchange) { _ in writeFile(root + "/moi.txt", "vừa tạo") }
            .apply([write("moi.txt", "từ site khác", expected: nil)])
        #expect(folder.read("w/moi.txt") == "từ site khác")
        #expect(outcome.displaced.map { String(decoding: $0.bytes, as: UTF8.self) } == ["vừa tạo"])
    }

    @Test(arguments: [true, false]) func aRemovalOfAnEditedFileHandsTheEditBack(exchange: Bool) throws {
        folder.write("w/a.txt", "đã sửa")
        let outcome = writer(exchange).apply([.remove(path: "a.txt", expected: .of(Array("bản cũ".utf8))),
                                             .remove(path: "khong-co.txt", expected: nil),
                                             .remove(path: "thu-muc/khong-co.txt", expected: nil)])
        #expect(folder.read("w/a.txt") == nil)
        #expect(Set(outcome.removed) == ["a.txt", "khong-co.txt", "thu-muc/khong-co.txt"])
        #expect(outcome.displaced.map { String(decoding: $0.bytes, as: UTF8.self) } == ["đã sửa"])
    }

    @Test func aRemovalOfWhatWasExpectedLeavesNothing() throws {
        folder.write("w/a.txt", "bản cũ")
        let outcome = writer(true).apply([.remove(path: "a.txt", expected: .of(Array("bản cũ".utf8)))])
        #expect(outcome.displaced.isEmpty && outcome.removed == ["a.txt"])
        #expect(try leftovers().isEmpty && folder.read("w/a.txt") == nil)
    }

    @Test func symlinksAndFoldersInTheWayAreErrorsNotWritesElsewhere() throws {
        let outside = folder.sub("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        folder.write("outside/x.html", "ngoài")
        #expect(symlink(outside, folder.sub("w/pub")) == 0)
        folder.write("w/la-tep", "một tệp")
        try FileManager.default.createDirectory(atPath: folder.sub("w/thu-muc.txt"), withIntermediateDirectories: true)
        let outcome = writer(true).apply([
            write("pub/x.html", "ghi đè", expected: nil), .remove(path: "pub/x.html", expected: nil),
            write("la-tep/y.txt", "y", expected: nil), write("thu-muc.txt", "z", expected: nil),
        ])
        #expect(outcome.failed.count == 4)
        #expect(outcome.failed.first { $0.path == "pub/x.html" }?.error.description.contains("symlink") == true)
        #expect(folder.read("outside/x.html") == "ngoài")
        #expect(folder.read("w/la-tep") == "một tệp")
        #expect((try? FileSystem.lstat(folder.sub("w/thu-muc.txt")))?.kind == .directory)
        #expect(try leftovers().isEmpty)
    }
}
