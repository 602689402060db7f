import Foundation
import Testing
import TestSupport

/// A whole-disk snapshot put back while no peer answers: the site cannot tell its log is behind,
/// and signs entries at places of its chain its peer already holds. When the two meet, both chains
/// are kept at both sites (one numbered, the other beside it), the site that forked signs anew,
/// nothing is refused, and both end with the same folder, the same conflicts and a log that verifies.
@Suite(.serialized) struct ChainForkTests {
    let folder = TemporaryFolder("fork")

    func replace(_ path: String, with copy: String) throws {
        try FileManager.default.removeItem(atPath: path)
        let copied = try run("/bin/cp", ["-a", copy, path])
        #expect(copied.status == 0, "\(copied.stderr)")
    }

    func json(_ daemon: DaemonProcess, _ arguments: [String]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try daemon.ctl(arguments + ["--json"]).stdout.utf8))
    }

    /// Versions in the daemon's log signed as `origin`, chain and beside.
    func entries(_ daemon: DaemonProcess, origin: String) throws -> Set<String> {
        let versions = try json(daemon, ["log", "-n", "1000000"]) as? [[String: Any]] ?? []
        return Set(versions.filter { $0["origin"] as? String == origin }.compactMap { $0["version"] as? String })
    }

    /// `forkedSaves`: how many saves A records on the put-back snapshot before it meets B, which
    /// holds 3 entries of A's past the snapshot. With 1, A's chain is the shorter and only B finds
    /// the fork at the start of their session; A learns of it from what B sends and answers in the
    /// same session. With 4, each finds it from the other's tips.
    ///
    /// `crashes`: A dies (as at kill -9) once B's entries of its chain are stored and before its
    /// new key is saved; started again, it must sign anew all the same, from what its log holds.
    @Test(arguments: [(1, false), (4, false), (4, true)])
    func aWholeDiskSnapshotPutBackWithThePeerDownKeepsBothChains(forkedSaves: Int, crashes: Bool) async throws {
        try await offThePool {
            let tag = "\(forkedSaves)\(crashes ? "c" : "")"
            let a = try TestSite("a\(tag)", in: folder), b = try TestSite("b\(tag)", in: folder)
            let aw = "a\(tag)/watch", bw = "b\(tag)/watch"
            for n in 0..<6 { folder.write("\(aw)/bai-\(n).txt", "Bài \(n), bản đầu.\n") }
            var da = try a.start(peers: [b])
            var db = try b.start(peers: [a])
            defer { _ = db.terminate() }
            try da.waitUntilReady()
            try waitUntil(timeout: .seconds(20), "the first versions at B") { b.snapshot() == a.snapshot() && b.snapshot().count == 6 }

            // The snapshot: A's data folder and articles folder together, A stopped.
            #expect(da.terminate() == 0)
            _ = try run("/bin/cp", ["-a", a.data, folder.sub("a\(tag)-data.copy")])
            _ = try run("/bin/cp", ["-a", a.watch, folder.sub("a\(tag)-watch.copy")])

            // Three saves at A after the snapshot, all at B.
            da = try a.start(peers: [b])
            try da.waitUntilReady()
            folder.write("\(aw)/bai-0.txt", "Bài 0, sửa sau bản chụp.\n")
            folder.write("\(aw)/bai-1.txt", "Bài 1, sửa sau bản chụp.\n")
            folder.write("\(aw)/moi-truoc.txt", "Tin mới viết sau bản chụp, trước khi đĩa hỏng.\n")
            try waitUntil(timeout: .seconds(20), "the three saves at B") { try entries(db, origin: a.id).count == 9 }
            let before = try entries(db, origin: a.id)
            #expect(da.terminate() == 0)
            #expect(db.terminate() == 0)

            // The snapshot is put back whole (its marker too: nothing shows the log is behind);
            // B is down past the wait, so A records its editors' saves on the old chain.
            try replace(a.data, with: folder.sub("a\(tag)-data.copy"))
            try replace(a.watch, with: folder.sub("a\(tag)-watch.copy"))
            let flags = ["--listen", "127.0.0.1:\(a.port)", "--site-name", a.name, "--peer", b.address, "--rejoin-timeout", "1"]
            da = try DaemonProcess(watch: a.watch, data: a.data, extra: flags,
                                   environment: crashes ? ["NEWSD_TEST_CRASH_AT": "signing-anew-after-fork"] : [:])
            defer { _ = da.terminate() }
            try da.waitUntilReady(timeout: .seconds(30))
            folder.write("\(aw)/bai-1.txt", "Bài 1, sửa khi Hà Nội chưa nối lại.\n")
            for n in 1..<forkedSaves { folder.write("\(aw)/moi-sau-\(n).txt", "Tin \(n) viết trên bản chụp.\n") }
            try waitUntil(timeout: .seconds(20), "the saves on the old chain at A") { try entries(da, origin: a.id).count == 6 + forkedSaves }
            let forked = try entries(da, origin: a.id)

            // B returns.
            db = try b.start(peers: [a])
            if crashes {
                try waitUntil(timeout: .seconds(30), "A dies once B's entries of its chain are stored") { !da.process.isRunning }
                #expect(da.log.contains("test seam: exiting before signing anew"))
                #expect(!FileManager.default.fileExists(atPath: a.data + "/author.key"), "the crash came before the new key")
                da = try DaemonProcess(watch: a.watch, data: a.data, extra: flags)
                try da.waitUntilReady(timeout: .seconds(30))
            }
            try waitUntil(timeout: .seconds(30), "both chains at both sites") {
                let all = before.union(forked)
                return try entries(da, origin: a.id).isSuperset(of: all) && entries(db, origin: a.id).isSuperset(of: all)
            }
            try waitUntil(timeout: .seconds(20), "both folders alike") { a.snapshot() == b.snapshot() }
            // Nothing of either chain is lost: B's branch is in A's folder, A's in B's.
            #expect(folder.read("\(aw)/moi-truoc.txt") == "Tin mới viết sau bản chụp, trước khi đĩa hỏng.\n")
            #expect(folder.read("\(aw)/bai-0.txt") == "Bài 0, sửa sau bản chụp.\n")
            for n in 1..<forkedSaves { #expect(folder.read("\(bw)/moi-sau-\(n).txt") == "Tin \(n) viết trên bản chụp.\n") }

            // bai-1 changed on both chains: one conflict, the same at both, both texts kept.
            var listed: [[String]] = []
            for daemon in [da, db] {
                let conflicts = try json(daemon, ["conflicts"]) as? [[String: Any]] ?? []
                listed.append(conflicts.compactMap { $0["article"] as? String }.sorted())
                #expect(try daemon.ctl(["verify"]).status == 0)
                let status = try json(daemon, ["status"]) as? [String: Any]
                let forks = status?["forks"] as? [[String: Any]] ?? []
                #expect(forks.count == 1 && forks.first?["origin"] as? String == a.id, "\(String(describing: status))")
            }
            #expect(listed[0] == ["bai-1.txt"] && listed[1] == listed[0])
            let text = try da.ctl(["status"]).stdout
            #expect(text.contains("forked") && text.contains("signed a second chain"), "\(text)")
            #expect(!db.log.contains("chainBroken") && !da.log.contains("chainBroken"), "nothing refused")

            // A signs anew: its next save is a new origin's, and B takes it.
            let status = try json(da, ["status"]) as? [String: Any]
            let author = try #require((status?["signing_as"] as? String)?.split(separator: " ").first.map(String.init))
            #expect(author != a.id)
            folder.write("\(aw)/bai-2.txt", "Bài 2, sau khi hai chuỗi gặp nhau.\n")
            try waitUntil(timeout: .seconds(20), "A's save after the fork at B") { folder.read("\(bw)/bai-2.txt") == "Bài 2, sau khi hai chuỗi gặp nhau.\n" }
            #expect(try entries(db, origin: author).count == 1)
            #expect(try entries(da, origin: a.id) == entries(db, origin: a.id), "nothing more signed on either chain")

            // A restart keeps the new key, and the two, holding both chains, send neither again.
            #expect(da.terminate() == 0)
            let earlier = da.log.utf8.count
            da = try DaemonProcess(watch: a.watch, data: a.data, extra: flags)
            try da.waitUntilReady(timeout: .seconds(30))
            try waitUntil(timeout: .seconds(20), "connected again") {
                ((try json(da, ["status"]) as? [String: Any])?["peers"] as? [[String: Any]])?.first?["connected"] as? Bool == true
            }
            Thread.sleep(forTimeInterval: 1)  // the session's first exchange, logged within milliseconds of connecting
            let restarted = String(decoding: Array(da.log.utf8).dropFirst(earlier), as: UTF8.self)
            #expect(restarted.contains("connected to peer"), "\(restarted)")
            #expect(!restarted.contains("holds another chain") && !restarted.contains("sent another chain"), "\(restarted)")
            #expect(((try json(da, ["status"]) as? [String: Any])?["signing_as"] as? String)?.hasPrefix(author) == true)
            #expect(try da.ctl(["verify"]).status == 0)
        }
    }
}
