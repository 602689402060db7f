import Foundation
import Glibc
import SyncProtocol

/// A site's data folder: its identity key, its log, and the lock that keeps a second newsd out.
public struct DataFolder: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var keyPath: String { path + "/site.key" }
    public var logPath: String { path + "/log.sqlite" }
    public var lockPath: String { path + "/newsd.lock" }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Creates the folder (0700) if missing.
    public func create() throws {
        try FileSystem.makeDirectories(path, mode: 0o700)
    }

    /// The site's key, made on first use and kept with mode 0600.
    public func loadOrCreateKey() throws -> SiteKey {
        if let existing = try loadKey() { return existing }
        let key = SiteKey()
        try save(key, to: keyPath)
        return key
    }

    /// Writes a key so a crash leaves no key or the whole one (0600).
    func save(_ key: SiteKey, to keyPath: String) throws {
        try FileSystem.replaceDurably(Array(key.pem.utf8), at: keyPath, mode: 0o600)
    }

    /// The site's key if it exists. A key readable by others is tightened to 0600.
    public func loadKey() throws -> SiteKey? { try loadKey(at: keyPath) }

    func loadKey(at keyPath: String) throws -> SiteKey? {
        guard let st = try? FileSystem.lstat(keyPath) else { return nil }
        guard st.kind == .file else { throw Failure(description: "\(keyPath) is not a regular file") }
        var raw = stat()
        if stat(keyPath, &raw) == 0, raw.st_mode & 0o077 != 0 { chmod(keyPath, 0o600) }
        let pem: String
        do { pem = try String(contentsOfFile: keyPath, encoding: .utf8) } catch {
            throw Failure(description: "cannot read the site key \(keyPath): \(error.localizedDescription)")
        }
        do { return try SiteKey(pem: pem) } catch {
            throw Failure(description: "\(keyPath) is not a P-256 private key in PEM form: \(error)")
        }
    }

    /// Holds an exclusive lock on the data folder for the life of the process.
    public func lock() throws -> DataFolderLock {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileSystemError("open", lockPath) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var holder = [UInt8](repeating: 0, count: 32)
            let n = read(fd, &holder, holder.count)
            close(fd)
            let pid = n > 0 ? String(decoding: holder.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            throw Failure(description: "another newsd (pid \(pid)) is already running with data folder \(path)")
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return DataFolderLock(fd: fd)
    }
}

/// The held lock; released when the process exits (the kernel drops flock locks with the descriptor).
public struct DataFolderLock: Sendable {
    let fd: Int32
}

extension DataFolder {
    /// Left by `newsd restore-backup`: the next start treats the folder as possibly older than the
    /// log (missing files are written back, not deleted) and waits for its peers. Removed after
    /// that start's reconcile.
    public var restoredMarkerPath: String { path + "/restored-from-backup" }
    public var wasRestored: Bool { access(restoredMarkerPath, F_OK) == 0 }

    /// Left by a clean stop with the folder in step with the log (see `InStepMark`); taken at start.
    public var inStepMarkPath: String { path + "/folder-in-step" }

    /// The key this site signs its entries with when it is not the site key: made when a site
    /// restored from a backup could not catch up with every peer (see `SiteLog.signAnew`).
    public var authorKeyPath: String { path + "/author.key" }

    /// The author key, if one was made; when it was made.
    public func loadAuthorKey() throws -> (key: SiteKey, madeAt: Date)? {
        guard let key = try loadKey(at: authorKeyPath) else { return nil }
        var st = stat()
        let made = stat(authorKeyPath, &st) == 0 ? Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec)) : Date()
        return (key, made)
    }

    /// When `newsd restore-backup` left its marker, if it did.
    public var restoredAt: Date? {
        var st = stat()
        guard stat(restoredMarkerPath, &st) == 0 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec) + TimeInterval(st.st_mtim.tv_nsec) / 1e9)
    }
}
