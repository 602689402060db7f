import CShims
import Glibc
import Synchronization

/// The daemon's stderr, which journald reads. FileHandle.write traps on any write error, and a
/// write a signal interrupts (EINTR) or a reader gone (EPIPE) must never end the daemon: such a
/// line is retried or dropped instead.
public enum StandardError {
    public static func write(_ text: String) {
        // A line written over a progress line starts by clearing it (the next tick redraws it).
        var text = progressShown.exchange(false, ordering: .relaxed) ? "\r\u{1B}[K" + text : text
        text.withUTF8 { bytes in
            _ = newsd_write_all(STDERR_FILENO, bytes.baseAddress, UInt(bytes.count))
        }
    }

    private static let progressShown = Atomic<Bool>(false)

    /// A line redrawn in place on a terminal (a long scan's progress), or nil to clear it.
    public static func progress(_ line: String?) {
        write("\r\u{1B}[K" + (line ?? ""))
        progressShown.store(line != nil, ordering: .relaxed)
    }
}
