import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A folder under the system temp directory, removed when the value is released.
public final class TemporaryFolder: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "newsd-test") {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/\(label)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func sub(_ relative: String) -> String { path + "/" + relative }

    /// Writes a file directly (no temp + rename), creating folders.
    @discardableResult
    public func write(_ relative: String, _ text: String) -> String {
        let full = sub(relative)
        try! FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        writeFile(full, text)
        return full
    }

    public func read(_ relative: String) -> String? {
        (try? Data(contentsOf: URL(fileURLWithPath: sub(relative)))).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// The reference articles from `seeds/`, for tests that want real Vietnamese prose.
public enum Seeds {
    public static var folder: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("seeds").path
    }

    public static func copy(to destination: String) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: destination + "/" + name)
        }
    }
}

/// Writes `text` to `path` (created or truncated) with a descriptor closed on exec: tests start
/// processes from other threads all the time, and a child that inherited a descriptor open for
/// writing would hold the file "open by another program" for as long as it runs, which is what
/// newsd's folder writer checks before it takes a file it found in an article's place.
public func writeFile(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    precondition(fd >= 0, "cannot write \(path): \(String(cString: strerror(errno)))")
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    close(fd)
    precondition(written == bytes.count, "short write to \(path)")
}
