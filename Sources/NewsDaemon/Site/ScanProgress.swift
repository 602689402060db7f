import Synchronization
import SyncProtocol

/// How far a scan of the whole folder has got, readable from outside the site while it runs: the
/// scan holds the site, so the systemd STATUS= line and the terminal read it here.
public final class ScanProgress: Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// Files read so far, of `toRead` (files new or changed since the last look); zero
        /// `toRead` while the folder is still being walked.
        public var read = 0
        public var toRead = 0
    }

    private let state = Mutex<Snapshot?>(nil)
    /// What `status` said as the scan began: answered, with the progress, while the scan holds the site.
    private let held = Mutex<(status: StatusRequest.Response, at: ContinuousClock.Instant)?>(nil)
    public var statusAtStart: StatusRequest.Response? { held.withLock { $0?.status } }
    /// Whether the status held is missing or over a minute old: a rescan after the start (every
    /// few seconds while the folder is missing) takes a new one only then.
    var needsStatus: Bool { held.withLock { $0.map { ContinuousClock.now - $0.at > .seconds(60) } ?? true } }
    private let observer = Mutex<(@Sendable (Snapshot?) -> Void)?>(nil)

    public init() {}

    /// The scan under way, or nil.
    public var current: Snapshot? { state.withLock { $0 } }

    /// Called with every change (a test's window on a scan).
    public func watch(_ body: @escaping @Sendable (Snapshot?) -> Void) { observer.withLock { $0 = body } }

    func begin(status: StatusRequest.Response?) {
        if let status { held.withLock { $0 = (status, .now) } }
        set(Snapshot())
    }
    func toRead(_ count: Int) { update { $0.toRead = count } }
    func readOne() { update { $0.read += 1 } }
    func end() { set(nil) }

    private func update(_ change: (inout Snapshot) -> Void) {
        let now: Snapshot? = state.withLock { snapshot in
            guard var s = snapshot else { return nil }
            change(&s)
            snapshot = s
            return s
        }
        if let now { observer.withLock { $0 }?(now) }
    }

    private func set(_ value: Snapshot?) {
        state.withLock { $0 = value }
        observer.withLock { $0 }?(value)
    }

    /// "scanning 45,120 of about 100,000 files", or the walk before it.
    public static func describe(_ snapshot: Snapshot) -> String {
        snapshot.toRead == 0 ? "scanning the folder" : "scanning \(grouped(snapshot.read)) of about \(grouped(snapshot.toRead)) files"
    }

    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }
}
