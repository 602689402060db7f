import Foundation
import Testing
import TestSupport

/// newsctl's exit statuses and JSON errors, as a script or a monitor sees them (docs/CONTROL.md).
@Suite struct ExitStatusTests {
    let folder = TemporaryFolder("exit")

    func json(_ result: CommandResult) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "stdout: \(result.stdout)")
    }

    func errorKind(_ result: CommandResult) throws -> String? {
        ((try json(result))["error"] as? [String: Any])?["kind"] as? String
    }

    @Test func eachFailureHasItsStatusAndKind() async throws {
        try await offThePool {
            let ctl = Binaries.newsctl
            let gone = try run(ctl, ["status", "--control", folder.sub("none.sock")])
            #expect(gone.status == 3 && gone.stderr.contains("newsd is not running"), "\(gone)")
            let goneJSON = try run(ctl, ["status", "--json", "--control", folder.sub("none.sock")])
            let goneJSONKind = try errorKind(goneJSON)
            #expect(goneJSON.status == 3 && goneJSONKind == "not_running")
            let usage = try run(ctl, ["status", "--no-such-flag", "--json"])
            let usageKind = try errorKind(usage)
            #expect(usage.status == 2 && usageKind == "usage", "\(usage)")
            #expect(try run(ctl, ["no-such-command"]).status == 2)
            #expect(try run(ctl, ["--help"]).status == 0)

            let watch = folder.sub("w")
            try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: true)
            try Data("Bản tin sáng\n".utf8).write(to: URL(fileURLWithPath: watch + "/tin.txt"))
            let daemon = try DaemonProcess(watch: watch, data: folder.sub("d"))
            defer { _ = daemon.terminate() }
            try daemon.waitUntilReady()

            #expect(try daemon.ctl(["status", "--check"]).status == 0)
            #expect(try daemon.ctl(["verify"]).status == 0)
            let missing = try daemon.ctl(["show", "khong-co.txt", "--json"])
            let missingKind = try errorKind(missing)
            #expect(missing.status == 4 && missingKind == "not_found", "\(missing)")
            #expect(try daemon.ctl(["log", "khong-co.txt"]).status == 4)

            // A peer ID with one character changed: refused as a typo, naming its group.
            let peer = try run(Binaries.newsd, ["init", "--data", folder.sub("peer")]).stdout.split(separator: "\n").last.map(String.init) ?? ""
            var typo = Array(peer)
            typo[9] = typo[9] == "A" ? "B" : "A"
            let typed = try daemon.ctl(["diff", "--peer", String(typo)])
            #expect(typed.status == 2 && typed.stderr.contains("group 2"), "\(typed)")
            let unknown = try daemon.ctl(["diff", "--peer", peer])
            #expect(unknown.status == 4 && unknown.stderr.contains("not a configured peer"), "\(unknown)")

            // The watched folder goes away: status still exits 0, status --check exits 1.
            try FileManager.default.moveItem(atPath: watch, toPath: watch + ".moved")
            try waitUntil(timeout: .seconds(20), "status to list the missing folder") {
                (try daemon.ctl(["status", "--check"])).status == 1
            }
            #expect(try daemon.ctl(["status"]).status == 0)
            let checked = try daemon.ctl(["status", "--check", "--json"])
            let problems = try json(checked)["problems"] as? [String] ?? []
            #expect(checked.status == 1 && !problems.isEmpty)
        }
    }
}
