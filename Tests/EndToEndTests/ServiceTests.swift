import Foundation
import Testing
import TestSupport

/// newsd as systemd runs it: the notify protocol, reload, stop, metrics, the unit and the install.
@Suite(.serialized) struct ServiceTests {
    let folder = TemporaryFolder("service")
    var repository: String { URL(fileURLWithPath: Seeds.folder).deletingLastPathComponent().path }

    /// A manager that stops reading its notify socket (its queue full) must not stall newsd: the
    /// sends used to block a thread of the two-thread pool, and SIGTERM was never acted on.
    @Test func aNotifySocketNobodyReadsDoesNotStallTheDaemon() async throws {
        try await offThePool {
            let notify = NotifySocket(path: folder.sub("unread.sock"))
            try FileManager.default.createDirectory(atPath: folder.sub("unread-w"), withIntermediateDirectories: true)
            let daemon = try DaemonProcess(watch: folder.sub("unread-w"), data: folder.sub("unread-d"),
                                           environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "20000"])
            // A ping every 10 ms and none read: the queue is full within a few seconds.
            usleep(6_000_000)
            #expect(try daemon.ctl(["status"]).status == 0, "still answers")
            #expect(daemon.terminate(timeout: .seconds(5)) == 0, "stops at SIGTERM")
            withExtendedLifetime(notify) {}
        }
    }

    @Test func notifyReloadAndStopFollowSystemdsProtocol() async throws {
        try await offThePool {
            let notify = NotifySocket(path: folder.sub("notify.sock"))
            try FileManager.default.createDirectory(atPath: folder.sub("w"), withIntermediateDirectories: true)
            try Seeds.copy(to: folder.sub("w"))
            let config = folder.sub("newsd.toml")
            let port = freePort(), metrics = freePort()
            let good = """
                watch = "\(folder.sub("w"))"
                listen = "127.0.0.1:\(port)"
                metrics = "127.0.0.1:\(metrics)"
                debounce_ms = 50

                """
            try good.write(toFile: config, atomically: true, encoding: .utf8)
            let daemon = try DaemonProcess(watch: folder.sub("w"), data: folder.sub("d"), extra: ["--config", config],
                                           environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
            var seen: [String] = []
            try waitUntil("READY=1 and WATCHDOG=1") {
                seen += notify.drain()
                return seen.contains { $0.hasPrefix("READY=1") } && seen.contains("WATCHDOG=1")
            }
            #expect(seen.first { $0.hasPrefix("READY=1") }?.contains("STATUS=2 articles") == true)

            // A good config is taken: RELOADING=1 then READY=1, and the new log level shows.
            try (good + "log_level = \"trace\"\n").write(toFile: config, atomically: true, encoding: .utf8)
            kill(daemon.pid, SIGHUP)
            seen = []
            try waitUntil("reload notifications") {
                seen += notify.drain()
                return seen.contains { $0.hasPrefix("RELOADING=1") } && seen.contains { $0.hasPrefix("READY=1") }
            }
            try waitUntil("reloaded line") { daemon.log.contains("reloaded \(config)") }

            // A broken one is refused and the old one stays: the daemon still answers.
            try (good + "peers = [\"not-a-site\"]\n").write(toFile: config, atomically: true, encoding: .utf8)
            kill(daemon.pid, SIGHUP)
            seen = []
            try waitUntil("refusal line") { daemon.log.contains("reload refused, the configuration in force stays") }
            try waitUntil("the refusal in STATUS") {
                seen += notify.drain()
                return seen.contains { $0.hasPrefix("READY=1\nSTATUS=reload refused: ") && $0.contains("not-a-site") }
            }
            #expect(try daemon.ctl(["status"]).status == 0)
            // One that parses but names a group that does not exist is refused too.
            try (good + "group = \"no-such-newsroom\"\n").write(toFile: config, atomically: true, encoding: .utf8)
            kill(daemon.pid, SIGHUP)
            try waitUntil("refusal of an unknown group") { daemon.log.contains("reload refused") && daemon.log.contains("no group named no-such-newsroom") }

            // Metrics answer in Prometheus text format.
            let scraped = try httpGet(port: metrics, path: "/metrics")
            #expect(scraped.contains("newsd_articles 2"))
            #expect(scraped.contains("# TYPE newsd_log_entries gauge"))

            // SIGTERM: STOPPING=1, exit 0, and the log verifies at the next start. The socket's queue
            // (net.unix.max_dgram_qlen, 10 here) is emptied first, as a service manager keeps it:
            // newsd's sends never wait, so a full queue would drop STOPPING=1.
            _ = notify.drain()
            let stopped = daemon.terminate()
            #expect(stopped == 0, "its log ends:\n\(daemon.log.split(separator: "\n").suffix(25).joined(separator: "\n"))")
            #expect(notify.drain().contains("STOPPING=1"))
            let again = try DaemonProcess(watch: folder.sub("w"), data: folder.sub("d"), extra: ["--listen", "127.0.0.1:0"])
            try again.waitUntilReady()
            #expect(try again.ctl(["verify"]).status == 0)
            #expect(again.terminate() == 0)
        }
    }

    @Test func journaldLinesCarryPriorityAndNoTimestamp() async throws {
        try await offThePool {
            try FileManager.default.createDirectory(atPath: folder.sub("w"), withIntermediateDirectories: true)
            let daemon = try DaemonProcess(watch: folder.sub("w"), data: folder.sub("d"), extra: ["--listen", "127.0.0.1:0"],
                                           environment: ["JOURNAL_STREAM": "8:12345"])
            try daemon.waitUntilReady()
            #expect(daemon.terminate() == 0)
            let lines = daemon.log.split(separator: "\n")
            #expect(lines.contains { $0.hasPrefix("<5>ready: site ") })
            #expect(lines.allSatisfy { $0.hasPrefix("<") })
        }
    }

    @Test func theUnitVerifiesAndItsExposureIsLow() async throws {
        try await offThePool {
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else { return }
            let unit = try String(contentsOfFile: repository + "/systemd/newsd.service", encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/newsd", with: Binaries.newsd)
            let path = folder.sub("newsd.service")
            try unit.write(toFile: path, atomically: true, encoding: .utf8)
            let verify = try run("/usr/bin/systemd-analyze", ["verify", path])
            #expect(verify.status == 0)
            #expect(verify.stderr.isEmpty && verify.stdout.isEmpty, "warnings: \(verify.stderr)\(verify.stdout)")
            let security = try run("/usr/bin/systemd-analyze", ["security", "--offline=true", path])
            let line = try #require(security.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") })
            let score = Double(line.split(separator: ":").last!.split(separator: " ").first!) ?? 10
            #expect(score <= 2.5, "\(line)")
        }
    }

    @Test func installLaysOutAWorkingTreeUnderDestdir() async throws {
        try await offThePool {
            let destination = folder.sub("root")
            let script = repository + "/scripts/install.sh"
            let environment = "DESTDIR=\(destination) PREFIX=/usr"
            // The debug binaries load the Swift runtime: refused for a server, with the way out.
            let refused = try run("/bin/sh", ["-c", "\(environment) '\(script)' --binaries '\(Binaries.directory)'"])
            #expect(refused.status == 1 && refused.stderr.contains("--static-swift-stdlib"), "\(refused.stderr)")
            let staging = environment + " NEWSD_INSTALL_RUNTIME_CHECK=off"
            let first = try run("/bin/sh", ["-c", "\(staging) '\(script)' --binaries '\(Binaries.directory)'"])
            #expect(first.status == 0, "\(first.stderr)")
            for file in ["/usr/bin/newsd", "/usr/bin/newsctl", "/etc/systemd/system/newsd.service", "/etc/sysusers.d/newsd.conf",
                         "/etc/newsd/newsd.toml", "/usr/share/doc/newsd/README.md", "/usr/share/bash-completion/completions/newsctl",
                         "/usr/share/zsh/site-functions/_newsctl", "/usr/share/fish/vendor_completions.d/newsctl.fish"] {
                #expect(FileManager.default.fileExists(atPath: destination + file), "\(file)")
            }
            let unit = try String(contentsOfFile: destination + "/etc/systemd/system/newsd.service", encoding: .utf8)
            #expect(unit.contains("ExecStart=/usr/bin/newsd --config /etc/newsd/newsd.toml"))
            #expect(unit.contains("ExecReload=/usr/bin/newsd check-config --reload"))
            #expect(first.stdout.contains("staged newsd under"))
            #expect(try run(destination + "/usr/bin/newsctl", ["--version"]).stdout.hasPrefix("0."))

            // A second install keeps the operator's config.
            try "site_name = \"mine\"\n".write(toFile: destination + "/etc/newsd/newsd.toml", atomically: true, encoding: .utf8)
            #expect(try run("/bin/sh", ["-c", "\(staging) '\(script)' --binaries '\(Binaries.directory)'"]).status == 0)
            #expect(try String(contentsOfFile: destination + "/etc/newsd/newsd.toml", encoding: .utf8) == "site_name = \"mine\"\n")
            #expect(FileManager.default.fileExists(atPath: destination + "/etc/newsd/newsd.toml.example"))

            let removed = try run("/bin/sh", ["-c", "\(environment) '\(script)' --uninstall"])
            #expect(removed.status == 0)
            #expect(!FileManager.default.fileExists(atPath: destination + "/usr/bin/newsd"))
            #expect(FileManager.default.fileExists(atPath: destination + "/etc/newsd/newsd.toml"))
        }
    }
}
