import Foundation
import Synchronization
import SyncProtocol

/// Signed-in browsers, the one-time first-run link and the sign-in rate limit. In memory: a
/// restart signs everyone out, which is the safe direction.
public final class WebSessions: Sendable {
    public struct Session: Sendable, Equatable {
        public let account: String
        public var role: WebUserRequest.Role
        /// Sent in every form and checked on every POST (a cross-site form cannot read it).
        public let csrf: String
        var lastUsed: ContinuousClock.Instant
    }

    struct State {
        var sessions: [String: Session] = [:]
        var firstRunToken: String?
        var failures: [String: [ContinuousClock.Instant]] = [:]
    }

    private let state = Mutex(State())
    /// Signed-in browsers kept at most; the least recently used goes first.
    static let maximumSessions = 10_000
    /// A session unused this long is gone.
    public static let idleLimit = Duration.seconds(12 * 3600)
    /// Failed sign-ins allowed per address in `failureWindow`.
    static let maximumFailures = 10
    static let failureWindow = Duration.seconds(600)

    public init() {}

    /// 32 random bytes as hex: session tokens, CSRF tokens, the first-run link.
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// A link that signs in once, for a first run with no accounts; nil once used.
    public func makeFirstRunToken() -> String {
        let token = Self.randomToken()
        state.withLock { $0.firstRunToken = token }
        return token
    }

    /// True once for the right token (compared in constant time).
    public func redeemFirstRunToken(_ token: String) -> Bool {
        state.withLock { s in
            guard let expected = s.firstRunToken, Self.equal(expected, token) else { return false }
            s.firstRunToken = nil
            return true
        }
    }

    public func start(account: String, role: WebUserRequest.Role) -> (token: String, session: Session) {
        let token = Self.randomToken()
        let session = Session(account: account, role: role, csrf: Self.randomToken(), lastUsed: .now)
        state.withLock { s in
            if s.sessions.count >= Self.maximumSessions, let oldest = s.sessions.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
                s.sessions.removeValue(forKey: oldest)
            }
            s.sessions[token] = session
        }
        return (token, session)
    }

    /// The session for a cookie's token, if it is live; using it keeps it live.
    public func session(_ token: String?, now: ContinuousClock.Instant = .now) -> Session? {
        guard let token, token.utf8.count == 64 else { return nil }
        return state.withLock { s in
            guard var session = s.sessions[token] else { return nil }
            guard now - session.lastUsed < Self.idleLimit else {
                s.sessions.removeValue(forKey: token)
                return nil
            }
            session.lastUsed = now
            s.sessions[token] = session
            return session
        }
    }

    public func end(_ token: String?) {
        guard let token else { return }
        state.withLock { _ = $0.sessions.removeValue(forKey: token) }
    }

    /// Ends every session of an account (removed), or gives them its new role.
    public func update(account: String, role: WebUserRequest.Role?) {
        state.withLock { s in
            for (token, session) in s.sessions where session.account == account {
                if let role { s.sessions[token]?.role = role } else { s.sessions.removeValue(forKey: token) }
            }
        }
    }

    /// Whether `address` may try to sign in now.
    public func maySignIn(from address: String, now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { s in
            let recent = (s.failures[address] ?? []).filter { now - $0 < Self.failureWindow }
            s.failures[address] = recent.isEmpty ? nil : recent
            return recent.count < Self.maximumFailures
        }
    }

    public func failedSignIn(from address: String, now: ContinuousClock.Instant = .now) {
        state.withLock { s in
            // Bounded: addresses past a few thousand are forgotten oldest first.
            if s.failures.count > 4096, let stale = s.failures.min(by: { ($0.value.last ?? now) < ($1.value.last ?? now) })?.key {
                s.failures.removeValue(forKey: stale)
            }
            s.failures[address, default: []].append(now)
        }
    }

    private let checking = Mutex(0)
    /// Passwords checked at once at most; past it a sign-in is answered "too many" at once.
    static let maximumChecks = 2

    public func beginCheck() -> Bool {
        checking.withLock { count in
            guard count < Self.maximumChecks else { return false }
            count += 1
            return true
        }
    }

    public func endCheck() { checking.withLock { $0 -= 1 } }

    /// A good sign-in clears the failures counted against its address and name.
    public func signedIn(from address: String) {
        state.withLock { _ = $0.failures.removeValue(forKey: address) }
    }

    /// Constant-time comparison of two tokens.
    public static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
