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
        var watchErrors: UInt64 = 0
        /// The last heartbeat's failure, cleared by the next that passes.
        var diskError: String?
        var diskErrors: UInt64 = 0
    }

    private let state = Mutex(State())
    /// Unwatched folders listed at most: a tree of a million folders past the limit must not make
    /// `status` a million lines.
    static let maximumListed = 1000

    public init() {}

    /// A folder could not be watched. True the first time it is noted (for one log line).
    @discardableResult
    func unwatchable(_ folder: String, why: String) -> Bool {
        state.withLock { s in
            s.watchErrors &+= 1
            guard s.unwatched[folder] == nil else { return false }
            if s.unwatched.count < Self.maximumListed { s.unwatched[folder] = why }
            return true
        }
    }

    func watched(_ folder: String) { state.withLock { _ = $0.unwatched.removeValue(forKey: folder) } }

    /// Folders without a watch: a folder that went away needs none.
    func forget(_ folder: String) { watched(folder) }

    public var unwatched: [SkippedFile] {
        state.withLock { $0.unwatched.sorted { $0.key < $1.key }.map { SkippedFile(path: $0.key.isEmpty ? "." : $0.key, reason: $0.value) } }
    }
    var unwatchedFolders: [String] { state.withLock { Array($0.unwatched.keys) } }
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
                let others = s.unwatched.count - 1
                out.append("\(s.unwatched.count) folder(s) cannot be watched, so changes in them are found by a periodic rescan: "
                    + "\(first.key.isEmpty ? "." : ArticlePath.escape(first.key)): \(first.value)"
                    + (others > 0 ? " (and \(others) more: newsctl status --json)" : ""))
            }
            return out
        }
    }
}
