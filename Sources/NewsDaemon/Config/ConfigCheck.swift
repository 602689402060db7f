import Foundation
import Glibc
import NewsWeb
import SyncProtocol

/// What `newsd check-config`, a reload and the start-up look at beyond the syntax: that this
/// process, as the user and in the sandbox it runs in, can use the folders, the group and the
/// ports the config names. Run inside the unit (`ExecReload=`, the service itself) it sees what
/// the service sees, so a `watch` missing from `ReadWritePaths=` is found before any file fails.
public enum ConfigCheck {
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public enum Severity: String, Sendable { case error, warning }
        public let severity: Severity
        public let setting: String
        public let text: String
        /// Whether the service refuses to start on it (exit 78, not restarted): only what no
        /// restart can mend. The rest may pass by itself (a share not yet mounted, a directory
        /// service down): the service logs it and tries, `check-config` and a reload refuse it.
        public var stopsStart = false
        public var description: String { "\(setting): \(text)" }
        static func error(_ setting: String, _ text: String, stopsStart: Bool = false) -> Finding {
            Finding(severity: .error, setting: setting, text: text, stopsStart: stopsStart)
        }
        static func warning(_ setting: String, _ text: String) -> Finding { Finding(severity: .warning, setting: setting, text: text) }
    }

    /// Who is asking: the findings differ for root and for the service's user.
    public struct Identity: Sendable {
        public var uid: uid_t
        public var groups: [gid_t]
        public static var current: Identity {
            var count = getgroups(0, nil)
            var groups = [gid_t](repeating: 0, count: Int(max(count, 0)))
            count = getgroups(count, &groups)
            return Identity(uid: geteuid(), groups: Array(groups.prefix(Int(max(count, 0)))) + [getegid()])
        }
        public init(uid: uid_t, groups: [gid_t]) {
            self.uid = uid
            self.groups = groups
        }
    }

    public static func findings(for config: DaemonConfig, site: SiteID?, identity: Identity = .current) -> [Finding] {
        var found: [Finding] = []
        let user = GroupDirectory.userName(of: identity.uid) ?? "uid \(identity.uid)"
        let sandboxHint = ProcessInfo.processInfo.environment["INVOCATION_ID"] != nil
            ? " (inside the service: add it to ReadWritePaths= with `systemctl edit newsd`, or rerun the installer)" : ""

        // The watched folder: a missing one is tolerated at run time (an unmounted share), so a warning.
        switch folderAccess(config.watchDir) {
        case .missing: found.append(.warning("watch", "\(config.watchDir) does not exist; newsd waits for it and records nothing until it does"))
        case .notFolder: found.append(.error("watch", "\(config.watchDir) is not a folder", stopsStart: true))
        case .readOnlyFileSystem:
            // Inside the unit this is `ReadWritePaths=` not naming the folder: a config matter.
            found.append(.error("watch", "\(config.watchDir) is on a read-only file system for \(user)\(sandboxHint)", stopsStart: !sandboxHint.isEmpty))
        case .denied(let what): found.append(.error("watch", "\(user) cannot \(what) \(config.watchDir)"))
        case .ok: break
        }
        // The data folder, or the folder it is made in.
        switch folderAccess(config.dataDir) {
        case .missing:
            let parent = (config.dataDir as NSString).deletingLastPathComponent
            if case .ok = folderAccess(parent) {} else {
                found.append(.error("data", "\(config.dataDir) does not exist and \(user) cannot make it in \(parent)"))
            }
        case .notFolder: found.append(.error("data", "\(config.dataDir) is not a folder", stopsStart: true))
        case .readOnlyFileSystem: found.append(.error("data", "\(config.dataDir) is on a read-only file system for \(user)"))
        case .denied(let what): found.append(.error("data", "\(user) cannot \(what) \(config.dataDir)"))
        case .ok: break
        }
        if config.controlPath.utf8.count >= 108 {
            found.append(.error("control", "\(config.controlPath) is \(config.controlPath.utf8.count) bytes; a Unix socket path allows 107"))
        } else if !config.controlPath.hasPrefix(config.dataDir + "/") {
            let parent = (config.controlPath as NSString).deletingLastPathComponent
            switch folderAccess(parent) {
            case .ok: break
            // /run/newsd exists only while the unit runs (RuntimeDirectory=).
            case .missing: found.append(.warning("control", "the folder \(parent) does not exist now; newsd cannot start unless it does (systemd makes /run/newsd when the unit starts)"))
            default: found.append(.error("control", "\(user) cannot make a socket in \(parent)"))
            }
        }
        // The group files are given: one this process may give, or files keep the group they are made with.
        let isRoot = identity.uid == 0
        if let name = config.group {
            if let gid = GroupDirectory.gid(of: name) {
                if !isRoot && !identity.groups.contains(gid) {
                    found.append(.error("group", "\(user) is not a member of group \(name), so cannot give files to it; add SupplementaryGroups=\(name) to the unit (`systemctl edit newsd`) or pick a group \(user) is in"))
                }
            } else {
                found.append(.error("group", "no group named \(name)"))
            }
        } else {
            var st = stat()
            if stat(config.watchDir, &st) == 0, !isRoot, !identity.groups.contains(st.st_gid) {
                let name = GroupDirectory.name(of: st.st_gid) ?? "gid \(st.st_gid)"
                found.append(.warning("group", "files are to get the watched folder's group \(name), which \(user) is not in; they will keep \(user)'s group. Set `group` or make \(user) a member"))
            }
        }
        if GroupDirectory.gid(of: config.adminGroup) == nil {
            found.append(.warning("admin_group", "no group named \(config.adminGroup): only root and \(user) may restore, resolve, confirm deletes or sync"))
        }
        // Ports below the unprivileged start (1024 unless the system lowered it) need a capability
        // the unit does not grant.
        // Unreadable (the unit's ProcSubset=pid hides /proc/sys): not known, so not judged.
        let unprivileged = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_unprivileged_port_start", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        for (name, endpoint) in [("listen", Optional(config.listen)), ("metrics", config.metrics), ("web_listen", config.web)] {
            if let unprivileged, let endpoint, endpoint.port > 0, endpoint.port < unprivileged, !isRoot {
                found.append(.error(name, "port \(endpoint.port) is below \(unprivileged), which \(user) may not bind without CAP_NET_BIND_SERVICE; use 1024 or above (newsd uses 7420)"))
            }
        }
        if config.web != nil, let files = config.webTLS {
            // A certificate the service cannot read stops the start, as a damaged accounts file does:
            // a web view quietly off, or on plain HTTP, is worse than a clear refusal.
            do { _ = try WebSecurity.tls(certificate: files.certificate, key: files.key) } catch {
                found.append(.error("web_tls_cert", "\(error)", stopsStart: true))
            }
        }
        if let web = config.web, config.webTLS == nil, !web.isLoopback {
            found.append(.warning("web_listen", "\(web) serves the web view over plain HTTP beyond this machine: passwords, cookies and a proxy's secret cross the network in the clear; set web_tls_cert and web_tls_key, or listen on 127.0.0.1 behind a reverse proxy on this machine (docs/WEB.md)"))
        }
        if config.web != nil, let file = config.webProxySecretFile {
            do { _ = try WebSecurity.proxySecret(file: file) } catch {
                found.append(.error("web_proxy_secret_file", "\(error)", stopsStart: true))
            }
        }
        if let site {
            // One config shared by every site lists each: this site is skipped, not an error.
            if config.peers.contains(where: { $0.site == site }) {
                found.append(.warning("peers", "lists this site itself (\(site)); skipped"))
            }
            if config.revoked.contains(site) { found.append(.error("revoked", "lists this site itself (\(site))", stopsStart: true)) }
        }
        let sites = config.peers.map(\.site)
        for site in Set(sites) where sites.filter({ $0 == site }).count > 1 {
            found.append(.warning("peers", "\(site) is listed more than once; the last address is used"))
        }
        for peer in DaemonConfig.merge(configured: config.peers, added: config.addedPeers) where config.revoked.contains(peer.site) {
            found.append(.warning("peers", "\(peer.site) is also revoked, so it is refused"))
        }
        if config.listen.isLoopback && !config.trustedPeers.isEmpty {
            found.append(.warning("listen", "\(config.listen) takes connections from this machine only: other sites cannot dial in (set listen = \"0.0.0.0:7420\" and open the port)"))
        }
        if let file = config.configFile {
            var st = stat()
            if stat(file, &st) == 0, st.st_mode & 0o002 != 0 {
                found.append(.error("config", "\(file) is writable by everyone; `chmod o-w \(file)`", stopsStart: true))
            }
        }
        return found
    }

    enum Access { case ok, missing, notFolder, readOnlyFileSystem, denied(String) }

    static func folderAccess(_ path: String) -> Access {
        var st = stat()
        guard stat(path, &st) == 0 else { return errno == ENOENT ? .missing : .denied("reach") }
        guard st.st_mode & S_IFMT == S_IFDIR else { return .notFolder }
        if access(path, R_OK | X_OK) != 0 { return .denied("read") }
        if access(path, W_OK) != 0 { return errno == EROFS ? .readOnlyFileSystem : .denied("write to") }
        return .ok
    }
}
