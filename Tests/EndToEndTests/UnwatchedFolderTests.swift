import Foundation
import Testing
import TestSupport

/// A folder newsd cannot watch (the inotify limit reached) is a problem `status` names, counted in
/// the metrics, and covered by a periodic rescan until a watch is free. The limit is lowered in a
/// user namespace of newsd's own (`user.max_inotify_watches` is per namespace), so the machine's
/// other watchers, and the other tests, keep theirs.
@Suite(.serialized) struct UnwatchedFolderTests {
    let folder = TemporaryFolder("unwatched")

    static var canLowerTheLimit: Bool {
        (try? run("/usr/bin/unshare", ["-U", "-r", "sh", "-c", "echo 3 > /proc/sys/user/max_inotify_watches"]))?.status == 0
    }

    func status(_ daemon: DaemonProcess) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(try daemon.ctl(["status", "--json"]).stdout.utf8)) as? [String: Any] ?? [:]
    }

    @Test(.enabled(if: canLowerTheLimit, "needs unshare -U and a kernel with per-namespace inotify limits (5.11+)"))
    func aFolderPastTheWatchLimitIsListedRescannedAndWatchedOnceThereIsRoom() async throws {
        try await offThePool {
            let watch = folder.sub("w"), data = folder.sub("d")
            // The root and four sections: five watches wanted, four allowed.
            for section in ["kinh-te", "the-thao", "thoi-su", "van-hoa"] {
                try FileManager.default.createDirectory(atPath: watch + "/" + section, withIntermediateDirectories: true)
                folder.write("w/\(section)/bai-dau.txt", "Bài đầu mục \(section).\n")
            }
            let metrics = freePort()
            let daemon = try DaemonProcess(
                watch: watch, data: data, extra: ["--metrics", "127.0.0.1:\(metrics)"],
                environment: ["NEWSD_TEST_UNWATCHED_RESCAN_MS": "300"],
                launcher: ["/usr/bin/unshare", "-U", "-r", "sh", "-c", "echo 4 > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\""])
            try daemon.waitUntilReady()

            let listed = try status(daemon)
            let unwatched = try #require(listed["unwatched"] as? [[String: Any]], "status lists the unwatched folder: \(listed)")
            #expect(unwatched.count == 1)
            let section = try #require(unwatched.first?["path"] as? String)
            #expect((unwatched.first?["reason"] as? String)?.contains("inotify watch limit") == true)
            #expect((listed["problems"] as? [String])?.contains { $0.contains("cannot be watched") && $0.contains(section) } == true)
            #expect(try daemon.ctl(["status", "--check"]).status == 1, "status --check exits 1 while a folder is unwatched")
            #expect(daemon.log.contains("max_user_watches"), "the log says how to raise the limit")
            #expect(daemon.log.contains("cannot watch \(section)"))
            let scraped = try httpGet(port: metrics, path: "/metrics")
            #expect(scraped.contains("newsd_unwatched_folders 1"))
            #expect(scraped.split(separator: "\n").contains { $0.hasPrefix("newsd_watch_errors_total ") && !$0.hasSuffix(" 0") })

            // A save in the unwatched folder is recorded all the same, by the periodic rescan.
            folder.write("w/\(section)/tin-moi.txt", "Tin mới trong mục không được theo dõi.\n")
            try waitUntil(timeout: .seconds(10), "the save in the unwatched folder logged") {
                try daemon.ctl(["log", "--json"]).stdout.contains("\(section)/tin-moi.txt")
            }

            // Another section goes away, freeing a watch: the folder is watched, the problem gone,
            // and a save there is seen by its watch.
            let other = ["kinh-te", "the-thao", "thoi-su", "van-hoa"].first { $0 != section }!
            try FileManager.default.removeItem(atPath: watch + "/" + other)
            try waitUntil(timeout: .seconds(10), "the folder watched once a watch is free") {
                let now = try status(daemon)
                return now["unwatched"] == nil && (now["problems"] as? [String])?.isEmpty == true
            }
            #expect(try daemon.ctl(["status", "--check"]).status == 0)
            #expect(daemon.terminate() == 0)
        }
    }
}
