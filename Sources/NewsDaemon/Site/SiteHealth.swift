import Foundation
import Synchronization
import SyncProtocol

/// What can go wrong with a site while nothing is being saved: folders the watcher cannot watch,
/// a data disk that fails its heartbeat. Written by the watcher's thread and the health check,
/// read by `status`, the metrics and the systemd STATUS line.
public final class SiteHealth: Sendable {
    struct State {
        /// Folders (relative to the watched folder) without an inotify watch, with why.
        var unwatched: [String: String] = [:]
        /// More folders failed than are listed: the retry is a rescan of everything.
        var overflowed = false
        var watchErrors: UInt64 = 0
        /// The last heartbeat's failure, cleared by the next that passes.
        var diskError: String?
        var diskErrors: UInt64 = 0
    }

    private let state = Mutex(State())
    /// Unwatched folders listed at most: a tree of a million folders past the limit must not make
    /// `status` a million lines. Past it, the periodic retry rescans the whole folder.
    static let maximumListed = 1000
    /// Folders logged one by one at most; the rest are in `status`.
    static let maximumLogged = 10

    public init() {}

    /// What a failed watch means for the log: a line for this folder, one saying no more will
    /// follow, or none.
    enum Noted: Equatable { case first, quietly, lastLogged }

    /// A folder could not be watched; counted each time.
    @discardableResult
    func unwatchable(_ folder: String, why: String) -> Noted {
        state.withLock { s in
            s.watchErrors &+= 1
            guard s.unwatched[folder] == nil else { return .quietly }
            guard s.unwatched.count < Self.maximumListed else {
                s.overflowed = true
                return .quietly
            }
            s.unwatched[folder] = why
            return s.unwatched.count < Self.maximumLogged ? .first : s.unwatched.count == Self.maximumLogged ? .lastLogged : .quietly
        }
    }

    func watched(_ folder: String) { state.withLock { _ = $0.unwatched.removeValue(forKey: folder) } }

    /// Folders without a watch: a folder that went away needs none.
    func forget(_ folder: String) { watched(folder) }

    /// Whether more folders failed than are listed; cleared, as the caller retries them all.
    func takeOverflow() -> Bool { state.withLock { s in defer { s.overflowed = false }; return s.overflowed } }
    var hasOverflowed: Bool { state.withLock { $0.overflowed } }

    public var unwatched: [SkippedFile] {
        state.withLock { $0.unwatched.sorted { $0.key < $1.key }.map { SkippedFile(path: $0.key.isEmpty ? "." : $0.key, reason: $0.value) } }
    }
    var unwatchedFolders: [String] { state.withLock { Array($0.unwatched.keys) } }
    /// Whether a retry is owed: a folder listed, or more failed than are listed. Asked at every
    /// wake of the watcher's thread, so it copies nothing.
    var hasUnwatched: Bool { state.withLock { !$0.unwatched.isEmpty || $0.overflowed } }
    public var watchErrors: UInt64 { state.withLock { $0.watchErrors } }

    func heartbeat(failed error: String?) {
        state.withLock { s in
            if error != nil { s.diskErrors &+= 1 }
            s.diskError = error
        }
    }

    public var diskError: String? { state.withLock { $0.diskError } }
    public var diskErrors: UInt64 { state.withLock { $0.diskErrors } }

    /// Problems in sentences, for `status`.
    var problems: [String] {
        state.withLock { s in
            var out: [String] = []
            if let disk = s.diskError { out.append("disk: \(disk)") }
            if let first = s.unwatched.min(by: { $0.key < $1.key }) {
                let others = s.unwatched.count - 1 + (s.overflowed ? 1 : 0)
                out.append("\(s.unwatched.count) folder(s) cannot be watched, so changes in them are found by a periodic rescan: "
                    + "\(first.key.isEmpty ? "." : ArticlePath.escape(first.key)): \(first.value)"
                    + (others > 0 ? " (and \(s.overflowed ? "over " : "")\(others) more: newsctl status --json)" : ""))
            }
            return out
        }
    }
}
