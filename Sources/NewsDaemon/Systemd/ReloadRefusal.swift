import Foundation
import Synchronization

/// Why the last reload was refused, until one succeeds: `systemctl status` keeps saying so, rather
/// than the next status line hiding that the file on disk is not the configuration in force.
///
/// The unit's reload step (`newsd check-config --reload`) refuses in a process of its own, before
/// newsd hears of the reload; it leaves the reason in the service's runtime folder
/// (`$RUNTIME_DIRECTORY/reload-refused`), which this reads, and removes it when a reload passes.
public final class ReloadRefusal: Sendable {
    private let reason = Mutex<String?>(nil)
    public let file: String?

    public init(file: String? = ReloadRefusal.defaultFile()) { self.file = file }

    /// `$RUNTIME_DIRECTORY/reload-refused` under systemd; nil elsewhere.
    public static func defaultFile(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard let folders = environment["RUNTIME_DIRECTORY"], let first = folders.split(separator: ":").first, !first.isEmpty else { return nil }
        return String(first) + "/reload-refused"
    }

    public var current: String? {
        if let held = reason.withLock({ $0 }) { return held }
        guard let file, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        return line.isEmpty ? nil : String(line.prefix(500))
    }

    public func set(_ text: String?) {
        reason.withLock { $0 = text }
        if text == nil, let file { unlink(file) }
    }

    /// For the reload step: leave the reason for the daemon, or clear it when the config passes.
    public func record(_ text: String?) {
        guard let file else { return }
        if let text { try? (text + "\n").write(toFile: file, atomically: true, encoding: .utf8) } else { unlink(file) }
    }
}
