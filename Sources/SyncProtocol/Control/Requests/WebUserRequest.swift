/// `newsctl web-user add|remove|list`: the web view's accounts, kept by the daemon with bcrypt
/// hashes. Changing them is a change (root or the admin group); listing is a read.
public struct WebUserRequest: ControlRequest {
    public static let method = "web_user"

    public enum Action: String, Codable, Sendable { case add, remove, list }
    public enum Role: String, Codable, Sendable, CaseIterable {
        /// Reads every page.
        case viewer
        /// Also restores versions and resolves conflicts.
        case editor
    }

    public var action: Action
    public var name: String?
    public var role: Role?
    /// Only for `add`; sent over the local socket, hashed by the daemon, never stored as given.
    public var password: String?

    public init(action: Action, name: String? = nil, role: Role? = nil, password: String? = nil) {
        self.action = action
        self.name = name
        self.role = role
        self.password = password
    }

    public typealias Response = [WebAccountInfo]
}

public struct WebAccountInfo: Codable, Sendable, Equatable {
    public var name: String
    public var role: WebUserRequest.Role
    /// When it was added (ISO 8601).
    public var added: String

    public init(name: String, role: WebUserRequest.Role, added: String) {
        self.name = name
        self.role = role
        self.added = added
    }
}
