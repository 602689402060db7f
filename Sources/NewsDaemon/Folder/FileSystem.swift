import Foundation
import Glibc

/// The file metadata newsd compares to decide whether a file changed.
public struct FileStat: Sendable, Equatable {
    public enum Kind: Sendable { case file, directory, symlink, other }
    public var kind: Kind
    public var size: Int64
    public var mtimeNanos: Int64
    public var ctimeNanos: Int64
    public var inode: UInt64
    public var device: UInt64
    /// Who owns the file: an editor's save (temp file and rename) makes one owned by that editor.
    public var owner: uid_t

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        size = Int64(st.st_size)
        mtimeNanos = Self.nanoseconds(st.st_mtim)
        ctimeNanos = Self.nanoseconds(st.st_ctim)
        inode = UInt64(st.st_ino)
        device = UInt64(st.st_dev)
        owner = st.st_uid
    }

    /// Saturates instead of trapping: a file stamped past 2262 (`touch -d 2300-01-01`) is still a file.
    static func nanoseconds(_ time: timespec) -> Int64 {
        let (product, overflow) = Int64(time.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return time.tv_sec < 0 ? .min : .max }
        let (sum, overflowed) = product.addingReportingOverflow(Int64(time.tv_nsec))
        return overflowed ? .max : sum
    }
}

/// A system call that failed, with the path and the errno text.
public struct FileSystemError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let path: String
    public let errno: Int32

    public init(_ operation: String, _ path: String, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
    public var isNotFound: Bool { errno == ENOENT || errno == ENOTDIR }
    public var isPermission: Bool { errno == EACCES || errno == EPERM }
    public var isDiskFull: Bool { errno == ENOSPC || errno == EDQUOT }
}

/// Thin wrappers over the calls the folder code needs, returning errors instead of errno.
public enum FileSystem {
    public static func lstat(_ path: String) throws(FileSystemError) -> FileStat {
        var st = Glibc.stat()
        guard Glibc.lstat(path, &st) == 0 else { throw FileSystemError("lstat", path) }
        return FileStat(st)
    }

    /// `lstat` of `name` in an open directory: the kernel does not walk the whole path again for
    /// every file of a scan (path lookups were the largest part of a restart's scan). `path` is for
    /// errors, made only for one.
    public static func lstat(_ name: String, in directory: Int32, path: @autoclosure () -> String) throws(FileSystemError) -> FileStat {
        var st = Glibc.stat()
        guard fstatat(directory, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            let code = errno
            throw FileSystemError("lstat", path(), errno: code)
        }
        return FileStat(st)
    }

    public static func stat(_ path: String) throws(FileSystemError) -> FileStat {
        var st = Glibc.stat()
        guard fstatat(AT_FDCWD, path, &st, 0) == 0 else { throw FileSystemError("stat", path) }
        return FileStat(st)
    }

    public static func realpath(_ path: String) -> String? {
        guard let resolved = Glibc.realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Names in a directory, without `.` and `..`.
    public static func list(_ path: String) throws(FileSystemError) -> [String] {
        try entries(path).map(\.name)
    }

    /// Names of the folders in a directory, symlinks not followed. The directory entry's type says
    /// which they are on ext4, xfs and btrfs, so watching a tree needs no `lstat` per file.
    public static func subfolders(_ path: String) throws(FileSystemError) -> [String] {
        try entries(path).compactMap { entry in
            switch entry.type {
            case UInt8(DT_DIR): entry.name
            case UInt8(DT_UNKNOWN): (try? lstat(path + "/" + entry.name))?.kind == .directory ? entry.name : nil
            default: nil
            }
        }
    }

    private static let direntTypeOffset = MemoryLayout<dirent>.offset(of: \dirent.d_type)!
    private static let direntNameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!

    /// A directory's entries with the type `readdir` reports, without `.` and `..`.
    private static func entries(_ path: String) throws(FileSystemError) -> [(name: String, type: UInt8)] {
        guard let dir = opendir(path) else { throw FileSystemError("opendir", path) }
        defer { closedir(dir) }
        var entries: [(name: String, type: UInt8)] = []
        while let entry = readdir(dir) {
            // `readdir` returns records only `d_reclen` long, not `sizeof(dirent)`: copying the struct
            // (`entry.pointee`) reads past a short record and faults at a page boundary. Read the two
            // fields in place.
            let record = UnsafeRawPointer(entry)
            let type = record.load(fromByteOffset: direntTypeOffset, as: UInt8.self)
            let name = String(cString: (record + direntNameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { entries.append((name, type)) }
        }
        return entries
    }

    public struct Snapshot: Sendable {
        public var bytes: [UInt8]
        public var stat: FileStat
    }

    /// Reads a whole file and makes sure the bytes are one version of it: the file's size and times
    /// must be the same before and after the read, else it is read again (an editor still writing).
    /// `open` makes the descriptor each attempt reads (default: the path itself); `path` is for errors.
    /// `limit`: a file over this many bytes, or one that grows past it while read, throws
    /// `FileTooLarge` before more than that is held in memory.
    public static func readConsistently(_ path: String, attempts: Int = 4, limit: Int64? = nil,
                                        open opener: (() -> Int32)? = nil) throws -> Snapshot {
        var lastError: Error = FileSystemError("read", path, errno: EAGAIN)
        for attempt in 0..<attempts {
            let fd = opener?() ?? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
            guard fd >= 0 else { throw FileSystemError("open", path) }
            defer { close(fd) }
            var before = Glibc.stat()
            guard fstat(fd, &before) == 0 else { throw FileSystemError("fstat", path) }
            let expected = Int(before.st_size)
            if let limit, Int64(expected) > limit { throw FileTooLarge(size: Int64(expected)) }
            var bytes = [UInt8](repeating: 0, count: expected + 1)
            var total = 0
            while true {
                let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileSystemError("read", path)
                }
                if n == 0 { break }
                total += n
                if let limit, Int64(total) > limit { throw FileTooLarge(size: Int64(total)) }
                if total == bytes.count { bytes.append(contentsOf: repeatElement(0, count: max(4096, total))) }
            }
            bytes.removeSubrange(total...)
            var after = Glibc.stat()
            guard fstat(fd, &after) == 0 else { throw FileSystemError("fstat", path) }
            let stable = total == expected && after.st_size == before.st_size
                && after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec
                && after.st_ctim.tv_sec == before.st_ctim.tv_sec && after.st_ctim.tv_nsec == before.st_ctim.tv_nsec
            if stable { return Snapshot(bytes: bytes, stat: FileStat(after)) }
            lastError = FileSystemError("read (file kept changing)", path, errno: EAGAIN)
            usleep(UInt32(5_000 << attempt))
        }
        throw lastError
    }

    /// A file past the size limit: `size` is what was seen of it (at least).
    public struct FileTooLarge: Error, CustomStringConvertible {
        public let size: Int64
        public var description: String { "\(size) bytes or more" }
    }

    /// True for the temp names the folder writer makes (`FolderWriter.temporaryName`).
    public static func isTempName(_ name: String) -> Bool { name.hasPrefix(".newsd-") && name.hasSuffix(".tmp") }

    /// Writes all of `bytes` to `fd`, retrying short writes and interruptions.
    static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(FileSystemError) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("write", path)
            }
            written += n
        }
    }

    /// Replaces the file at `path` so that a crash leaves the old bytes or the new ones, never part:
    /// a temp file beside it (`.new`), written, fsynced, renamed over, then the folder fsynced. For
    /// the small files newsd keeps in its data folder (the key, the added peers, the restore marker).
    public static func replaceDurably(_ bytes: [UInt8], at path: String, mode: mode_t) throws(FileSystemError) {
        let temp = path + ".new"
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileSystemError("create", temp) }
        do throws(FileSystemError) {
            try writeAll(bytes, to: fd, path: temp)
            guard fsync(fd) == 0 else { throw FileSystemError("fsync", temp) }
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        guard close(fd) == 0 else {
            let failure = FileSystemError("close", temp)
            unlink(temp)
            throw failure
        }
        guard rename(temp, path) == 0 else {
            let failure = FileSystemError("rename", path)
            unlink(temp)
            throw failure
        }
        try syncDirectoryChecked((path as NSString).deletingLastPathComponent)
    }

    /// `syncDirectory`, saying whether the folder's entries reached the disk.
    static func syncDirectoryChecked(_ path: String) throws(FileSystemError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileSystemError("fsync", path) }
    }

    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(FileSystemError) {
        if (try? stat(path))?.kind == .directory { return }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try makeDirectories(parent, mode: mode) }
        guard mkdir(path, mode) == 0 || errno == EEXIST else { throw FileSystemError("mkdir", path) }
    }
}
