import Foundation
import Testing
import TestSupport
@testable import NewsDaemon
@testable import Store
import SyncProtocol

/// A model-based property test of the folder-and-log state machine across three sites in this
/// process: random interleavings of local saves, deletes and renames, deliveries of all or part of
/// a backlog, saves landing exactly at the folder writer's swap, writes that fail (a folder stands
/// where the file goes), a watched folder that vanishes and returns, and restarts.
///
/// After quiescence: every byte string an editor saved is in every log, heads are identical on
/// every site, each folder holds each article's winner, and `verify` passes. Seeded and
/// reproducible; `NEWSD_MODEL_STEPS` runs longer (the torture run uses it).
@Suite struct FolderAndLogModelTests {
    static let articles = ["tin.txt", "thoi-su/hop.txt", "Hà Nội.txt", "da-nang/bao.txt", "xa-hoi.txt"]
    static let steps = Int(ProcessInfo.processInfo.environment["NEWSD_MODEL_STEPS"] ?? "") ?? 250

    @Test(arguments: [1, 2, 3, 4] as [UInt64]) func invariantsHoldAfterAnyInterleaving(seed: UInt64) async throws {
        let folder = TemporaryFolder("model")
        let sites = [try InProcessSite("a", in: folder), try InProcessSite("b", in: folder), try InProcessSite("c", in: folder)]
        var random = SeededRandom(seed: seed)
        var saved: [(article: String, text: String)] = []
        var away = Set<Int>()
        var obstacles: [(site: Int, article: String)] = []
        var counter = 0
        var trace: [String] = []

        func fresh(_ site: Int) -> String {
            counter += 1
            return "bản \(counter) của \(sites[site].name): " + String(repeating: "chữ ", count: Int(random.next() % 20))
        }
        func blocked(_ site: Int, _ article: String) -> Bool {
            obstacles.contains { $0.site == site && $0.article == article }
        }

        for step in 0..<Self.steps {
            let s = Int(random.next() % 3)
            let site = sites[s]
            let article = Self.articles[Int(random.next() % UInt64(Self.articles.count))]
            let roll = random.next() % 100
            switch roll {
            case 0..<30 where !away.contains(s) && !blocked(s, article):
                let text = fresh(s)
                site.save(article, text)
                saved.append((article, text))
                try await site.site.ingest(paths: [article])
                trace.append("\(step) \(site.name) save \(article)")
            case 30..<38 where !away.contains(s) && site.read(article) != nil:
                try FileManager.default.removeItem(atPath: site.path(article))
                try await site.site.ingest(paths: [article])
                trace.append("\(step) \(site.name) delete \(article)")
            case 38..<43 where !away.contains(s) && site.read(article) != nil:
                let target = Self.articles[Int(random.next() % UInt64(Self.articles.count))]
                guard target != article, site.read(target) == nil, !blocked(s, target) else { continue }
                try FileManager.default.createDirectory(atPath: (site.path(target) as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                #expect(rename(site.path(article), site.path(target)) == 0)
                try await site.site.ingest(paths: [article, target])
                trace.append("\(step) \(site.name) rename \(article) -> \(target)")
            case 43..<75:
                let to = (s + 1 + Int(random.next() % 2)) % 3
                let limit = random.next() % 3 == 0 ? Int(random.next() % 4) + 1 : Int.max
                try await site.send(to: sites[to], batch: Int(random.next() % 6) + 1, limit: limit)
                trace.append("\(step) \(site.name) -> \(sites[to].name) (limit \(limit))")
            case 75..<85 where !away.contains((s + 1) % 3):
                // An editor at the receiver saves the article at the instant it is swapped in.
                let to = (s + 1) % 3
                let receiver = sites[to]
                let text = fresh(to)
                let racing = Racing()
                await receiver.site.setBeforeSwap { path in
                    guard racing.take(), receiver.save(path, text) else { return }
                    racing.record(path)
                }
                try await site.send(to: receiver)
                await receiver.site.setBeforeSwap(nil)
                if let path = racing.path, let written = try? ArticlePath(path) {
                    saved.append((written.rawValue, text))
                    trace.append("\(step) \(site.name) -> \(receiver.name) with a save of \(path) at the swap")
                }
            case 85..<89 where !away.contains(s) && (try? FileSystem.lstat(site.path(article))) == nil:
                // A folder where the file goes: writes of this article fail until it is gone.
                try FileManager.default.createDirectory(atPath: site.path(article), withIntermediateDirectories: true)
                obstacles.append((s, article))
                trace.append("\(step) \(site.name) obstacle at \(article)")
            case 89..<92 where !obstacles.isEmpty:
                let obstacle = obstacles.removeFirst()
                try FileManager.default.removeItem(atPath: sites[obstacle.site].path(obstacle.article))
                try await sites[obstacle.site].site.retryOwedWrites(all: true)
                trace.append("\(step) \(sites[obstacle.site].name) obstacle at \(obstacle.article) removed")
            case 92..<95:
                if away.contains(s) {
                    #expect(rename(site.root + "/away", site.watch) == 0)
                    away.remove(s)
                    try await site.site.scanAll()
                    trace.append("\(step) \(site.name) folder back")
                } else if obstacles.allSatisfy({ $0.site != s }) {
                    #expect(rename(site.watch, site.root + "/away") == 0)
                    away.insert(s)
                    try await site.site.scanAll()
                    trace.append("\(step) \(site.name) folder away")
                }
            case 95..<100 where !away.contains(s):
                try await site.restart()
                trace.append("\(step) \(site.name) restart")
            default:
                continue
            }
        }

        // Quiescence: obstacles cleared, folders back, everything delivered everywhere.
        for obstacle in obstacles { try FileManager.default.removeItem(atPath: sites[obstacle.site].path(obstacle.article)) }
        for s in away {
            #expect(rename(sites[s].root + "/away", sites[s].watch) == 0)
            try await sites[s].site.scanAll()
        }
        for _ in 0..<4 {
            var moved = 0
            for site in sites { try await site.site.retryOwedWrites(all: true) }
            for from in sites { for to in sites where to !== from { moved += try await from.send(to: to) } }
            if moved == 0 { break }
        }

        let context = "seed \(seed); last steps:\n" + trace.suffix(25).joined(separator: "\n")
        let heads = try await sites[0].heads()
        for site in sites.dropFirst() {
            #expect(try await site.heads() == heads, "\(site.name)'s heads differ from a's; \(context)")
        }
        for (article, text) in saved {
            for site in sites {
                #expect(try await site.logHolds(article, text), "\(site.name) lacks a save of \(article): \(text.prefix(24)); \(context)")
            }
        }
        for site in sites {
            for article in heads.keys {
                let winner = try await site.site.show(ShowRequest(article: article.rawValue, version: .head))
                let onDisk = site.read(article.rawValue)
                if winner.info.op == "put" {
                    #expect(onDisk == String(decoding: winner.content, as: UTF8.self), "\(site.name)/\(article) is not its winner; \(context)")
                } else {
                    #expect(onDisk == nil, "\(site.name)/\(article) should be deleted; \(context)")
                }
            }
            #expect(try await site.site.verify().problems.isEmpty, "\(site.name): \(context)")
            let temps = try site.leftoverTemps()
            #expect(temps.isEmpty, "\(site.name) left temp files \(temps); \(context)")
        }
    }
}

/// Lets one swap in a delivery be raced, and remembers which article it was.
final class Racing: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = false
    private var recorded: String?

    var path: String? { lock.withLock { recorded } }
    func take() -> Bool { lock.withLock { defer { taken = true }; return !taken } }
    func record(_ path: String) { lock.withLock { recorded = path } }
}
