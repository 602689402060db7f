import Foundation
import Store
import SyncProtocol

/// What a clean stop leaves in the data folder: the folder was in step with every head, as of the
/// log's last entry, under these folder settings. The next start that finds the log and settings
/// unchanged skips the out-of-step check, which only a crash between a commit and the folder's
/// write needs (at 100,000 articles, a join of every head with the scan cache).
struct InStepMark: Equatable, Sendable {
    var lastLocalSeq: Int64
    var lastVersion: String
    /// SHA-256 of what decides which articles the folder holds: its path, the size limit, the
    /// ignore patterns (other rules may make other names writable), the revoked sites (trusting
    /// one again moves heads without an entry), and the log's schema and newsd's version (a
    /// migration or another build may derive heads anew).
    var folderSettings: String

    static let tag = "newsd-in-step 1"

    var line: String { "\(Self.tag) \(lastLocalSeq) \(lastVersion) \(folderSettings)\n" }

    init(lastLocalSeq: Int64, lastVersion: String, folderSettings: String) {
        self.lastLocalSeq = lastLocalSeq
        self.lastVersion = lastVersion
        self.folderSettings = folderSettings
    }

    init?(line: String) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 5, "\(fields[0]) \(fields[1])" == Self.tag, let seq = Int64(fields[2]) else { return nil }
        self.init(lastLocalSeq: seq, lastVersion: fields[3], folderSettings: fields[4].trimmingCharacters(in: .newlines))
    }
}

extension SiteLog {
    func currentInStepMark() throws -> InStepMark {
        let seq = log.stats.lastLocalSeq
        let last = try log.entries(at: [seq]).first?.1
        let schema = try log.db.scalar("PRAGMA user_version") ?? 0
        var settingsText = "\(NewsdVersion.current)\0\(schema)\0\(settings.watchDir)\0\(settings.maximumFileBytes)"
        for pattern in settings.ignore.patterns { settingsText += "\0" + pattern }
        for (site, held) in log.revokedAt.sorted(by: { $0.key < $1.key }) { settingsText += "\0revoked \(site) \(held)" }
        return InStepMark(lastLocalSeq: seq, lastVersion: last?.version.hex ?? "-", folderSettings: ContentHash.of(Array(settingsText.utf8)).hex)
    }

    /// Nothing owed to the folder and nothing that could be: the start-up check ran, every write
    /// went through, no delete is held, no name is unwritable, no restore is being finished.
    var folderInStep: Bool {
        isReady && !folderMayLag && !hasProblems && pendingDeletes.isEmpty && unwritableNames.isEmpty && !rescanRequested && !checkoutDue
            && !restoredFromBackup && !logBehindMarker && rejoin?.isRejoining != true
    }

    /// At a clean stop, once every service has stopped (no session can append after it): leaves
    /// the mark if the folder is in step. A mark that cannot be written costs the next start the check.
    public func leaveInStepMark(at path: String) {
        guard folderInStep, let mark = try? currentInStepMark() else { return }
        do { try FileSystem.replaceDurably(Array(mark.line.utf8), at: path, mode: 0o600) } catch {
            logger.debug("no in-step mark left (\(error)); the next start checks every article against the folder")
        }
    }

    /// At open, before anything can append: takes the last stop's mark (removing it, so a crash in
    /// this run cannot reuse it) if it matches the log and settings as they are now.
    public func takeInStepMark(at path: String) {
        defer { unlink(path) }
        guard let bytes = try? FileSystem.readConsistently(path, limit: 4096).bytes, let mark = InStepMark(line: String(decoding: bytes, as: UTF8.self)),
              mark == (try? currentInStepMark()) else { return }
        inStepAtStart = (mark, log.headMoves)
    }

    /// The start-up check: skipped when the last run stopped in step and no head has moved since
    /// (the start-up scan found nothing new, no peer's entry arrived, no site was revoked).
    public func checkoutOutOfStepAtStartUp() throws {
        defer { inStepAtStart = nil }
        guard startUpCheckNeeded else {
            logger.debug("the folder was in step at the last stop and nothing moved since: no out-of-step check")
            return
        }
        try checkoutOutOfStep()
    }

    var startUpCheckNeeded: Bool {
        guard let start = inStepAtStart else { return true }
        return start.headMoves != log.headMoves || checkoutDue || folderMayLag || restoredFromBackup || logBehindMarker
            || (try? currentInStepMark()) != start.mark
    }
}
