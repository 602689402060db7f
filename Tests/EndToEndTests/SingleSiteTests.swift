import Foundation
import Testing
import TestSupport
import SyncProtocol

/// The real binaries on temp folders, as a newsroom would run them.
@Suite(.serialized) struct SingleSiteTests {
    let folder = TemporaryFolder("e2e")
    var watch: String { folder.sub("watch") }
    var data: String { folder.sub("data") }

    init() throws {
        try FileManager.default.createDirectory(atPath: folder.sub("watch"), withIntermediateDirectories: true)
        try Seeds.copy(to: folder.sub("watch"))
    }

    func versions(_ daemon: DaemonProcess, _ article: String) throws -> [[String: Any]] {
        let result = try daemon.ctl(["log", article, "--json"])
        guard result.status == 0 else { return [] }
        return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    func entries(_ daemon: DaemonProcess) throws -> Int {
        let status = try daemon.ctl(["status", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        return object?["log_entries"] as? Int ?? -1
    }

    @Test func anEditShowsUpInLogAndDiffAndVerifyPasses() async throws {
        try await offThePool {
            let daemon = try DaemonProcess(watch: watch, data: data)
            try daemon.waitUntilReady()
            let article = "000_15b2be1134f67c00.txt"
            let handle = try #require(FileHandle(forWritingAtPath: watch + "/" + article))
            handle.seekToEndOfFile()
            handle.write(Data("\nBiên tập viên thêm một đoạn mới.\n".utf8))
            try handle.close()
            try waitUntil("the edit in the log") { try versions(daemon, article).count == 2 }

            let log = try versions(daemon, article)
            #expect(log[0]["op"] as? String == "put")
            let hash = ContentHash.of(Array(try Data(contentsOf: URL(fileURLWithPath: watch + "/" + article)))).hex
            #expect(log[0]["content_hash"] as? String == hash)

            let diff = try daemon.ctl(["diff", article])
            #expect(diff.status == 0)
            #expect(diff.stdout.contains("+Biên tập viên thêm một đoạn mới."))
            let word = try daemon.ctl(["diff", article, "--word"])
            #expect(word.stdout.contains("{+"))

            let verify = try daemon.ctl(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)")
            let status = try daemon.ctl(["status", "--json"])
            for key in ["\"site_id\"", "\"site_name\"", "\"articles\" : 2", "\"log_entries\" : 3", "\"watch_dir\""] {
                #expect(status.stdout.contains(key), "\(key) in \(status.stdout)")
            }
            #expect(daemon.terminate() == 0)
        }
    }

    @Test func killNineInABurstOfWritesLosesNothingCommitted() async throws {
        try await offThePool {
            var daemon = try DaemonProcess(watch: watch, data: data)
            try daemon.waitUntilReady()
            let files = 50
            let killAt = Int.random(in: 150...400)
            var acknowledged = 0
            // Spread over about two seconds, so batches commit while the writes go on and the kill
            // lands in the middle of ingest rather than before it.
            for write in 0..<500 {
                let name = "burst/bai-\(write % files).txt"
                folder.write("watch/" + name, "Bản \(write) của bài \(write % files): tin nóng từ Hà Nội.\n")
                usleep(4_000)
                // Kill once the log holds some of the burst, so the kill lands in the middle of ingest.
                if write >= killAt && daemon.process.isRunning {
                    let held = try entries(daemon)
                    if held > 2 {
                        acknowledged = held
                        daemon.kill9()
                    }
                }
            }
            daemon = try DaemonProcess(watch: watch, data: data)
            try daemon.waitUntilReady()
            #expect(try entries(daemon) >= acknowledged, "entries the log held before the kill are still there")
            #expect(acknowledged > 2, "the kill landed after some of the burst was committed")
            let verify = try daemon.ctl(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            for index in 0..<files {
                let name = "burst/bai-\(index).txt"
                let disk = ContentHash.of(Array(try Data(contentsOf: URL(fileURLWithPath: watch + "/" + name)))).hex
                let head = try versions(daemon, name).first?["content_hash"] as? String
                #expect(head == disk, "\(name)")
            }
            #expect(daemon.terminate() == 0)
        }
    }

    @Test func aSecondDaemonOnTheSameDataFolderExitsWithAClearMessage() async throws {
        try await offThePool {
            let first = try DaemonProcess(watch: watch, data: data)
            try first.waitUntilReady()
            let second = try run(Binaries.newsd, ["--watch", watch, "--data", data, "--control", folder.sub("other.sock"),
                                                  "--listen", "127.0.0.1:0"], timeout: .seconds(20))
            #expect(second.status != 0)
            #expect(second.stderr.contains("already running"), "\(second.stderr)")
            #expect(first.process.isRunning)
        }
    }

    @Test func newsctlWithoutADaemonSaysSoAndFails() async throws {
        try await offThePool {
            let result = try run(Binaries.newsctl, ["status", "--data", data])
            #expect(result.status == 3, "exit 3: newsd not reachable")
            #expect(result.stderr.contains("not running"))
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test func unknownArticleAndAmbiguousOrBadVersionsAreOneLineErrors() async throws {
        try await offThePool {
            let daemon = try DaemonProcess(watch: watch, data: data)
            try daemon.waitUntilReady()
            let unknown = try daemon.ctl(["show", "khong-co.txt"])
            #expect(unknown.status == 4 && unknown.stderr.contains("no article"))
            let badVersion = try daemon.ctl(["show", "000_15b2be1134f67c00.txt@000000"])
            #expect(badVersion.status == 4 && badVersion.stderr.contains("has no version"))
            let shown = try daemon.ctl(["show", "000_15b2be1134f67c00.txt"])
            let seed = try String(contentsOfFile: Seeds.folder + "/000_15b2be1134f67c00.txt", encoding: .utf8)
            #expect(shown.stdout == seed)
        }
    }

    @Test func initPrintsTheSiteIDThatIdPrints() async throws {
        try await offThePool {
            let initialized = try run(Binaries.newsd, ["init", "--data", data])
            #expect(initialized.status == 0)
            let id = try run(Binaries.newsd, ["id", "--data", data])
            let last = initialized.stdout.split(separator: "\n").last.map(String.init)
            #expect(last == id.stdout.trimmingCharacters(in: .newlines))
            #expect(SiteID(last ?? "") != nil)
            let attributes = try FileManager.default.attributesOfItem(atPath: data + "/site.key")
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        }
    }
}
