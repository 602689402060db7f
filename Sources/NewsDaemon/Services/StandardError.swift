import CShims
import Glibc

/// The daemon's stderr, which journald reads. FileHandle.write traps on any write error, and a
/// write a signal interrupts (EINTR) or a reader gone (EPIPE) must never end the daemon: such a
/// line is retried or dropped instead.
public enum StandardError {
    public static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            _ = newsd_write_all(STDERR_FILENO, bytes.baseAddress, UInt(bytes.count))
        }
    }
}
