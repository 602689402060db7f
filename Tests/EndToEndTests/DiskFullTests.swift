import Foundation
import Testing
import TestSupport

/// The data folder on a tmpfs of 3 MiB (where this machine lets the test mount one, i.e. as root).
@Suite(.serialized) struct DiskFullTests {
    let folder = TemporaryFolder("disk")

    /// Root, and a machine that lets root mount (not every container does): tried once.
    static let canMount: Bool = {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/mount") else { return false }
        let probe = FileManager.default.temporaryDirectory.appendingPathComponent("newsd-mount-probe-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard (try? run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]))?.status == 0 else { return false }
        _ = try? run("/usr/bin/umount", [probe])
        return true
    }()

    func status(_ daemon: DaemonProcess) -> [String: Any]? {
        guard let result = try? daemon.ctl(["status", "--json"]), result.status == 0 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    }

    @Test(.enabled(if: canMount, "mounting a tmpfs needs root on a machine that allows it"))
    func ingestStopsWithAClearErrorWhenTheDiskIsFullAndResumesWhenSpaceIsFreed() async throws {
        try await offThePool {
            let watch = folder.sub("watch"), data = folder.sub("data")
            try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            let mounted = try run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", data])
            try #require(mounted.status == 0, "mount: \(mounted.stderr)")
            defer { _ = try? run("/usr/bin/umount", ["-l", data]) }

            let daemon = try DaemonProcess(watch: watch, data: data)
            defer { daemon.kill9() }
            try daemon.waitUntilReady()

            // Text that compresses little, so the log grows about as fast as the folder.
            var random = SystemRandomNumberGenerator()
            let letters = Array("aăâbcdđeêghiklmnoôơpqrstuưvxy ")
            var written = 0
            var problem: String?
            while problem == nil && written < 400 {
                let text = String((0..<20_000).map { _ in letters[Int.random(in: 0..<letters.count, using: &random)] })
                folder.write("watch/bai-\(written).txt", text)
                written += 1
                usleep(20_000)
                problem = (status(daemon)?["problems"] as? [String])?.first { $0.contains("disk full") }
            }
            try #require(problem != nil, "status reported a full disk within \(written) articles")
            #expect(daemon.log.contains("disk full"))
            #expect(status(daemon)?["ready"] as? Bool == true, "the daemon stays up")
            #expect(try daemon.ctl(["verify"]).status == 0, "the log is valid while the disk is full")

            // Space is freed: the file system grows. Ingest resumes by itself.
            #expect(try run("/usr/bin/mount", ["-o", "remount,size=64m", data]).status == 0)
            try waitUntil(timeout: .seconds(30), "every article recorded after space was freed") {
                guard let now = status(daemon) else { return false }
                return now["articles"] as? Int == written && (now["problems"] as? [String])?.isEmpty == true
            }
            let verify = try daemon.ctl(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            #expect(daemon.terminate() == 0)
        }
    }
}
