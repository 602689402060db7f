import Synchronization

/// Why the last reload was refused, until one succeeds: `systemctl status` keeps saying so, rather
/// than the next status line hiding that the file on disk is not the configuration in force.
public final class ReloadRefusal: Sendable {
    private let reason = Mutex<String?>(nil)

    public init() {}

    public var current: String? { reason.withLock { $0 } }
    public func set(_ text: String?) { reason.withLock { $0 = text } }
}
