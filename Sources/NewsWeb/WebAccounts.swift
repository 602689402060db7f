import Foundation
import HummingbirdBcrypt
import SyncProtocol

/// The web view's accounts: names, roles and bcrypt hashes, in `web-accounts.json` in the data
/// folder (0600, written whole: temp file, fsync, rename). newsd alone writes it, through
/// `newsctl web-user`.
public actor WebAccounts {
    public static let fileName = "web-accounts.json"
    /// bcrypt's cost: 2^12 rounds, about a quarter of a second here: slow for a guesser, not for
    /// a person signing in.
    public static let cost: UInt8 = 12

    struct Account: Codable, Equatable {
        var name: String
        var role: WebUserRequest.Role
        var hash: String
        var added: String
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    let path: String
    private var accounts: [Account]
    /// A hash to check against when the name is unknown, so a wrong name takes as long as a
    /// wrong password (no list of names by timing). Made at the first such sign-in, not at start:
    /// a cost-12 hash is a quarter of a second of CPU that every start would otherwise pay.
    private lazy var decoy = Bcrypt.hash("no account has this password", cost: WebAccounts.cost)

    public init(dataDir: String) throws {
        path = dataDir + "/" + Self.fileName
        if let data = FileManager.default.contents(atPath: path) {
            do { accounts = try JSONDecoder().decode([Account].self, from: data) } catch {
                throw Invalid(description: "\(path) is not a list of web accounts: \(error)")
            }
        } else {
            accounts = []
        }
    }

    public var isEmpty: Bool { accounts.isEmpty }

    public func list() -> [WebAccountInfo] {
        accounts.sorted { $0.name < $1.name }.map { WebAccountInfo(name: $0.name, role: $0.role, added: $0.added) }
    }

    /// Adds an account, or sets a new password and role for one that exists.
    public func add(name: String, role: WebUserRequest.Role, password: String) async throws -> WebAccountInfo {
        guard Self.isValidName(name) else {
            throw Invalid(description: "'\(name)' is not an account name: 1 to 64 letters, digits, '.', '_' or '-'")
        }
        guard password.count >= 10, password.utf8.count <= 72 else {
            // bcrypt reads 72 bytes at most: a longer password would be checked only in part.
            throw Invalid(description: "a password needs 10 characters or more (and at most 72 bytes)")
        }
        guard name != "first-run" else { throw Invalid(description: "'first-run' is the first-run link's name; choose another") }
        let hash = await Self.offThePool { Bcrypt.hash(password, cost: WebAccounts.cost) }
        let account = Account(name: name, role: role, hash: hash,
                              added: VersionInfo.format(milliseconds: UInt64(Date().timeIntervalSince1970 * 1000)))
        var next = accounts.filter { $0.name != name }
        next.append(account)
        try save(next)
        return WebAccountInfo(name: account.name, role: account.role, added: account.added)
    }

    public func remove(name: String) throws -> WebAccountInfo? {
        guard let gone = accounts.first(where: { $0.name == name }) else { return nil }
        try save(accounts.filter { $0.name != name })
        return WebAccountInfo(name: gone.name, role: gone.role, added: gone.added)
    }

    /// The account's role if the password is its; nil otherwise, after the same work either way.
    /// The hash is checked outside the actor (a quarter of a second of CPU), so pages asking for
    /// roles meanwhile are not held up.
    public func verify(name: String, password: String) async -> WebUserRequest.Role? {
        let account = accounts.first { $0.name == name }
        let hash = account?.hash ?? decoy
        let matches = await Self.offThePool { Bcrypt.verify(password, hash: hash) }
        return account != nil && matches ? account?.role : nil
    }

    /// Runs CPU-bound work on a thread of its own, not on one of Swift's two pool threads that
    /// sessions and the log need.
    static func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }

    /// The role an account has now (a session's rights follow a role changed or an account removed).
    public func role(of name: String) -> WebUserRequest.Role? { accounts.first { $0.name == name }?.role }

    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-"
        }
    }

    private func save(_ next: [Account]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(next)
        let temp = path + ".new"
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Invalid(description: "cannot write \(temp): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        let closed = close(fd) == 0
        guard written == data.count, synced, closed, rename(temp, path) == 0 else {
            unlink(temp)
            throw Invalid(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let folder = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 { fsync(folder); close(folder) }
        accounts = next
    }
}
