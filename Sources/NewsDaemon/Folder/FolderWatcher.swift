import Foundation
import Glibc
import Logging
import Synchronization

/// What changed in the watched folder, as the watcher reports it after debouncing.
public enum FolderChange: Sendable, Hashable {
    /// A file may have a new version, or be gone (relative path as on disk).
    case path(String)
    /// Everything under a folder may have changed: created, moved in, moved out or removed.
    case folder(String)
    /// Events were lost (inotify queue overflow) or the watched folder itself went away: rescan all.
    case everything
}

/// Watches the folder tree with inotify and delivers debounced batches of changes.
///
/// One thread reads the inotify descriptor and owns the watch table; a batch is handed out once no
/// event has arrived for `debounce`, or `maximumDelay` after its first event, so a steady stream of
/// writes still reaches the log.
public final class FolderWatcher: Sendable {
    public let root: String
    private let fd: Int32
    private let stopPipe: (read: Int32, write: Int32)
    private let settings: Mutex<Settings>
    public let changes: AsyncStream<[FolderChange]>
    private let continuation: AsyncStream<[FolderChange]>.Continuation
    private let state: Mutex<WatchTable>
    /// Folders that could not be watched are listed here, and rescanned until they can be.
    public let health: SiteHealth
    let logger: Logger?

    public struct Settings: Sendable {
        public var debounce: Duration
        public var maximumDelay: Duration
        public var ignore: IgnoreRules
        /// How often a folder that could not be watched is tried again and rescanned meanwhile.
        public var unwatchedRescan: Duration

        public init(debounce: Duration, maximumDelay: Duration = .seconds(1), ignore: IgnoreRules,
                    unwatchedRescan: Duration = FolderWatcher.unwatchedRescanInterval) {
            self.debounce = debounce
            self.maximumDelay = maximumDelay
            self.ignore = ignore
            self.unwatchedRescan = unwatchedRescan
        }
    }

    struct WatchTable {
        var pathByDescriptor: [Int32: String] = [:]
    }

    public static let bufferedBatches = 256
    public static let unwatchedRescanInterval = Duration.seconds(30)

    static let mask: UInt32 = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE
        | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB) | UInt32(IN_ONLYDIR) | UInt32(IN_EXCL_UNLINK)

    /// `bufferedBatches`: batches held while ingest is behind; past them, one rescan replaces the rest.
    public init(root: String, settings: Settings, bufferedBatches: Int = FolderWatcher.bufferedBatches,
                health: SiteHealth = SiteHealth(), logger: Logger? = nil) throws {
        self.root = root
        self.health = health
        self.logger = logger
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { throw FileSystemError("inotify_init1", root) }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw FileSystemError("pipe", root) }
        for end in fds { _ = fcntl(end, F_SETFD, FD_CLOEXEC); _ = fcntl(end, F_SETFL, O_NONBLOCK) }
        stopPipe = (fds[0], fds[1])
        self.settings = Mutex(settings)
        state = Mutex(WatchTable())
        // Bounded: while ingest cannot keep up (a full disk for hours), batches past the buffer are
        // dropped and replaced by one rescan of everything, never queued without end.
        (changes, continuation) = AsyncStream.makeStream(of: [FolderChange].self, bufferingPolicy: .bufferingOldest(bufferedBatches))
    }

    deinit {
        close(fd)
        close(stopPipe.read)
        close(stopPipe.write)
    }

    public func update(_ new: Settings) { settings.withLock { $0 = new } }

    /// Watches the whole tree as it is now; folders made later are added as their events arrive.
    /// False when the root itself cannot be watched (missing, or not a folder).
    @discardableResult
    public func watchAll() -> Bool {
        watchTree("")
        return state.withLock { $0.pathByDescriptor.values.contains("") }
    }

    @discardableResult
    private func addWatch(_ relative: String) -> Bool {
        let path = relative.isEmpty ? root : root + "/" + relative
        let wd = inotify_add_watch(fd, path, Self.mask)
        guard wd >= 0 else {
            let code = errno
            // Gone or not a folder (any more): nothing to watch, nothing wrong.
            if code == ENOENT || code == ENOTDIR {
                health.forget(relative)
                return false
            }
            let why = Self.reason(errno: code)
            let noted = health.unwatchable(relative, why: why)
            if noted != .quietly {
                let every = settings.withLock { $0.unwatchedRescan }
                let raise = code == ENOSPC ? ". Raise the limit: `sysctl fs.inotify.max_user_watches=524288`, and keep it in /etc/sysctl.d/90-newsd.conf" : ""
                let more = noted == .lastLogged ? " (further folders that cannot be watched are not logged one by one: newsctl status)" : ""
                logger?.warning("cannot watch \(relative.isEmpty ? root : relative): \(why); changes there are found by a rescan every \(every)\(raise)\(more)")
            }
            return false
        }
        health.watched(relative)
        state.withLock { $0.pathByDescriptor[wd] = relative }
        return true
    }

    static func reason(errno code: Int32) -> String {
        switch code {
        case ENOSPC:
            // The limit in force for newsd's user namespace (the same as fs.inotify.max_user_watches
            // outside one); hidden under the unit's ProcSubset=pid.
            let limit = ["/proc/sys/user/max_inotify_watches", "/proc/sys/fs/inotify/max_user_watches"].lazy
                .compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.first?.trimmingCharacters(in: .whitespacesAndNewlines)
            return "the inotify watch limit is reached" + (limit.map { " (fs.inotify.max_user_watches = \($0))" } ?? " (fs.inotify.max_user_watches)")
        case EACCES, EPERM: return "permission denied: newsd's user may not read it"
        case ENOMEM: return "the kernel is out of memory for inotify watches"
        default: return "inotify_add_watch: \(String(cString: strerror(code)))"
        }
    }

    /// Tries the folders that could not be watched again; each is rescanned whatever the outcome,
    /// since changes in it were not seen.
    private func retryUnwatched(add: (FolderChange) -> Void) {
        // More failed than are listed: every folder is tried again and everything rescanned.
        if health.takeOverflow() {
            watchTree("")
            add(.everything)
            return
        }
        for folder in health.unwatchedFolders {
            let path = folder.isEmpty ? root : root + "/" + folder
            guard (try? FileSystem.lstat(path))?.kind == .directory else {
                health.forget(folder)
                add(.folder(folder))
                continue
            }
            watchTree(folder)
            add(folder.isEmpty ? .everything : .folder(folder))
        }
    }

    /// Adds watches for a folder and every folder below it, as it is now.
    private func watchTree(_ relative: String) {
        guard addWatch(relative) else { return }
        let path = relative.isEmpty ? root : root + "/" + relative
        guard let folders = try? FileSystem.subfolders(path) else { return }
        for name in folders { watchTree(relative.isEmpty ? name : relative + "/" + name) }
    }

    public var watchCount: Int { state.withLock { $0.pathByDescriptor.count } }

    /// Starts the reading thread. Batches arrive on `changes` until `stop()`.
    public func start() {
        let thread = Thread { [self] in self.run() }
        thread.name = "newsd-watcher"
        thread.start()
    }

    public func stop() {
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
    }

    private func run() {
        // Each change waits for its own quiet time: a path is handed out `debounce` after its last
        // event, whatever else keeps happening in the folder, so an editor's save is recorded within
        // the debounce even in a busy newsroom (one debounce for the whole folder meant waiting for
        // `maximumDelay` whenever anyone saved anything). `maximumDelay` bounds a path written nonstop.
        var pending: [FolderChange: (first: ContinuousClock.Instant, last: ContinuousClock.Instant)] = [:]
        var order: [FolderChange] = []
        // Batches go out at most every half debounce, so a bulk copy still lands in few transactions.
        var quietUntil = ContinuousClock.now
        // A batch was dropped (the buffer was full): a rescan of everything is owed.
        var lost = false
        var nextUnwatchedRetry = ContinuousClock.now + settings.withLock { $0.unwatchedRescan }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { buffer.deallocate() }

        func add(_ change: FolderChange) {
            let now = ContinuousClock.now
            if let seen = pending[change] {
                pending[change] = (seen.first, now)
            } else {
                pending[change] = (now, now)
                order.append(change)
            }
        }

        func milliseconds(_ duration: Duration) -> Int32 {
            let parts = duration.components
            return Int32(clamping: max(1, parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000))
        }

        while true {
            let current = settings.withLock { $0 }
            var timeout: Int32 = -1
            if lost {
                // Changes were dropped (the buffer was full): one rescan of everything, as soon as
                // there is room for it.
                let now = ContinuousClock.now
                if now >= quietUntil {
                    if case .enqueued = continuation.yield([.everything]) {
                        lost = false
                        pending.removeAll()
                        order.removeAll()
                    }
                    // Retried no faster than every 100 ms while ingest is stalled.
                    quietUntil = now + max(current.debounce / 2, .milliseconds(100))
                }
                if lost { timeout = milliseconds(quietUntil - now) }
            }
            if health.hasUnwatched {
                let now = ContinuousClock.now
                if now >= nextUnwatchedRetry {
                    nextUnwatchedRetry = now + current.unwatchedRescan
                    retryUnwatched(add: add)
                }
                let wait = milliseconds(nextUnwatchedRetry - now)
                timeout = timeout < 0 ? wait : min(timeout, wait)
            } else {
                nextUnwatchedRetry = ContinuousClock.now + current.unwatchedRescan
            }
            if !pending.isEmpty {
                let now = ContinuousClock.now
                func due(_ times: (first: ContinuousClock.Instant, last: ContinuousClock.Instant)) -> ContinuousClock.Instant {
                    min(times.last + current.debounce, times.first + current.maximumDelay)
                }
                let ready = now < quietUntil ? [] : order.filter { due(pending[$0]!) <= now }
                if !ready.isEmpty {
                    quietUntil = now + current.debounce / 2
                    if ready.contains(.everything) || lost {
                        // A rescan covers everything else pending too; if even it finds no room,
                        // it stays owed.
                        if case .enqueued = continuation.yield([.everything]) { lost = false } else { lost = true }
                        pending.removeAll()
                        order.removeAll()
                    } else {
                        if case .dropped = continuation.yield(ready) { lost = true }
                        for change in ready { pending.removeValue(forKey: change) }
                        order.removeAll { pending[$0] == nil }
                    }
                    continue
                }
                let next = max(pending.values.map(due).min()!, quietUntil)
                timeout = timeout < 0 ? milliseconds(next - now) : min(timeout, milliseconds(next - now))
            }
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, timeout)
            if ready < 0 && errno != EINTR { break }
            if fds[1].revents != 0 { break }
            guard fds[0].revents != 0 else { continue }
            while true {
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n <= 0 { break }
                parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), ignore: current.ignore, add: add)
            }
        }
        continuation.finish()
    }

    /// Walks the packed `inotify_event` records: a fixed header, then `len` bytes of NUL-padded name.
    private func parse(_ bytes: UnsafeRawBufferPointer, ignore: IgnoreRules, add: (FolderChange) -> Void) {
        let headerSize = MemoryLayout<inotify_event>.size
        var offset = 0
        while offset + headerSize <= bytes.count {
            let wd = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            let mask = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            var name = ""
            if length > 0, offset + headerSize + length <= bytes.count {
                let raw = bytes[(offset + headerSize)..<(offset + headerSize + length)]
                name = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            offset += headerSize + length
            handle(wd: wd, mask: mask, name: name, ignore: ignore, add: add)
        }
    }

    private func handle(wd: Int32, mask: UInt32, name: String, ignore: IgnoreRules, add: (FolderChange) -> Void) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            add(.everything)
            return
        }
        let folder = state.withLock { $0.pathByDescriptor[wd] }
        if mask & UInt32(IN_IGNORED) != 0 {
            state.withLock { _ = $0.pathByDescriptor.removeValue(forKey: wd) }
            if folder == "" { add(.everything) }
            return
        }
        guard let folder else { return }
        if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
            if folder.isEmpty { add(.everything) }
            return
        }
        guard !name.isEmpty else { return }
        let path = folder.isEmpty ? name : folder + "/" + name
        if mask & UInt32(IN_ISDIR) != 0 {
            if mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 { watchTree(path) }
            add(.folder(path))
            return
        }
        if ignore.ignores(path: path) { return }
        // A new file is versioned when its writer closes it; creation alone says nothing yet,
        // except for links and special files, which have no close.
        if mask & UInt32(IN_CREATE) != 0 {
            if (try? FileSystem.lstat(root + "/" + path))?.kind == .file { return }
        }
        add(.path(path))
    }
}
