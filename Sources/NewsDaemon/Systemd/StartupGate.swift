import Synchronization

/// Waits for the parts that must be up before newsd calls itself ready (the start-up scan done,
/// the control socket and the replication listener bound), then runs `onReady` once.
public final class StartupGate: Sendable {
    public enum Part: Hashable, Sendable { case scan, control, replication }

    private let waiting: Mutex<Set<Part>>
    private let onReady: @Sendable () async -> Void

    public init(parts: Set<Part>, onReady: @escaping @Sendable () async -> Void) {
        waiting = Mutex(parts)
        self.onReady = onReady
    }

    public func done(_ part: Part) async {
        let allDone = waiting.withLock { parts -> Bool in
            guard parts.remove(part) != nil else { return false }
            return parts.isEmpty
        }
        if allDone { await onReady() }
    }
}
