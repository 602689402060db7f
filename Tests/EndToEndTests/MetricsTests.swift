import Foundation
import Testing
import TestSupport
import SyncProtocol

/// `/metrics` read as Prometheus reads it: parsed by prometheus_client's text-format parser.
@Suite(.serialized) struct MetricsTests {
    let folder = TemporaryFolder("metrics")

    struct Scrape {
        var families: [String: String]
        var samples: [(name: String, labels: [String: String], value: Double)]

        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
        }
    }

    /// Scrapes and parses; a scrape the parser rejects fails the test with its error.
    func scrape(_ port: Int) throws -> Scrape {
        let text = try httpGet(port: port, path: "/metrics")
        let input = folder.write("scrape.txt", text)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/parse_metrics.py").path
        let parsed = try run("/bin/sh", ["-c", "exec python3 \"$0\" < \"$1\"", script, input])
        try #require(parsed.status == 0, "prometheus_client rejected the scrape (pip install prometheus_client; .ci/run does): \(parsed.stderr)\n\(text)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [String: Any])
        let samples = (json["samples"] as? [[Any]] ?? []).map { row in
            (name: row[0] as? String ?? "", labels: row[1] as? [String: String] ?? [:], value: (row[2] as? NSNumber)?.doubleValue ?? .nan)
        }
        return Scrape(families: json["families"] as? [String: String] ?? [:], samples: samples)
    }

    @Test func aScrapeParsesAsPrometheusTextWithCountersLagAndProcessFigures() async throws {
        try await offThePool {
            let a = try TestSite("a", in: folder), b = try TestSite("b", in: folder), stranger = try TestSite("x", in: folder)
            let port = freePort()
            let environment = ["NEWSD_TEST_HEARTBEAT_MS": "200"]
            // A dials B, which is down at first.
            let withMetrics = try DaemonProcess(watch: a.watch, data: a.data, extra: [
                "--listen", "127.0.0.1:\(a.port)", "--metrics", "127.0.0.1:\(port)", "--peer", b.address,
            ], environment: environment)
            try withMetrics.waitUntilReady()
            folder.write("a/watch/tin.txt", "Tin nóng từ Hà Nội.\n")
            try waitUntil("the article logged") { (try? withMetrics.ctl(["log", "--json"]))?.stdout.contains("tin.txt") == true }

            let first = try scrape(port)
            let peer = try #require(SiteID(b.id)).rawValue
            #expect(first.families["newsd_build_info"] == "gauge")
            #expect(first.value("newsd_build_info", ["version": NewsdVersion.current]) == 1)
            for counter in ["newsd_refused_connections", "newsd_rejected_sessions", "newsd_watch_errors", "newsd_disk_errors",
                            "newsd_verify_failures", "newsd_peer_sent_bytes", "newsd_peer_session_failures", "process_cpu_seconds"] {
                // The parser names a counter's family without `_total` and its sample with it.
                #expect(first.families[counter] == "counter", "\(counter) is a counter")
                #expect(first.samples.contains { $0.name == counter + "_total" }, "\(counter)_total is its sample")
            }
            #expect(!first.families.keys.contains { $0.hasSuffix("_total") }, "no gauge is named like a counter")
            #expect(first.value("newsd_articles") == 1)
            #expect(first.value("newsd_peer_connected", ["peer": peer]) == 0)
            #expect((first.value("process_resident_memory_bytes") ?? 0) > 1_000_000)
            #expect((first.value("process_open_fds") ?? 0) >= 3)
            #expect((first.value("process_start_time_seconds") ?? 0) > Date().timeIntervalSince1970 - 600)
            #expect(first.value("newsd_wal_bytes") != nil)
            #expect((first.value("newsd_filesystem_free_bytes", ["folder": "data"]) ?? 0) > 0)
            #expect(first.value("newsd_disk_failing") == 0 && first.value("newsd_disk_full") == 0)

            // No lag is claimed for a peer that has not said what it holds.
            #expect(first.value("newsd_peer_lag_seconds", ["peer": peer]) == nil)

            // B comes up: in sync, lag 0.
            var db = try b.start(peers: [a])
            try db.waitUntilReady()
            try waitUntil(timeout: .seconds(20), "the article at B") { folder.read("b/watch/tin.txt") != nil }
            try waitUntil(timeout: .seconds(10), "lag 0") { try scrape(port).value("newsd_peer_lag_seconds", ["peer": peer]) == 0 }

            // B goes down; an article saved at A waits, and its wait is the lag.
            #expect(db.terminate() == 0)
            try waitUntil(timeout: .seconds(10), "B disconnected") { try scrape(port).value("newsd_peer_connected", ["peer": peer]) == 0 }
            folder.write("a/watch/tin-2.txt", "Tin thứ hai, khi Đà Nẵng vắng mặt.\n")
            try waitUntil(timeout: .seconds(10), "the lag past a second") {
                (try scrape(port).value("newsd_peer_lag_seconds", ["peer": peer]) ?? 0) >= 1
            }

            // B comes back: in sync, lag 0, traffic counted.
            db = try b.start(peers: [a])
            try db.waitUntilReady()
            try waitUntil(timeout: .seconds(20), "the second article at B") { folder.read("b/watch/tin-2.txt") != nil }
            try waitUntil(timeout: .seconds(10), "lag back to 0") {
                let now = try scrape(port)
                return now.value("newsd_peer_lag_seconds", ["peer": peer]) == 0 && now.value("newsd_peer_connected", ["peer": peer]) == 1
            }
            let synced = try scrape(port)
            #expect((synced.value("newsd_peer_sent_entries_total", ["peer": peer]) ?? 0) >= 1)
            #expect((synced.value("newsd_peer_sent_bytes_total", ["peer": peer]) ?? 0) > 0)

            // A site A does not know dials it: refused, counted, pending.
            let refusedBefore = synced.value("newsd_refused_connections_total") ?? 0
            let dx = try stranger.start(peers: [a])
            try waitUntil(timeout: .seconds(15), "the stranger refused") {
                let now = try scrape(port)
                return (now.value("newsd_refused_connections_total") ?? 0) > refusedBefore && now.value("newsd_pending_peers") == 1
            }

            // A verify that passes counts a run, not a failure.
            #expect(try withMetrics.ctl(["verify"]).status == 0)
            try waitUntil(timeout: .seconds(5), "the verify counted") {
                let verified = try scrape(port)
                return verified.value("newsd_verify_runs_total") == 1 && verified.value("newsd_verify_failures_total") == 0
            }

            // A peer removed takes its series with it.
            #expect(try withMetrics.ctl(["peers", "add", stranger.id]).status == 0)
            try waitUntil(timeout: .seconds(10), "the stranger's series") { try scrape(port).value("newsd_peer_connected", ["peer": SiteID(stranger.id)!.rawValue]) != nil }
            #expect(try withMetrics.ctl(["peers", "remove", stranger.id]).status == 0)
            try waitUntil(timeout: .seconds(5), "the stranger's series gone") {
                try scrape(port).value("newsd_peer_connected", ["peer": SiteID(stranger.id)!.rawValue]) == nil
            }
            let after = try scrape(port)
            #expect(after.value("newsd_peer_connected", ["peer": peer]) == 1)
            for (name, daemon) in [("A", withMetrics), ("B", db), ("stranger", dx)] {
                let stopped = daemon.terminate()
                #expect(stopped == 0, "\(name) stopped with \(stopped); its log ends:\n\(daemon.log.split(separator: "\n").suffix(15).joined(separator: "\n"))")
            }
        }
    }
}
