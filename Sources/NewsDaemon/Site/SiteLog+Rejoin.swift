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

    /// Whether status should say "rejoining", with the catch-up so far.
    public var rejoinState: String? {
        guard let rejoin, rejoin.isRejoining else { return nil }
        return rejoin.progress.summary
    }
}
