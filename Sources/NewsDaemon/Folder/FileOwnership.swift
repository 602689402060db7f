import Glibc
import Logging
import Synchronization

/// The group and permissions of every file and folder newsd writes into the watched folder, set
/// with `fchown`/`fchmod` on the open descriptor, so the service's umask does not decide them and
/// editors in the newsroom's group can go on editing what arrived from another site.
public struct FileOwnership: Sendable, Equatable {
    /// nil: the group the file system gives (the folder's, under a set-group-ID folder).
    public var group: gid_t?
    public var fileMode: mode_t
    public var folderMode: mode_t

    public init(group: gid_t? = nil, fileMode: mode_t = 0o664, folderMode: mode_t = 0o2775) {
        self.group = group
        self.fileMode = fileMode
        self.folderMode = folderMode
    }

    /// The configured group by name, else the watched folder's group; nil when neither is known.
    public static func resolve(group name: String?, fileMode: mode_t, folderMode: mode_t, watchDir: String) -> FileOwnership {
        var gid: gid_t?
        if let name {
            gid = GroupDirectory.gid(of: name)
        } else {
            var st = stat()
            if stat(watchDir, &st) == 0 { gid = st.st_gid }
        }
        return FileOwnership(group: gid, fileMode: fileMode, folderMode: folderMode)
    }

    /// Gives an open file or folder its group and mode. A group newsd may not give (not a member)
    /// leaves the group as made: the content matters more than its group, and `newsd check-config`
    /// names the cause. Under systemd's `RestrictSUIDSGID=` a mode with set-ID bits cannot be set:
    /// a folder is made with the permission bits (`mkdir` honours the umask, and the kernel gives
    /// the set-group-ID bit of a set-group-ID parent), so under the unit's `UMask=0002` a folder in
    /// the newsroom's 2775 folder is 2775 without a `chmod`; a file drops the set-ID bits.
    public func apply(to fd: Int32, isFolder: Bool) {
        if let group, fchown(fd, uid_t.max, group) != 0 {
            Self.sayOnce("cannot give files group \(GroupDirectory.name(of: group) ?? "gid \(group)") (\(String(cString: strerror(errno)))); they keep the group they are made with: `newsd check-config` says why")
        }
        let mode = isFolder ? folderMode : fileMode
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_mode & 0o7777 == mode { return }
        if fchmod(fd, mode) != 0 {
            Self.sayOnce("cannot set mode \(String(mode, radix: 8)) on a \(isFolder ? "folder" : "file") newsd made (\(String(cString: strerror(errno)))); it keeps \(String(st.st_mode & 0o7777, radix: 8))")
        }
    }

    /// Each such failure is said once per run: it repeats for every file, and is one cause.
    private static let said = Mutex<Set<String>>([])
    private static func sayOnce(_ text: String) {
        let first = said.withLock { $0.insert(text).inserted }
        if first { Logger(label: "newsd").warning("folder: \(text)") }
    }

    /// The mode to make a folder with, before `apply`.
    public var folderCreationMode: mode_t { folderMode & 0o777 }
}

/// Group lookups through NSS (`/etc/group`, LDAP, …).
public enum GroupDirectory {
    public static func gid(of name: String) -> gid_t? {
        var group = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getgrnam_r(name, &group, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return group.gr_gid
    }

    public static func name(of gid: gid_t) -> String? {
        var group = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getgrgid_r(gid, &group, &buffer, buffer.count, &result) == 0, result != nil, let name = group.gr_name else { return nil }
        return String(cString: name)
    }

    /// The account a change is recorded as made by: the user's name, or `uid N` when NSS has
    /// none. Looked up once per uid (every ingested file asks), at most 1,000 kept.
    /// A failed lookup (NSS away for a moment, an account being made) is kept for a minute only.
    public static func accountName(of uid: uid_t) -> String {
        let now = ContinuousClock.now
        if let known = accountNames.withLock({ $0[uid] }), known.until.map({ now < $0 }) ?? true { return known.name }
        let found = userName(of: uid)
        let name = found ?? "uid \(uid)"
        accountNames.withLock {
            if $0.count >= 1_000 { $0.removeAll() }
            $0[uid] = (name, found == nil ? now + .seconds(60) : nil)
        }
        return name
    }

    private static let accountNames = Mutex<[uid_t: (name: String, until: ContinuousClock.Instant?)]>([:])

    public static func userName(of uid: uid_t) -> String? {
        var user = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getpwuid_r(uid, &user, &buffer, buffer.count, &result) == 0, result != nil, let name = user.pw_name else { return nil }
        return String(cString: name)
    }

    /// Every group the user belongs to (primary and supplementary), as NSS says now.
    public static func groups(of uid: uid_t) -> [gid_t] {
        var user = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getpwuid_r(uid, &user, &buffer, buffer.count, &result) == 0, result != nil, let name = user.pw_name else { return [] }
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, user.pw_gid, &groups, &count) == -1 {
            groups = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(name, user.pw_gid, &groups, &count) != -1 else { return [user.pw_gid] }
        }
        return Array(groups.prefix(Int(count)))
    }
}
