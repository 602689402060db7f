import Foundation
import Glibc
import SyncProtocol

/// Who may do what over the control socket. Anyone who can connect (the socket is 0660, group
/// newsd) may read; a change (restore, resolve, confirming held deletes, sync) needs root, newsd's
/// own user, or a member of the admin group. The caller is known by `SO_PEERCRED`, which the
/// kernel fills in: a client cannot claim to be someone else.
public struct ControlAccess: Sendable {
    public let adminGroup: String
    /// newsd's own user: the developer running both ends, or the service account.
    public let daemonUID: uid_t
    let groupsOf: @Sendable (uid_t) -> [gid_t]
    let gidOf: @Sendable (String) -> gid_t?

    public init(adminGroup: String, daemonUID: uid_t = geteuid(),
                groupsOf: @escaping @Sendable (uid_t) -> [gid_t] = GroupDirectory.groups(of:),
                gidOf: @escaping @Sendable (String) -> gid_t? = GroupDirectory.gid(of:)) {
        self.adminGroup = adminGroup
        self.daemonUID = daemonUID
        self.groupsOf = groupsOf
        self.gidOf = gidOf
    }

    /// The connected client, as the kernel reports it.
    public struct Caller: Sendable, Equatable, CustomStringConvertible {
        public var uid: uid_t
        public var gid: gid_t
        public var pid: pid_t
        public init(uid: uid_t, gid: gid_t, pid: pid_t) {
            self.uid = uid
            self.gid = gid
            self.pid = pid
        }
        public var description: String {
            "\(GroupDirectory.userName(of: uid) ?? "uid \(uid)") (uid \(uid), pid \(pid))"
        }
    }

    /// Whether a request changes the site rather than reads it.
    public static func isChange(method: String, frame: [UInt8]) -> Bool {
        switch method {
        case RestoreRequest.method, ResolveRequest.method, SyncRequest.method, PeerAddRequest.method, PeerRemoveRequest.method: return true
        case WebUserRequest.method:
            let params = try? ControlJSON.decoder().decode(RequestEnvelope<WebUserRequest>.self, from: Data(frame)).params
            return params?.action != .list
        case DeletesRequest.method:
            // Listing what is held is a read; anything else (confirm, or an action this build does
            // not know) is treated as a change.
            let params = try? ControlJSON.decoder().decode(RequestEnvelope<DeletesRequest>.self, from: Data(frame)).params
            return params?.action != .list
        default: return false
        }
    }

    /// Whether `caller` may ask for changes; a caller the kernel could not name may not.
    public func mayChange(_ caller: Caller?) -> Bool {
        guard let caller else { return false }
        if caller.uid == 0 || caller.uid == daemonUID { return true }
        guard let admin = gidOf(adminGroup) else { return false }
        return caller.gid == admin || groupsOf(caller.uid).contains(admin)
    }

    public func refusal(for caller: Caller?, method: String) -> ControlFailure {
        let who = caller.map { "\($0)" } ?? "a client the kernel could not name"
        return ControlFailure(.forbidden, "\(method) changes the site: \(who) may read but not change; changes need root or "
            + "membership of group \(adminGroup) (`sudo usermod -aG \(adminGroup) USER`, then log in again)")
    }
}
