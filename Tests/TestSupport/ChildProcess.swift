import CSpawn
import Foundation
import Glibc

/// A child started with posix_spawn and reaped with waitpid on its own pid.
///
/// Foundation's Process crashed twice in a full test run (a bad read copying its environment, with
/// launches already serialized; and its SIGCHLD handling interrupted a pipe read), so the tests
/// start their children without it.
public final class ChildProcess: @unchecked Sendable {
    public let processIdentifier: pid_t
    private let lock = NSLock()
    private var status: Int32?

    /// `stdout`/`stderr`: descriptors the child writes to (nil: /dev/null); stdin is /dev/null.
    /// `environment`: added to this process's (nil: inherited as it is).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                stdout: Int32? = nil, stderr: Int32? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, 1) } else { posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
        if let stderr { posix_spawn_file_actions_adddup2(&actions, stderr, 2) } else { posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0) }
        // Nothing else: a test's file open for writing, inherited by a daemon, would read to newsd
        // as "held open by another program", and an inherited pipe end would keep a reader waiting.
        newsd_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default signal handling in the child whatever this process set up.
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var env = ProcessInfo.processInfo.environment
        if let environment { env.merge(environment) { $1 } }
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = Self.spawning.withLock { posix_spawn(&pid, executable, &actions, &attributes, argv, envp) }
        guard rc == 0 else { throw TimedOut(description: "cannot start \(executable): \(String(cString: strerror(rc)))") }
        processIdentifier = pid
    }

    /// Held while descriptors are made and not yet close-on-exec, and while a child is spawned, so
    /// no child inherits another's pipe (which would hold its reader open past the writer's end).
    static let spawning = NSLock()

    /// A pipe whose both ends are close-on-exec.
    public static func pipe() throws -> (read: Int32, write: Int32) {
        try spawning.withLock {
            var fds: [Int32] = [0, 0]
            guard Glibc.pipe(&fds) == 0 else { throw TimedOut(description: "no pipe: \(String(cString: strerror(errno)))") }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            return (fds[0], fds[1])
        }
    }

    deinit {
        if isRunning {
            kill(processIdentifier, SIGKILL)
            waitUntilExit()
        }
    }

    public var isRunning: Bool {
        lock.withLock {
            guard status == nil else { return false }
            var raw: Int32 = 0
            let reaped = waitpid(processIdentifier, &raw, WNOHANG)
            if reaped == processIdentifier { status = raw; return false }
            return reaped == 0
        }
    }

    public func waitUntilExit() {
        lock.withLock {
            guard status == nil else { return }
            var raw: Int32 = 0
            while true {
                let reaped = waitpid(processIdentifier, &raw, 0)
                if reaped == processIdentifier { status = raw; return }
                if reaped < 0 && errno != EINTR { status = 0; return }
            }
        }
    }

    /// The exit status, or 128 + the signal that ended it (as a shell says).
    public var terminationStatus: Int32 {
        waitUntilExit()
        let raw = lock.withLock { status ?? 0 }
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }
}
