import Foundation
import Testing
import TestSupport

/// What editors, scripts and file systems do to a folder that a unit test cannot: a burst larger
/// than the kernel's inotify queue, a folder swapped for a file, odd names, live symlink loops.
@Suite(.serialized) struct BadFilesTests {
    let folder = TemporaryFolder("badfiles")

    func status(_ daemon: DaemonProcess) -> [String: Any]? {
        guard let result = try? daemon.ctl(["status", "--json"]), result.status == 0 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    }

    @Test func tenThousandFilesInOneBurstOverflowInotifyAndAreAllRecorded() async throws {
        try await offThePool {
            let watch = folder.sub("burst/watch")
            try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: true)
            let daemon = try DaemonProcess(watch: watch, data: folder.sub("burst/data"))
            try daemon.waitUntilReady()
            // About 30,000 events (create, modify, close) against the kernel's queue of 16,384, made
            // while newsd is stopped (SIGSTOP) so none are read before the queue overflows.
            for part in 0..<10 { try FileManager.default.createDirectory(atPath: watch + "/dot-\(part)", withIntermediateDirectories: true) }
            usleep(1_000_000)  // the new folders are watched
            kill(daemon.pid, SIGSTOP)
            for index in 0..<10_000 {
                let path = watch + "/dot-\(index / 1000)/bai-\(index).txt"
                _ = FileManager.default.createFile(atPath: path, contents: Data("Bài \(index) trong một loạt tin.\n".utf8))
            }
            kill(daemon.pid, SIGCONT)
            try waitUntil(timeout: .seconds(120), "10,000 articles recorded") { status(daemon)?["articles"] as? Int == 10_000 }
            #expect(daemon.log.contains("inotify queue overflow"), "the burst overflowed the queue and a rescan caught it all")
            #expect(try daemon.ctl(["verify"]).status == 0)
            #expect(daemon.terminate() == 0)
        }
    }

    @Test func oddNamesAFolderSwappedForAFileAndASymlinkLoopAreHandled() async throws {
        try await offThePool {
            let watch = folder.sub("odd/watch")
            try FileManager.default.createDirectory(atPath: watch + "/chuyen-muc", withIntermediateDirectories: true)
            let daemon = try DaemonProcess(watch: watch, data: folder.sub("odd/data"))
            try daemon.waitUntilReady()
            let names = ["tin có dấu cách.txt", "xuống\ndòng.txt", "Bài viết Đà Nẵng.txt", "chuyen-muc/bai-1.txt", "chuyen-muc/bai-2.txt"]
            for name in names { folder.write("odd/watch/" + name, "Nội dung của \(name).\n") }
            // NFD spelling from a Mac share: recorded under the NFC name.
            folder.write("odd/watch/" + "Tin tức Huế.txt".decomposedStringWithCanonicalMapping, "Huế.\n")
            try FileManager.default.createSymbolicLink(atPath: watch + "/vong-lap", withDestinationPath: watch + "/vong-lap")
            // A name with a control character (the newline) is skipped and listed, never recorded.
            let recordable = names.filter { !$0.contains("\n") }
            try waitUntil(timeout: .seconds(15), "every recordable name recorded") {
                status(daemon)?["articles"] as? Int == recordable.count + 1
                    && ((status(daemon)?["skipped"] as? [[String: Any]])?.count ?? 0) == 2
            }
            #expect(try daemon.ctl(["log", "Tin tức Huế.txt", "--json"]).status == 0)
            let skipped = (status(daemon)?["skipped"] as? [[String: Any]])?.compactMap { $0["path"] as? String } ?? []
            #expect(skipped.contains("vong-lap"), "the symlink loop is listed as skipped: \(skipped)")
            #expect(skipped.contains("xuống\ndòng.txt"), "the newline name is listed as skipped: \(skipped)")
            #expect(try daemon.ctl(["status"]).stdout.contains("xuống\\u{a}dòng.txt"), "printed escaped")

            // The folder becomes a file: its two articles are deleted, the file is an article.
            try FileManager.default.removeItem(atPath: watch + "/chuyen-muc")
            folder.write("odd/watch/chuyen-muc", "Giờ là một tệp.\n")
            try waitUntil(timeout: .seconds(15), "the swap recorded") {
                status(daemon)?["articles"] as? Int == recordable.count && status(daemon)?["deleted_articles"] as? Int == 2
            }
            #expect(try daemon.ctl(["show", "chuyen-muc"]).stdout == "Giờ là một tệp.\n")
            #expect(try daemon.ctl(["verify"]).status == 0)
            #expect(daemon.terminate() == 0)
        }
    }
}
