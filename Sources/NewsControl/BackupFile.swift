import Crypto
import Foundation
import Glibc

/// The file `newsctl backup` writes: made beside its final name (`FILE.partial`, never over
/// another file), fsynced, read back and checked against the SHA-256 newsd announced, then renamed
/// into place and its folder synced. Owned and placed by the user who ran newsctl.
public final class BackupFile {
    public let path: String
    let partial: String
    var fd: Int32 = -1
    var hasher = SHA256()

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `secret`: the backup holds the site key; the file is 0600 whatever the umask.
    public init(path: String, secret: Bool, replace: Bool) throws {
        self.path = path
        partial = path + ".partial"
        if !replace && access(path, F_OK) == 0 { throw Failure(description: "\(path) exists; give another name, or --force to replace it") }
        unlink(partial)
        fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0o600 : 0o640)
        guard fd >= 0 else { throw Failure(description: "cannot create \(partial): \(String(cString: strerror(errno)))") }
        if secret { fchmod(fd, 0o600) }
    }

    deinit {
        if fd >= 0 { close(fd); unlink(partial) }
    }

    public func write(_ bytes: ArraySlice<UInt8>) throws {
        hasher.update(data: Array(bytes))
        var rest = bytes
        while !rest.isEmpty {
            let n = rest.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "cannot write \(partial): \(String(cString: strerror(errno)))")
            }
            rest = rest.dropFirst(n)
        }
    }

    /// Syncs, re-reads and checks the file, then puts it in place.
    public func finish(expectedSHA256: String, bytes: Int64) throws {
        let written = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        guard written == expectedSHA256 else { throw Failure(description: "the backup's bytes do not match what newsd sent (SHA-256 \(written), expected \(expectedSHA256))") }
        guard fsync(fd) == 0 else { throw Failure(description: "cannot sync \(partial): \(String(cString: strerror(errno)))") }
        close(fd)
        fd = -1
        // Read back from the file system: what is on disk is what is checked.
        let reread = try Self.sha256(of: partial)
        guard reread.hash == expectedSHA256, reread.bytes == bytes else {
            unlink(partial)
            throw Failure(description: "\(partial) read back does not match what was written (SHA-256 \(reread.hash), \(reread.bytes) bytes)")
        }
        guard rename(partial, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(partial)
            throw Failure(description: "cannot rename \(partial) to \(path): \(why)")
        }
        let folder = (path as NSString).deletingLastPathComponent
        let dir = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { fsync(dir); close(dir) }
    }

    public static func sha256(of path: String) throws -> (hash: String, bytes: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            hasher.update(data: buffer[..<n])
            total += Int64(n)
        }
        return (hasher.finalize().map { String(format: "%02x", $0) }.joined(), total)
    }
}
