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

    /// The reload step's reason when it left one (it is the newer: it refuses before newsd hears of
    /// the reload), else newsd's own.
    public var current: String? {
        guard let file, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return reason.withLock { $0 } }
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
        guard let text else { unlink(file); return }
        // 0600 and made afresh: the runtime folder's group (editors) must not rewrite what
        // `systemctl status` says.
        let temp = file + ".new"
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let bytes = Array((text.replacingOccurrences(of: "\n", with: " ") + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if written == bytes.count { rename(temp, file) } else { unlink(temp) }
    }
}
