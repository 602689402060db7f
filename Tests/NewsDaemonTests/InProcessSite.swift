import Foundation
import Logging
import TestSupport
@testable import NewsDaemon
@testable import Store
import SyncProtocol

/// One site in this process: a watched folder, a log and a key, with replication done by handing
/// entries straight to `applyRemote` (no sockets, no timing). Restartable: the log is reopened
/// from its file, as a new process would.
final class InProcessSite: @unchecked Sendable {
    let name: String
    let root: String
    let key = SiteKey()
    private(set) var site: SiteLog
    let settings: SiteSettings

    init(_ name: String, in folder: TemporaryFolder, settings adjust: (inout SiteSettings) -> Void = { _ in }) throws {
        self.name = name
        root = folder.sub(name)
        try FileManager.default.createDirectory(atPath: root + "/w", withIntermediateDirectories: true)
        var settings = SiteSettings(siteName: name, watchDir: root + "/w", dataDir: root, massDeleteMinimum: 1_000_000)
        adjust(&settings)
        self.settings = settings
        site = SiteLog(log: try ArticleLog(path: root + "/log.sqlite"), key: key, settings: settings,
                       logger: Logger(label: "site-\(name)"))
    }

    var watch: String { root + "/w" }
    func path(_ article: String) -> String { watch + "/" + article }

    /// A new `SiteLog` over the same files, as after a restart (a start-up scan included).
    func restart() async throws {
        site = SiteLog(log: try ArticleLog(path: root + "/log.sqlite"), key: key, settings: settings, logger: Logger(label: "site-\(name)"))
        try await site.scanAll(startUp: true)
        try await site.checkoutOutOfStep()
    }

    /// An editor's save: a new file written beside the article, then renamed over it. False when
    /// something other than a file stands there (a folder).
    @discardableResult
    func save(_ article: String, _ text: String) -> Bool {
        let full = path(article)
        try? FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let temp = (full as NSString).deletingLastPathComponent + "/.editor-\(UInt32.random(in: 0...UInt32.max))~"
        writeFile(temp, text)
        guard rename(temp, full) == 0 else {
            unlink(temp)
            return false
        }
        return true
    }

    /// An editor's save, then the ingest the watcher would trigger.
    func saveAndRecord(_ article: String, _ text: String) async throws {
        save(article, text)
        try await site.ingest(paths: [article])
    }

    /// newsd's temp files left anywhere in the folder.
    func leftoverTemps() throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: watch).filter { $0.contains(".newsd-") }
    }

    func read(_ article: String) -> String? {
        (try? Data(contentsOf: URL(fileURLWithPath: path(article)))).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Sends `other` everything this site holds that it lacks, in batches of `batch` entries.
    @discardableResult
    func send(to other: InProcessSite, batch: Int = 512, limit: Int = .max) async throws -> Int {
        let vector = await other.site.versionVector()
        let positions = Array(try await site.backlog(for: vector).positions.prefix(limit))
        var sent = 0
        var index = 0
        while index < positions.count {
            let slice = positions[index..<min(index + batch, positions.count)]
            index += batch
            let entries = try await site.entries(at: slice).map(\.1)
            var blobs: [ContentHash: StoredBlob] = [:]
            var keys: [SiteID: SiteKey.Public] = [:]
            for entry in entries {
                if let hash = entry.contentHash, blobs[hash] == nil { blobs[hash] = try await site.storedBlob(hash) }
                if keys[entry.origin] == nil { keys[entry.origin] = try await site.publicKey(of: entry.origin) }
            }
            let result = try await other.site.applyRemote(entries, blobs: blobs, keys: keys)
            if let rejection = result.rejection { throw rejection }
            sent += result.stored.count
        }
        return sent
    }

    /// Every article's heads, as version IDs.
    func heads() async throws -> [ArticlePath: Set<VersionID>] { try await site.allHeads() }

    /// Whether some entry of `article` carries exactly `text`, with its blob.
    func logHolds(_ article: String, _ text: String) async throws -> Bool {
        try await site.holds(ArticlePath(article), ContentHash.of(Array(text.utf8)))
    }
}
