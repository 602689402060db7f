import Foundation
import SyncProtocol
import Testing
import TestSupport
@testable import NewsDaemon

/// The pieces of the health checks that need no failing disk: parsing /proc, the heartbeat's
/// failures, and how problems read.
@Suite struct HealthTests {
    let folder = TemporaryFolder("health")

    @Test func procStatIsReadFromTheLastParenthesisWhateverTheCommandNameHolds() throws {
        // proc(5): pid (comm) state ppid ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24)
        let fields = (3...30).map { number -> String in
            switch number {
            case 3: "S"
            case 14: "250"
            case 15: "50"
            case 22: "1000"
            case 23: "104857600"
            case 24: "2560"
            default: "0"
            }
        }
        let stat = "4242 (newsd) x) (y) " + fields.joined(separator: " ")
        let metrics = try #require(ProcessMetrics.parse(stat: stat, bootTime: 1_700_000_000, ticksPerSecond: 100, pageSize: 4096,
                                                        openDescriptors: 17, maximumDescriptors: 1024))
        #expect(metrics.cpuSeconds == 3)
        #expect(metrics.residentBytes == 2560 * 4096)
        #expect(metrics.virtualBytes == 104_857_600)
        #expect(metrics.startTimeSeconds == 1_700_000_010)
        #expect(metrics.openDescriptors == 17 && metrics.maximumDescriptors == 1024)
        #expect(ProcessMetrics.parse(stat: "4242 (newsd) S 1", bootTime: 0, ticksPerSecond: 100, pageSize: 4096,
                                     openDescriptors: 0, maximumDescriptors: 0) == nil, "a short line is nil, not a trap")
        #expect(ProcessMetrics.bootTime(from: "cpu 1 2 3\nbtime 1700000000\nprocesses 5\n") == 1_700_000_000)
        // This process, read for real.
        let own = try #require(ProcessMetrics.read())
        #expect(own.residentBytes > 0 && (own.openDescriptors ?? 0) > 0 && own.cpuSeconds >= 0)
    }

    @Test func theHeartbeatSaysWhichFolderFailedAndPassesOnAWorkingDisk() throws {
        let data = folder.sub("d"), watch = folder.sub("w")
        for path in [data, watch] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        #expect(DiskHeartbeat.beat(dataDir: data, watchDir: watch) == nil)
        let bytes = try #require(FileManager.default.contents(atPath: data + "/" + DiskHeartbeat.fileName))
        #expect(bytes.count == 8, "the same eight bytes each time: no growth")
        #expect(DiskHeartbeat.beat(dataDir: data, watchDir: watch) == nil)
        #expect(FileManager.default.contents(atPath: data + "/" + DiskHeartbeat.fileName)?.count == 8)
        // A data folder gone (a disk unmounted under it) is named.
        let failure = DiskHeartbeat.beat(dataDir: folder.sub("gone"), watchDir: watch)
        #expect(failure?.contains(folder.sub("gone")) == true && failure?.contains("No such file") == true)
        // A missing watched folder is the folder state's to report, not the disk's.
        #expect(DiskHeartbeat.beat(dataDir: data, watchDir: folder.sub("no-such-folder")) == nil)
        // The heartbeat file is not followed through a link planted in its place.
        try FileManager.default.removeItem(atPath: data + "/" + DiskHeartbeat.fileName)
        try FileManager.default.createSymbolicLink(atPath: data + "/" + DiskHeartbeat.fileName, withDestinationPath: folder.sub("elsewhere"))
        #expect(DiskHeartbeat.beat(dataDir: data, watchDir: watch) != nil)
        #expect(!FileManager.default.fileExists(atPath: folder.sub("elsewhere")))
    }

    @Test func unwatchedFoldersAndDiskErrorsReadAsProblemsAndClear() {
        let health = SiteHealth()
        #expect(health.problems.isEmpty)
        #expect(health.unwatchable("the-thao", why: "the inotify watch limit is reached") == .first)
        #expect(health.unwatchable("the-thao", why: "the inotify watch limit is reached") == .quietly, "noted once, counted each time")
        #expect(health.watchErrors == 2)
        health.unwatchable("van-hoa/2026", why: "permission denied: newsd's user may not read it")
        #expect(health.problems.count == 1)
        #expect(health.problems[0].contains("2 folder(s) cannot be watched") && health.problems[0].contains("the-thao"))
        #expect(health.unwatched.map(\.path) == ["the-thao", "van-hoa/2026"])
        health.heartbeat(failed: "data folder /var/lib/newsd: syncing heartbeat failed: Input/output error")
        #expect(health.problems.first?.hasPrefix("disk: ") == true, "the disk first")
        health.heartbeat(failed: nil)
        health.watched("the-thao")
        health.forget("van-hoa/2026")
        #expect(health.problems.isEmpty && health.diskErrors == 1 && health.watchErrors == 3)
        // Bounded: a tree past the limit does not make status grow without end.
        var logged = 0
        for index in 0..<(SiteHealth.maximumListed + 50) where health.unwatchable("muc-\(index)", why: "limit") != .quietly { logged += 1 }
        #expect(logged == SiteHealth.maximumLogged, "a few lines in the log, not a thousand")
        #expect(health.unwatched.count == SiteHealth.maximumListed)
        // Past the list, the retry is a rescan of everything: owed once, then taken.
        #expect(health.problems.first?.contains("over 1000 more") == true, "\(health.problems)")
        #expect(health.hasOverflowed && health.takeOverflow() && !health.takeOverflow())
    }
}
