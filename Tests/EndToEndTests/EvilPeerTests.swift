import Foundation
import Testing
import TestSupport

/// A listed peer that turns hostile (`evil-peer`, on the real codec, TLS and a listed key) against
/// a real newsd with an honest peer beside it. For each attack: the site stays up, stores nothing
/// invalid, keeps its memory bound, the honest peer keeps syncing, and the event is logged and
/// counted. The long form, with RSS over minutes, is the torture run's evil round.
@Suite(.serialized) struct EvilPeerTests {
    let folder = TemporaryFolder("evil")

    struct Attack: Sendable, CustomStringConvertible {
        let name: String
        /// What the evil peer must hear back (an error code, or "closed without an error").
        let answer: String
        /// A phrase the site's log must carry, when the site ends the session.
        let logged: String?
        var description: String { name }
    }

    static let attacks = [
        Attack(name: "claim-16g", answer: "tooLarge", logged: "claims 17179869184 bytes"),
        Attack(name: "bomb", answer: "closed without an error", logged: nil),
        Attack(name: "vector-2^63", answer: "closed without an error", logged: nil),
        Attack(name: "origins-100001", answer: "malformedFrame", logged: "vector of 100001 origins"),
        Attack(name: "heads-1025", answer: "malformedFrame", logged: "replaces 1025 versions"),
        Attack(name: "stall", answer: "timeout", logged: "no byte from the peer"),
        Attack(name: "deaf", answer: "closed without an error", logged: "read none of"),
        Attack(name: "flood", answer: "closed without an error", logged: nil),
    ]

    func json(_ daemon: DaemonProcess, _ arguments: [String]) throws -> Any {
        let result = try daemon.ctl(arguments + ["--json"])
        #expect(result.status == 0, "newsctl \(arguments) answers: \(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    func peer(_ daemon: DaemonProcess, _ id: String) throws -> [String: Any] {
        (try json(daemon, ["peers"]) as? [[String: Any]])?.first { $0["id"] as? String == id } ?? [:]
    }

    @Test func everyAttackLeavesTheSiteUpBoundedAndSyncing() async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder)
            // About 16 MB at A, more than the sockets buffer: the deaf peer's backlog stalls.
            var random = SeededRandom(seed: 11)
            let noise = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }).base64EncodedString(options: .lineLength76Characters)
            for index in 0..<16 { folder.write("a/watch/anh/\(index).txt", "\(index)\n" + noise) }
            var keys: [String: (path: String, id: String)] = [:]
            for attack in Self.attacks {
                let path = folder.sub("evil-\(attack.name).pem")
                let id = try run(Binaries.evilPeer, ["id", "--key", path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                keys[attack.name] = (path, id)
            }
            let environment = ["NEWSD_TEST_SESSION_TIMING": "200,2000"]
            let da = try a.start(dialing: [b.address] + keys.values.map(\.id), environment: environment)
            let db = try b.start(peers: [a], environment: environment)
            try da.waitUntilReady()
            try db.waitUntilReady()
            try waitUntil(timeout: .seconds(60), "A's articles at B") { b.snapshot() == a.snapshot() }
            let rest = residentKilobytes(da.pid)

            for (round, attack) in Self.attacks.enumerated() {
                let key = try #require(keys[attack.name])
                let logBefore = da.log.utf8.count
                var peak = 0
                let result = try run(Binaries.evilPeer, ["attack", attack.name, "--key", key.path, "--port", "\(a.port)", "--seconds", "2"],
                                     timeout: .seconds(300)) { peak = max(peak, residentKilobytes(da.pid)) }
                #expect(result.status == 0, "\(attack): \(result.stderr)")
                let tally = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
                let answers = tally["answers"] as? [String: Int] ?? [:]
                #expect(answers[attack.answer, default: 0] > 0, "\(attack): the peer heard \(answers)")

                #expect(da.process.isRunning, "\(attack): A is up")
                // Not under AddressSanitizer: its quarantine keeps freed memory resident by design.
                if ProcessInfo.processInfo.environment["ASAN_OPTIONS"] == nil {
                    #expect(peak - rest < 128 << 10, "\(attack): A's memory stays bounded (\(rest) KiB at rest, \(peak) KiB at most)")
                }
                func newLog() -> String { String(decoding: Array(da.log.utf8.dropFirst(logBefore)), as: UTF8.self) }
                if let phrase = attack.logged {
                    try waitUntil(timeout: .seconds(10), "\(attack): A logs it; the evil peer heard \(answers); A's log since:\n\(newLog().suffix(3000))") {
                        newLog().contains(phrase)
                    }
                    let failures = try peer(da, key.id)["session_failures"] as? Int ?? 0
                    #expect(failures > 0, "\(attack): counted in newsctl peers")
                }

                // The honest peer keeps syncing: an edit at B reaches A, and A's folder reaches B.
                let article = "tu-b/\(round).txt", text = "Bài \(round) viết ở Đà Nẵng sau đòn \(attack.name).\n"
                folder.write("b/watch/\(article)", text)
                try waitUntil(timeout: .seconds(30), "\(attack): B's edit at A") { folder.read("a/watch/\(article)") == text }
                #expect(try da.ctl(["verify"]).status == 0, "\(attack): A's log verifies")
            }

            // What was valid is kept and relayed; what was not is nowhere.
            let status = try json(da, ["status"]) as? [String: Any] ?? [:]
            let problems = (status["problems"] as? [String] ?? []).joined(separator: "\n")
            #expect(problems.contains("bom.txt") && problems.contains("max_file_bytes"), "the 1 GiB article is kept, not written: \(problems)")
            #expect(!FileManager.default.fileExists(atPath: a.watch + "/bom.txt"))
            func entries(_ daemon: DaemonProcess) -> Int { ((try? json(daemon, ["status"])) as? [String: Any])?["log_entries"] as? Int ?? -1 }
            try waitUntil(timeout: .seconds(60), "the bomb, the 1,025 versions and the flood relayed to B (A \(entries(da)), B \(entries(db)))") {
                entries(db) == entries(da)
            }
            #expect(entries(da) > 1025 + 16, "the valid entries are kept")
            let conflicts = (try json(db, ["conflicts"]) as? [[String: Any]] ?? []).map { $0["article"] as? String ?? "" }
            #expect(conflicts.contains("dau.txt"), "the 1,025 versions are one conflict at B: \(conflicts)")
            // A peer claiming 2^63 entries leaves status, peers and the scrape working.
            #expect(try da.ctl(["peers"]).status == 0)
            #expect(try db.ctl(["verify"]).status == 0)
        }
    }
}
