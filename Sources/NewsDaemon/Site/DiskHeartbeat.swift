import Foundation
import Glibc

/// A small write and sync in the data folder and a stat of the watched folder: a disk that has
/// started returning I/O errors is noticed even while nothing is saved (SQLite alone would not
/// touch it until the next change).
public enum DiskHeartbeat {
    public static let fileName = "heartbeat"

    /// Nil when both answered; else what failed, in a sentence.
    public static func beat(dataDir: String, watchDir: String, now: Date = Date()) -> String? {
        let path = dataDir + "/" + fileName
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 && (errno == ENOSPC || errno == EDQUOT) { return nil }
        guard fd >= 0 else { return "data folder \(dataDir): cannot open \(fileName): \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        // The same eight bytes in place each time: no allocation on most file systems.
        var stamp = UInt64(max(0, now.timeIntervalSince1970 * 1000)).littleEndian
        let written = withUnsafeBytes(of: &stamp) { pwrite(fd, $0.baseAddress, $0.count, 0) }
        // A full disk (or quota) is the ingest's to report, as "disk full"; not a failing disk.
        if written < 0 && (errno == ENOSPC || errno == EDQUOT) { return nil }
        guard written == 8 else {
            return "data folder \(dataDir): writing \(fileName) failed: \(written < 0 ? String(cString: strerror(errno)) : "short write")"
        }
        if fdatasync(fd) != 0 {
            if errno == ENOSPC || errno == EDQUOT { return nil }
            return "data folder \(dataDir): syncing \(fileName) failed: \(String(cString: strerror(errno)))"
        }
        var st = stat()
        // A missing watched folder is the folder state's to report; anything else here is the disk's.
        if stat(watchDir, &st) != 0, errno != ENOENT, errno != ENOTDIR {
            return "watched folder \(watchDir): stat failed: \(String(cString: strerror(errno)))"
        }
        return nil
    }
}
