import Foundation
import Testing
import TestSupport

/// A data disk that starts returning I/O errors while nothing is being saved: the ext4 file system
/// under newsd is shut down (EXT4_IOC_SHUTDOWN, as `xfs_io -x -c shutdown` does), and the next
/// heartbeat notices. Needs root and loop devices.
@Suite(.serialized) struct DiskFailureTests {
    let folder = TemporaryFolder("disk-failure")

    static var canMountLoopDevices: Bool {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/sbin/mkfs.ext4") else { return false }
        return access("/dev/loop-control", R_OK | W_OK) == 0
    }

    @Test(.enabled(if: canMountLoopDevices, "needs root, mkfs.ext4 and loop devices"))
    func aDiskThatFailsWhileNothingIsSavedIsAProblemWithinAHeartbeat() async throws {
        try await offThePool {
            let image = folder.sub("disk.img"), mount = folder.sub("mnt")
            try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
            #expect(try run("/usr/bin/truncate", ["-s", "64M", image]).status == 0)
            #expect(try run("/sbin/mkfs.ext4", ["-q", image]).status == 0)
            let mounted = try run("/bin/mount", ["-o", "loop", image, mount])
            try #require(mounted.status == 0, "mount -o loop: \(mounted.stderr)")
            defer { _ = try? run("/bin/umount", ["-l", mount]) }
            try FileManager.default.createDirectory(atPath: mount + "/w", withIntermediateDirectories: true)
            folder.write("mnt/w/bai.txt", "Bài viết trên đĩa sắp hỏng.\n")

            let notify = NotifySocket(path: folder.sub("notify.sock"))
            let metrics = freePort()
            let daemon = try DaemonProcess(
                watch: mount + "/w", data: mount + "/d",
                extra: ["--metrics", "127.0.0.1:\(metrics)", "--control", folder.sub("newsd.sock")],
                environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "600000", "NEWSD_TEST_HEARTBEAT_MS": "300"])
            defer { daemon.kill9() }
            func ctl(_ arguments: [String]) throws -> CommandResult { try run(Binaries.newsctl, arguments + ["--control", folder.sub("newsd.sock")]) }
            try waitUntil(timeout: .seconds(30), "newsd ready") { (try? ctl(["status", "--json"]))?.stdout.contains(#""ready" : true"#) == true }
            #expect(try ctl(["status", "--check"]).status == 0)

            // The file system goes away under newsd without a flush, as a failing disk does.
            let shutdown = try run("/usr/bin/python3", ["-c", """
                import fcntl, os, struct
                fd = os.open(\(String(reflecting: mount)), os.O_RDONLY)
                fcntl.ioctl(fd, 0x8004587D, struct.pack('I', 2))  # EXT4_IOC_SHUTDOWN, NOLOGFLUSH
                """])
            try #require(shutdown.status == 0, "EXT4_IOC_SHUTDOWN: \(shutdown.stderr)")

            var problems: [String] = []
            try waitUntil(timeout: .seconds(5), "the failing disk in status") {
                let status = try JSONSerialization.jsonObject(with: Data(try ctl(["status", "--json"]).stdout.utf8)) as? [String: Any]
                problems = status?["problems"] as? [String] ?? []
                return problems.first?.hasPrefix("disk: ") == true
            }
            #expect(problems.first?.contains("Input/output error") == true, "\(problems)")
            #expect(try ctl(["status", "--check"]).status == 1)
            let scraped = try httpGet(port: metrics, path: "/metrics")
            #expect(scraped.contains("newsd_disk_failing 1"))
            #expect(scraped.split(separator: "\n").contains { $0.hasPrefix("newsd_disk_errors_total ") && !$0.hasSuffix(" 0") })
            var seen: [String] = []
            try waitUntil(timeout: .seconds(5), "the STATUS line names it") {
                seen += notify.drain()
                return seen.contains { $0.contains("STATUS=") && $0.contains("problem: disk: ") }
            }
            #expect(daemon.process.isRunning, "newsd stays up to say so")
        }
    }
}
