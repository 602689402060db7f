import Foundation
import SyncProtocol

extension SiteLog {
    /// The first start after `newsd restore-backup`: see `restoredFromBackup`.
    public func markRestoredFromBackup() { restoredFromBackup = true }

    /// The start-up reconcile after a restore is done: later starts are ordinary again.
    public func finishRestore() {
        guard restoredFromBackup, folderState == .ok else { return }
        restoredFromBackup = false
        if unlink(DataFolder(path: settings.dataDir).restoredMarkerPath) == 0 || errno == ENOENT {
            FileSystem.syncDirectory(settings.dataDir)
            logger.notice("restore from backup complete: the folder is in step with the log")
        }
    }

    /// After a restore from backup that could not catch up with every peer, signs local entries
    /// with a new key from now on (kept as `author.key`): a peer not reached may hold entries this
    /// site signed after the backup was made, and an entry signed with the site key at the same
    /// place in its chain would fork it, refused by that peer for good. A new origin forks nothing:
    /// the old chain comes back from the peers whenever they are reached, and edits made meanwhile
    /// meet it as ordinary concurrent versions (a conflict where both changed an article). Once per
    /// restore: a later start that also misses a peer keeps the key made for this restore.
    @discardableResult
    public func signAnewAfterRestore(because reason: String) throws -> SiteID? {
        let folder = DataFolder(path: settings.dataDir)
        guard restoredFromBackup || folder.wasRestored || logBehindMarker else { return nil }
        if !logBehindMarker, let made = try folder.loadAuthorKey(), let restoredAt = folder.restoredAt,
           made.madeAt >= restoredAt.addingTimeInterval(-1) {
            return nil
        }
        let author = try signAnew()
        let how = logBehindMarker ? "started on a data folder older than its last run" : "restored from a backup"
        let why = "\(how) and \(reason): this site's entries are signed as \(author.siteID) from now on, so none can fork "
            + "the chain of \(key.siteID) a peer may hold; that chain comes back whenever the peers are reached"
        logger.notice("\(why)")
        return author.siteID
    }

    /// The watched folder's marker shows the log behind this site's last run: see `ChainMarker`.
    public func markLogBehindMarker() { logBehindMarker = true }

    /// Writes the watched folder's marker when this site's own chain has moved; never while the
    /// log is behind the marker (that would erase the evidence before the peers have answered).
    public func updateChainMarker() {
        guard let tip = try? log.chainTip(of: signer.siteID)?.sequence, tip > 0 else { return }
        if let marked = markedSequence, marked.origin == signer.siteID, marked.sequence == tip { return }
        if let existing = ChainMarker.read(watchDir: settings.watchDir), existing.site == key.siteID, existing.origin == signer.siteID,
           existing.sequence > tip {
            return
        }
        if ChainMarker(site: key.siteID, origin: signer.siteID, sequence: tip).write(watchDir: settings.watchDir) {
            markedSequence = (signer.siteID, tip)
        }
    }

    /// `status`: the origin this site's new entries carry, when it is not the site's own ID.
    public var signingAs: String? {
        guard signer.siteID != key.siteID else { return nil }
        if forkedOwnChain || log.besideCount(of: key.siteID) > 0 { return "\(signer.siteID) (a peer held entries of this site's chain this log lacked: it ran on an older copy; see docs/RELIABILITY.md)" }
        // Kept across restarts in `author.key`: a restore that could not reach every peer, or a
        // second chain of this site's found since, made it.
        return "\(signer.siteID) (this site ran on an older copy of its log, restored or put back, and signs anew so it cannot fork its chain; see docs/RELIABILITY.md)"
    }

    /// Whether status should say "rejoining", with the catch-up so far.
    public var rejoinState: String? {
        guard let rejoin, rejoin.isRejoining else { return nil }
        return rejoin.progress.summary
    }
}
