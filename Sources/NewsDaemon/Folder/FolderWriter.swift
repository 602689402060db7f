import CShims
import Foundation
import Glibc
import SyncProtocol

/// Puts versions from other sites into the watched folder so that no save an editor left there is
/// ever lost, and nothing is written outside the folder.
///
/// - Every file appears whole: a temp file in the same folder, made durable with one `syncfs` for
///   the batch (an fsync per file caps a copy near 260 files/s here), then swapped in.
/// - Swapped, not renamed over: `renameat2(RENAME_EXCHANGE)` puts the new version in place and the
///   old file under the temp name in one step, so there is no moment at which an editor's save can
///   be overwritten unseen. The writer then reads what came out: the bytes newsd expected there are
///   removed; anything else is handed back as `Displaced` (an editor's save) and stays on disk until
///   the caller has recorded it. A removal moves the article aside and checks it the same way.
///   Where the file system lacks `RENAME_EXCHANGE`, the old file is moved aside and the new one
///   linked in (`linkat` fails rather than replace a file that appeared meanwhile), with the same
///   guarantee; `Outcome.scheme` says which ran.
/// - Beneath the folder: every path is opened component by component from the folder with
///   `O_NOFOLLOW`, so a symlinked subfolder (`pub -> /srv/www`) is an error, never a write elsewhere.
public struct FolderWriter: Sendable {
    public let root: String
    /// Called with each article path just before it is swapped in or moved aside: a test seam for
    /// a save that lands at that instant.
    let beforeSwap: (@Sendable (String) -> Void)?
    /// Whether to try `renameat2` at all: false runs the fallback scheme (for its tests).
    let useRenameat2: Bool
    /// Displaced files larger than this are kept, not read (a save that large is not an article).
    let maximumFileBytes: Int64
    /// The group and modes of what it writes.
    let ownership: FileOwnership

    public init(root: String, maximumFileBytes: Int64 = 64 << 20, ownership: FileOwnership = FileOwnership(),
                beforeSwap: (@Sendable (String) -> Void)? = nil, useRenameat2: Bool = true) {
        self.root = root
        self.ownership = ownership
        self.maximumFileBytes = maximumFileBytes
        self.beforeSwap = beforeSwap
        self.useRenameat2 = useRenameat2
    }

    private func noReplace(_ folder: Int32, _ from: String, _ to: String) -> Int32 {
        guard useRenameat2 else { errno = EINVAL; return -1 }
        return newsd_rename_noreplace(folder, from, folder, to)
    }

    private func exchange(_ folder: Int32, _ from: String, _ to: String) -> Int32 {
        guard useRenameat2 else { errno = EINVAL; return -1 }
        return newsd_rename_exchange(folder, from, folder, to)
    }

    public enum Change: Sendable {
        /// Put `bytes` (hashing to `hash`) at `path`; `expected` is the content newsd last saw there.
        case write(path: String, bytes: [UInt8], hash: ContentHash, expected: ContentHash?)
        /// Remove the file at `path`, which newsd last saw holding `expected`.
        case remove(path: String, expected: ContentHash?)

        public var path: String {
            switch self {
            case .write(let path, _, _, _), .remove(let path, _): path
            }
        }
    }

    /// How articles are swapped in.
    public enum Scheme: String, Sendable {
        /// `renameat2(RENAME_EXCHANGE)`: the new file and the old trade places atomically.
        case exchange
        /// No `RENAME_EXCHANGE` on this file system: the old file is moved aside, the new one linked in.
        case aside = "move aside and link"
    }

    /// Bytes found in an article's place that were not what newsd last saw there: a save it must
    /// record. They stay at `temp` (relative to the folder) until `discard` after recording.
    public struct Displaced: Sendable {
        public var path: String
        public var temp: String
        public var bytes: [UInt8]
        public var hash: ContentHash
        /// The file's owner and inode: see `SiteLog.saver(of:recordedInode:)`.
        public var owner: uid_t
        public var inode: UInt64
    }

    public struct Outcome: Sendable {
        /// Files put in place, with the state to cache: size and mtime as written (so a write into
        /// the file after the swap still looks changed), inode and ctime as swapped in.
        public var written: [String: FileStat] = [:]
        public var removed: [String] = []
        public var failed: [(path: String, error: FileSystemError)] = []
        public var displaced: [Displaced] = []
        /// What came out of an article's place but could not be read (or is too large): left on
        /// disk at `temp`, for the caller to keep listed and retry. Never removed unread.
        public var unread: [(path: String, temp: String, why: String)] = []
        /// Articles an editor replaced again between the swap and the look after it: the file now
        /// holds their save, which must not be taken as an edit of the incoming version.
        public var replacedAfterSwap: Set<String> = []
        public var scheme: Scheme = .exchange
    }

    /// Applies the changes in one durable batch. Never throws: each change is done or failed.
    public func apply(_ changes: [Change]) -> Outcome {
        withFolders { folders, rootFD in apply(changes, folders: &folders, rootFD: rootFD) } ?? Outcome(
            failed: changes.map { ($0.path, FileSystemError("open", root)) })
    }

    /// Runs `body` with the folder open and a table of the folders beneath it, all closed after;
    /// nil when the folder cannot be opened.
    private func withFolders<T>(_ body: (inout Folders, Int32) -> T) -> T? {
        let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { return nil }
        var folders = Folders(root: rootFD, ownership: ownership)
        defer { folders.closeAll(); close(rootFD) }
        return body(&folders, rootFD)
    }

    private func apply(_ changes: [Change], folders: inout Folders, rootFD: Int32) -> Outcome {
        var outcome = Outcome()

        struct Staged {
            var change: Change
            var folder: Int32
            var name: String
            var temp: String?
            var written: stat?
        }
        var staged: [Staged] = []
        for change in changes {
            do {
                switch change {
                case .write(let path, let bytes, _, _):
                    let (folder, name) = try folders.parent(of: path, under: root, create: true)
                    // Refused before anything is written or flushed: a retry of a write that cannot
                    // succeed costs a stat, not a temp file and two syncfs.
                    try Self.checkReplaceable(name, in: folder, path: root + "/" + path)
                    let temp = Self.temporaryName()
                    let fd = try Self.create(temp, in: folder, bytes: bytes, path: root + "/" + path, ownership: ownership)
                    var st = stat()
                    fstat(fd, &st)
                    close(fd)
                    staged.append(Staged(change: change, folder: folder, name: name, temp: temp, written: st))
                case .remove(let path, _):
                    guard let (folder, name) = try folders.parentIfPresent(of: path, under: root) else {
                        outcome.removed.append(path)
                        continue
                    }
                    try Self.checkReplaceable(name, in: folder, path: root + "/" + path)
                    staged.append(Staged(change: change, folder: folder, name: name, temp: nil, written: nil))
                }
            } catch {
                outcome.failed.append((change.path, error))
            }
        }
        guard !staged.isEmpty else { return outcome }
        Self.sync(rootFD)
        for item in staged {
            beforeSwap?(item.change.path)
            switch item.change {
            case .write(let path, _, let hash, let expected):
                swapIn(path: path, folder: item.folder, name: item.name, temp: item.temp!, written: item.written!,
                       recorded: [hash] + (expected.map { [$0] } ?? []), into: &outcome)
            case .remove(let path, let expected):
                moveOut(path: path, folder: item.folder, name: item.name, recorded: expected.map { [$0] } ?? [], into: &outcome)
            }
        }
        Self.sync(rootFD)
        return outcome
    }

    /// Removes a displaced file (`temp`, relative to the folder) once its bytes are in the log.
    public func discard(_ temp: String) {
        _ = withFolders { folders, _ in
            if let (folder, name) = try? folders.parentIfPresent(of: temp, under: root) { unlinkat(folder, name, 0) }
        }
    }

    // MARK: one article

    /// What stands at an article's place must be a regular file or nothing: newsd never replaces a
    /// folder or a symlink (whatever it points at stays where it is, unrecorded).
    static func checkReplaceable(_ name: String, in folder: Int32, path: String) throws(FileSystemError) {
        var current = stat()
        guard fstatat(folder, name, &current, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        switch current.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw FileSystemError("write (a folder stands where the article goes)", path, errno: EISDIR)
        case S_IFLNK: throw FileSystemError("write (a symlink stands where the article goes; newsd does not replace symlinks)", path, errno: ELOOP)
        default: throw FileSystemError("write (a special file stands where the article goes)", path, errno: EEXIST)
        }
    }

    private func swapIn(path: String, folder: Int32, name: String, temp: String, written: stat,
                        recorded: [ContentHash], into outcome: inout Outcome) {
        let full = root + "/" + path
        var displaced: [String] = []
        var placed = false
        var current = stat()
        if fstatat(folder, name, &current, AT_SYMLINK_NOFOLLOW) != 0 {
            if noReplace(folder, temp, name) == 0 {
                placed = true
            } else if errno == EINVAL || errno == ENOSYS {
                outcome.scheme = .aside
                if linkat(folder, temp, folder, name, 0) == 0 {
                    unlinkat(folder, temp, 0)
                    placed = true
                } else if errno != EEXIST {
                    // No hard links either (vfat, some FUSE): a plain rename, checked just before.
                    guard errno == EPERM || errno == EOPNOTSUPP || errno == EMLINK,
                          fstatat(folder, name, &current, AT_SYMLINK_NOFOLLOW) != 0, renameat(folder, temp, folder, name) == 0 else {
                        fail(path, FileSystemError("link", full), temp: temp, folder: folder, into: &outcome)
                        return
                    }
                    placed = true
                }
            } else if errno != EEXIST {
                fail(path, FileSystemError("rename", full), temp: temp, folder: folder, into: &outcome)
                return
            }
        }
        if !placed {
            if exchange(folder, temp, name) == 0 {
                // A folder made at that instant must not vanish under a temp name: trade back.
                var out = stat()
                if fstatat(folder, temp, &out, AT_SYMLINK_NOFOLLOW) == 0 && out.st_mode & S_IFMT != S_IFREG {
                    _ = exchange(folder, temp, name)
                    fail(path, FileSystemError("write (something other than a file appeared where the article goes)", full, errno: EISDIR),
                         temp: temp, folder: folder, into: &outcome)
                    return
                }
                displaced.append(temp)
            } else if errno == EINVAL || errno == ENOSYS {
                outcome.scheme = .aside
                // Move whatever stands there aside, then link ours in; a file that appears between
                // the two makes the link fail, and is moved aside in turn.
                for _ in 0..<8 {
                    let aside = Self.temporaryName()
                    if renameat(folder, name, folder, aside) == 0 {
                        displaced.append(aside)
                        // Only a file is moved aside: a folder or symlink made at that instant goes back.
                        if !Self.isRegularFile(aside, in: folder) {
                            if renameat(folder, aside, folder, name) == 0 { displaced.removeLast() }
                            break
                        }
                    } else if errno != ENOENT {
                        break
                    }
                    if linkat(folder, temp, folder, name, 0) == 0 {
                        unlinkat(folder, temp, 0)
                        placed = true
                        break
                    }
                    // No hard links on this file system (vfat, some FUSE): a rename, the place checked empty just before.
                    if errno == EPERM || errno == EOPNOTSUPP || errno == EMLINK, !Self.exists(name, in: folder),
                       renameat(folder, temp, folder, name) == 0 {
                        placed = true
                        break
                    }
                    guard errno == EEXIST else { break }
                }
                if !placed {
                    let error = FileSystemError("link", full)
                    // Put the last file moved aside back, so the article is never left missing; only
                    // into an empty place: a save that landed there meanwhile is never replaced.
                    if let last = displaced.last, !Self.exists(name, in: folder),
                       linkat(folder, last, folder, name, 0) == 0 || (!Self.exists(name, in: folder) && renameat(folder, last, folder, name) == 0) {
                        if Self.exists(last, in: folder) { unlinkat(folder, last, 0) }
                        displaced.removeLast()
                    }
                    fail(path, error, temp: temp, folder: folder, into: &outcome)
                    for aside in displaced { inspect(aside, in: folder, path: path, recorded: recorded, into: &outcome) }
                    return
                }
            } else {
                fail(path, FileSystemError("exchange", full), temp: temp, folder: folder, into: &outcome)
                return
            }
        }
        var after = stat()
        if fstatat(folder, name, &after, AT_SYMLINK_NOFOLLOW) == 0 && after.st_ino == written.st_ino {
            after.st_size = written.st_size
            after.st_mtim = written.st_mtim
            outcome.written[path] = FileStat(after)
        } else {
            // Replaced again already (an editor's save): caching what was written makes the next
            // look read it, and the caller keeps the old base, so that save is concurrent with ours.
            outcome.written[path] = FileStat(written)
            outcome.replacedAfterSwap.insert(path)
        }
        for name in displaced { inspect(name, in: folder, path: path, recorded: recorded, into: &outcome) }
    }

    private func moveOut(path: String, folder: Int32, name: String, recorded: [ContentHash], into outcome: inout Outcome) {
        let full = root + "/" + path
        var current = stat()
        guard fstatat(folder, name, &current, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { outcome.removed.append(path) } else { outcome.failed.append((path, FileSystemError("lstat", full))) }
            return
        }
        if current.st_mode & S_IFMT != S_IFREG {
            outcome.failed.append((path, FileSystemError("remove (something other than a file stands where the article was)", full, errno: EISDIR)))
            return
        }
        let aside = Self.temporaryName()
        guard renameat(folder, name, folder, aside) == 0 else {
            if errno == ENOENT { outcome.removed.append(path) } else { outcome.failed.append((path, FileSystemError("rename", full))) }
            return
        }
        // A folder or symlink made at that instant is not moved out of sight: it goes back.
        if !Self.isRegularFile(aside, in: folder) {
            renameat(folder, aside, folder, name)
            outcome.failed.append((path, FileSystemError("remove (something other than a file appeared where the article was)", full, errno: EISDIR)))
            return
        }
        outcome.removed.append(path)
        inspect(aside, in: folder, path: path, recorded: recorded, into: &outcome)
    }

    /// Looks at what came out of an article's place. Bytes the log holds (`recorded`) are removed;
    /// anything else is an editor's save, handed back and left on disk. What cannot be read (or is
    /// over the size limit) is left on disk too, listed as unread: never removed unread.
    private func inspect(_ name: String, in folder: Int32, path: String, recorded: [ContentHash], into outcome: inout Outcome) {
        let temp = Self.sibling(of: path, named: name)
        var st = stat()
        if fstatat(folder, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && Int64(st.st_size) > maximumFileBytes {
            outcome.unread.append((path, temp, "\(st.st_size) bytes, over the size limit"))
            return
        }
        let snapshot: FileSystem.Snapshot
        do {
            snapshot = try FileSystem.readConsistently(root + "/" + temp) { openat(folder, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) }
        } catch {
            outcome.unread.append((path, temp, "\(error)"))
            return
        }
        // A program that opened the article before the swap (an in-place save) may still be
        // writing into this file: keep it until nobody has it open for writing.
        if Self.stillBeingWritten(name, in: folder, since: snapshot.stat) {
            outcome.unread.append((path, temp, "is still open for writing by another program"))
            return
        }
        let hash = ContentHash.of(snapshot.bytes)
        if recorded.contains(hash) {
            unlinkat(folder, name, 0)
        } else {
            outcome.displaced.append(Displaced(path: path, temp: temp, bytes: snapshot.bytes, hash: hash, owner: snapshot.stat.owner, inode: snapshot.stat.inode))
        }
    }

    /// True when a writer holds the file open (a read lease is refused), or it changed since
    /// `read`. Where leases are not available (not the owner and no CAP_LEASE) only the change is seen.
    static func stillBeingWritten(_ name: String, in folder: Int32, since read: FileStat) -> Bool {
        // Fails closed: a file that cannot be looked at is taken as still being written (kept).
        let fd = openat(folder, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return errno != ENOENT }
        defer { close(fd) }
        if newsd_has_writers(fd) == 1 { return true }
        var now = stat()
        guard fstat(fd, &now) == 0 else { return true }
        let current = FileStat(now)
        return current.size != read.size || current.mtimeNanos != read.mtimeNanos || current.ctimeNanos != read.ctimeNanos
    }

    private func fail(_ path: String, _ error: FileSystemError, temp: String, folder: Int32, into outcome: inout Outcome) {
        unlinkat(folder, temp, 0)
        outcome.failed.append((path, error))
    }

    // MARK: helpers

    static func isRegularFile(_ name: String, in folder: Int32) -> Bool {
        var st = stat()
        return fstatat(folder, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mode & S_IFMT == S_IFREG
    }

    static func exists(_ name: String, in folder: Int32) -> Bool {
        var st = stat()
        return fstatat(folder, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT
    }

    /// What a kept file (`temp`, relative to the folder) holds now, read beneath the folder without
    /// following symlinks, refused before reading when it is not a regular file or is over the size
    /// limit, and only once no other program has it open for writing.
    public enum Kept: Sendable {
        case bytes([UInt8])
        /// Not readable yet (still being written, or a read error): try again later.
        case notYet(String)
        /// Gone, or replaced by something that is not a file within the limit: nothing to record.
        case gone(String)
    }

    public func readKept(_ temp: String) -> Kept {
        withFolders { folders, _ in readKept(temp, folders: &folders) } ?? .notYet("cannot open the folder")
    }

    private func readKept(_ temp: String, folders: inout Folders) -> Kept {
        let place: (Int32, String)?
        do { place = try folders.parentIfPresent(of: temp, under: root) } catch { return .gone("\(error)") }
        guard let (folder, name) = place else { return .gone("its folder is gone") }
        var st = stat()
        guard fstatat(folder, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return errno == ENOENT ? .gone("it was removed") : .notYet("cannot stat it") }
        guard st.st_mode & S_IFMT == S_IFREG else { return .gone("it is no longer a regular file") }
        guard Int64(st.st_size) <= maximumFileBytes else { return .gone("\(st.st_size) bytes, over the size limit") }
        let snapshot: FileSystem.Snapshot
        do {
            snapshot = try FileSystem.readConsistently(root + "/" + temp) { openat(folder, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) }
        } catch {
            return .notYet("\(error)")
        }
        guard Int64(snapshot.bytes.count) <= maximumFileBytes else { return .gone("over the size limit") }
        if Self.stillBeingWritten(name, in: folder, since: snapshot.stat) { return .notYet("still open for writing by another program") }
        return .bytes(snapshot.bytes)
    }

    static func temporaryName() -> String {
        ".newsd-" + String(UInt64.random(in: 0...UInt64.max), radix: 36) + ".tmp"
    }

    static func sibling(of path: String, named name: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return name }
        return String(path[...slash]) + name
    }

    /// Creates `name` in `folder` (it must not exist) and writes all of `bytes`; returns the open
    /// descriptor. On failure the file is removed and nothing is left open.
    static func create(_ name: String, in folder: Int32, bytes: [UInt8], path: String,
                       ownership: FileOwnership) throws(FileSystemError) -> Int32 {
        let fd = openat(folder, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileSystemError("create", path) }
        // Before the bytes and the swap: the file is never in place with another group or mode.
        ownership.apply(to: fd, isFolder: false)
        do { try FileSystem.writeAll(bytes, to: fd, path: path) } catch {
            close(fd)
            unlinkat(folder, name, 0)
            throw error
        }
        return fd
    }

    /// Flushes the file system holding the folder: file data before the swaps, then the swaps.
    static func sync(_ fd: Int32) { newsd_syncfs(fd) }

    /// Open folders beneath the root, by relative path, each opened from its parent with `O_NOFOLLOW`.
    struct Folders {
        let root: Int32
        let ownership: FileOwnership
        var open: [String: Int32] = [:]

        init(root: Int32, ownership: FileOwnership) {
            self.root = root
            self.ownership = ownership
        }

        mutating func closeAll() {
            for fd in open.values { close(fd) }
            open.removeAll()
        }

        /// The open folder holding `path` and the file's name in it; missing folders are made
        /// when `create`. A component that is a symlink or a file is an error.
        mutating func parent(of path: String, under rootPath: String, create: Bool) throws(FileSystemError) -> (Int32, String) {
            var components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            let name = components.removeLast()
            let folderPath = components.joined(separator: "/")
            if let known = open[folderPath] { return (known, name) }
            if components.isEmpty { return (root, name) }
            // Only the folder that holds the file stays open (one per folder a batch writes to);
            // the ones on the way are closed as soon as the next is open.
            var fd = root
            var prefix = ""
            defer { if fd != root && open[folderPath] != fd { close(fd) } }
            for component in components {
                prefix = prefix.isEmpty ? component : prefix + "/" + component
                var next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if next < 0 && errno == ENOENT && create {
                    let made = mkdirat(fd, component, ownership.folderCreationMode) == 0
                    guard made || errno == EEXIST else {
                        throw FileSystemError("mkdir", rootPath + "/" + prefix)
                    }
                    next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    if made && next >= 0 { ownership.apply(to: next, isFolder: true) }
                }
                guard next >= 0 else {
                    if errno == ELOOP || errno == ENOTDIR {
                        var st = stat()
                        let isLink = fstatat(fd, component, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mode & S_IFMT == S_IFLNK
                        throw FileSystemError(isLink ? "open (a symlink stands in the path; newsd does not write through symlinks)"
                                                     : "open (a file stands where a folder goes)",
                                              rootPath + "/" + prefix, errno: isLink ? ELOOP : ENOTDIR)
                    }
                    throw FileSystemError("open", rootPath + "/" + prefix)
                }
                if fd != root { close(fd) }
                fd = next
            }
            open[folderPath] = fd
            return (fd, name)
        }

        /// As `parent`, without making folders; nil when a folder on the way is missing.
        mutating func parentIfPresent(of path: String, under rootPath: String) throws(FileSystemError) -> (Int32, String)? {
            do { return try parent(of: path, under: rootPath, create: false) } catch {
                // Missing, or a file where a folder goes: either way nothing is there to remove.
                if error.errno == ENOENT || error.errno == ENOTDIR { return nil }
                throw error
            }
        }
    }
}
