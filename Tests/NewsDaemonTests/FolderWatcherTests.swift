import Foundation
import Testing
import TestSupport
@testable import NewsDaemon

/// The watcher's debounce is per path: a save is handed out once that path has been quiet, not once
/// the whole folder has.
@Suite struct FolderWatcherTests {
    let folder = TemporaryFolder("watcher")

    @Test func aSaveIsHandedOutWhileOtherFilesKeepChanging() async throws {
        try FileManager.default.createDirectory(atPath: folder.sub("w"), withIntermediateDirectories: true)
        // A maximum delay far longer than the test: only the per-path debounce can hand the save out.
        let watcher = try FolderWatcher(root: folder.sub("w"), settings: .init(
            debounce: .milliseconds(100), maximumDelay: .seconds(30), ignore: IgnoreRules()))
        #expect(watcher.watchAll())
        watcher.start()
        defer { watcher.stop() }
        let busy = folder.sub("w/ban-tin-chay.txt")
        let stop = ManagedFlag()
        let writer = Thread {
            var n = 0
            while !stop.isSet {
                try? Data("dòng \(n)\n".utf8).write(to: URL(fileURLWithPath: busy))
                n += 1
                usleep(20_000)
            }
        }
        writer.start()
        defer { stop.set() }
        try await Task.sleep(for: .milliseconds(200))
        folder.write("w/bai-cua-bien-tap-vien.txt", "một bản lưu")
        let seen = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await batch in watcher.changes where batch.contains(.path("bai-cua-bien-tap-vien.txt")) { return true }
                return false
            }
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                return false
            }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(seen, "the save was handed out while the other file kept changing")
    }
}

extension FolderWatcherTests {
    @Test func batchesPastTheBufferBecomeOneRescanNotAnEndlessQueue() async throws {
        try FileManager.default.createDirectory(atPath: folder.sub("w"), withIntermediateDirectories: true)
        let watcher = try FolderWatcher(root: folder.sub("w"), settings: .init(debounce: .milliseconds(30), ignore: IgnoreRules()),
                                        bufferedBatches: 2)
        #expect(watcher.watchAll())
        watcher.start()
        defer { watcher.stop() }
        // Five saves far enough apart to be five batches, and nobody reading them yet.
        for index in 0..<5 {
            folder.write("w/bai-\(index).txt", "bản \(index)")
            try await Task.sleep(for: .milliseconds(150))
        }
        var received: [[FolderChange]] = []
        for await batch in watcher.changes {
            received.append(batch)
            if batch == [.everything] { break }
        }
        #expect(received.count == 3, "two buffered batches, then one rescan for the dropped ones: \(received)")
        #expect(received.first == [.path("bai-0.txt")])
    }
}

final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
