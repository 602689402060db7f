import Crypto
import Foundation
import Glibc
import Synchronization
import Store
import SyncProtocol

/// `backup`: a verified copy of the log made in the data folder (the one place newsd may write
/// under its unit), streamed to newsctl after the response, and removed whatever happens.
enum ControlBackup {
    /// Copies in the data folder are named so; one left by a crash is removed at the next start.
    static let prefix = "backup-"
    static let suffix = ".sqlite.partial"

    /// Makes the copy off the site's thread (a large log takes seconds) and describes it.
    static func make(_ request: BackupRequest, site: SiteLog) async throws -> (BackupRequest.Response, path: String) {
        guard inProgress.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            throw ControlFailure(.unavailable, "a backup is being made already; try again when it is done")
        }
        var handedOver = false
        defer { if !handedOver { inProgress.store(false, ordering: .releasing) } }
        let settings = await site.settings
        let key = site.key
        let folder = DataFolder(path: settings.dataDir)
        let path = settings.dataDir + "/" + prefix + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))" + suffix
        // The copy is made beside the log: refused unless the data folder has room for it and as
        // much again, so a backup cannot fill the disk the editors' saves are recorded on.
        let logBytes = ((try? FileSystem.stat(folder.logPath))?.size ?? 0) + ((try? FileSystem.stat(folder.logPath + "-wal"))?.size ?? 0)
        var fs = statvfs()
        if statvfs(settings.dataDir, &fs) == 0 {
            let free = Int64(fs.f_bavail) * Int64(fs.f_frsize)
            guard free > 2 * logBytes else {
                throw ControlFailure(.unavailable, "not enough room in \(settings.dataDir) for the backup copy (made there first): \(free) bytes free, the log is \(logBytes)")
            }
        }
        let contents = LogBackup.Contents(site: key.siteID, madeMillis: UInt64(Date().timeIntervalSince1970 * 1000),
                                          newsdVersion: NewsdVersion.current, keyPEM: request.withKey ? key.pem : nil)
        let made: (BackupRequest.Response, path: String) = try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    do {
                        let (entries, articles) = try LogBackup.make(log: folder.logPath, to: path, contents: contents)
                        let (hash, bytes) = try sha256(of: path)
                        return (BackupRequest.Response(bytes: bytes, sha256: hash, entries: entries, articles: articles,
                                                       withKey: request.withKey, site: key.siteID.description), path)
                    } catch {
                        remove(path)
                        if let sqlite = error as? SQLiteError, sqlite.isDiskFull {
                            throw ControlFailure(.unavailable, "no room for the backup copy in \(settings.dataDir) (it is made there first): \(sqlite.message)")
                        }
                        throw ControlFailure(.unavailable, "the backup could not be made: \(error)")
                    }
                })
            }.start()
        }
        handedOver = true
        return made
    }

    /// Set while a copy exists: one backup at a time.
    static let inProgress = Atomic<Bool>(false)

    /// Removes a copy (and what SQLite may have left beside it) and allows the next backup.
    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
        inProgress.store(false, ordering: .releasing)
    }

    static func sha256(of path: String) throws -> (String, Int64) {
        var hasher = SHA256()
        var total: Int64 = 0
        let reader = try ChunkReader(path)
        while let chunk = try reader.next() {
            hasher.update(data: chunk)
            total += Int64(chunk.count)
        }
        return (hasher.finalize().map { String(format: "%02x", $0) }.joined(), total)
    }

    /// A file in chunks of `BackupRequest.chunkBytes`.
    final class ChunkReader {
        let fd: Int32
        let path: String
        var buffer = [UInt8](repeating: 0, count: BackupRequest.chunkBytes)

        init(_ path: String) throws {
            self.path = path
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw FileSystemError("open", path) }
        }

        deinit { close(fd) }

        func next() throws -> [UInt8]? {
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw FileSystemError("read", path) }
                return n == 0 ? nil : Array(buffer[..<n])
            }
        }
    }

    /// Copies a crash left in the data folder.
    static func removeLeftovers(in dataDir: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dataDir) else { return }
        for name in names where name.hasPrefix(prefix) && name.contains(suffix) { unlink(dataDir + "/" + name) }
    }
}
