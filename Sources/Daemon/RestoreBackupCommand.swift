import ArgumentParser
import Foundation
import Glibc
import NewsDaemon
import Store
import SyncProtocol

/// Puts a `newsctl backup` in place as the data folder's log, with newsd stopped. The log it
/// replaces is kept (moved into `before-restore-<time>/`, never deleted); the next start writes
/// back what the folder lacks and takes this site's later entries back from its peers first.
struct RestoreBackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-backup",
        abstract: "Put a backup made by `newsctl backup` in place as the data folder's log (newsd stopped).")

    @Argument(help: ArgumentHelp("The backup file.", valueName: "FILE"))
    var file: String

    @OptionGroup var common: DataOption

    func run() throws {
        let config = try DaemonConfig.resolve(configFile: common.config, overrides: .init(data: common.data))
        let folder = DataFolder(path: config.dataDir)
        try folder.create()
        let lock: DataFolderLock
        do { lock = try folder.lock() } catch {
            throw ValidationError("\(error): stop it first (`systemctl stop newsd`)")
        }
        let contents: LogBackup.Contents
        do { contents = try LogBackup.contents(of: file) } catch { throw ValidationError("\(error)") }

        // The key: the one in the folder must be the backup's site's; or the backup carries it.
        let existing = try folder.loadKey()
        var keyToWrite: String?
        if let existing {
            guard existing.siteID == contents.site else {
                throw ValidationError("the backup is of site \(contents.site), but \(folder.keyPath) is the key of \(existing.siteID): "
                    + "restore into the data folder of the site it was made at (or an empty one)")
            }
        } else if let pem = contents.keyPEM {
            guard (try? SiteKey(pem: pem))?.siteID == contents.site else { throw ValidationError("the key in the backup is not site \(contents.site)'s") }
            keyToWrite = pem
        } else {
            throw ValidationError("\(folder.keyPath) is missing and the backup has no key (made without --with-key): "
                + "put site \(contents.site)'s key there (from where you keep it) and run this again")
        }

        // Copied beside the log, made a log and verified before anything is moved.
        let incoming = folder.logPath + ".restoring"
        unlink(incoming)
        let copied = try run("/bin/cp", ["--", file, incoming])
        guard copied == 0 else { throw ValidationError("cannot copy \(file) into \(config.dataDir)") }
        let report: VerifyReport
        do { report = try LogBackup.prepareForUse(incoming) } catch {
            unlink(incoming)
            throw ValidationError("the backup cannot be used: \(error)")
        }
        guard report.problems.isEmpty else {
            unlink(incoming)
            throw ValidationError("the backup does not verify: \(report.problems.prefix(5).joined(separator: "; "))")
        }

        // The marker and the key first: a crash from here on leaves a folder whose next start is
        // patient (and, with the key in place, the same site), whichever log it finds.
        if let keyToWrite { try write(keyToWrite, to: folder.keyPath, mode: 0o600) }
        try write("restored from \(file), made \(contents.madeMillis) ms since 1970 by newsd \(contents.newsdVersion)\n", to: folder.restoredMarkerPath, mode: 0o600)

        // The log it replaces, its write-ahead log folded in first, kept whole.
        var keptIn: String?
        if access(folder.logPath, F_OK) == 0 {
            guard try LogBackup.checkpointAndClose(folder.logPath) else {
                throw ValidationError("\(folder.logPath)-wal is still there after a checkpoint: is another process using the log?")
            }
            let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
            let kept = config.dataDir + "/before-restore-" + stamp
            try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            for suffix in ["", "-wal", "-shm"] where access(folder.logPath + suffix, F_OK) == 0 {
                guard rename(folder.logPath + suffix, kept + "/log.sqlite" + suffix) == 0 else {
                    throw ValidationError("cannot move \(folder.logPath + suffix) aside: \(String(cString: strerror(errno)))")
                }
            }
            FileSystem.syncDirectory(kept)
            keptIn = kept
        }
        for suffix in ["-wal", "-shm"] { unlink(incoming + suffix) }
        guard rename(incoming, folder.logPath) == 0 else { throw ValidationError("cannot put the backup in place: \(String(cString: strerror(errno)))") }
        matchOwner(of: config.dataDir, paths: [folder.logPath, folder.keyPath, folder.restoredMarkerPath, folder.lockPath, keptIn].compactMap { $0 })
        FileSystem.syncDirectory(config.dataDir)
        withExtendedLifetime(lock) {}

        let made = Date(timeIntervalSince1970: Double(contents.madeMillis) / 1000)
        print("restored site \(contents.site) from \(file) (made \(ISO8601DateFormatter().string(from: made))): \(report.entries) log entries, verified")
        if let keptIn { print("the log it replaced is kept in \(keptIn)") }
        if keyToWrite != nil { print("the site key was taken from the backup into \(folder.keyPath) (0600)") }
        print("start newsd: before recording anything local it takes back from its peers what this site saved after the backup; files missing from the folder are written back, not deleted")
    }

    private func run(_ tool: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    private func write(_ text: String, to path: String, mode: mode_t) throws {
        do { try FileSystem.replaceDurably(Array(text.utf8), at: path, mode: mode) } catch {
            throw ValidationError("cannot write \(path): \(error)")
        }
    }

    /// Run as root for a data folder owned by newsd: what it wrote gets the folder's owner.
    private func matchOwner(of folder: String, paths: [String]) {
        var st = stat()
        guard stat(folder, &st) == 0, geteuid() == 0 else { return }
        // lchown: a symlink planted in the folder is not followed.
        for path in paths { lchown(path, st.st_uid, st.st_gid) }
        if let kept = paths.first(where: { $0.contains("/before-restore-") }),
           let names = try? FileManager.default.contentsOfDirectory(atPath: kept) {
            for name in names { lchown(kept + "/" + name, st.st_uid, st.st_gid) }
        }
    }
}
