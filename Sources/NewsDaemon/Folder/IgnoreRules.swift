import Glibc

/// Which names in the watched folder are not articles: editors' temp files, locks, backups, and
/// newsd's own temp files. Patterns are shell globs matched against the file's name.
public struct IgnoreRules: Sendable, Equatable {
    public static let defaults: [String] = [
        "*.swp", "*.swx", "*.swo", "*.tmp", "*~", "4913", // vim: swap files, backups, its write probe
        ".#*", "#*#",                                    // emacs: locks and autosaves
        ".~lock.*#",                                     // LibreOffice locks
        ".newsd-*",                                      // newsd's own temp files
        ".DS_Store", "Thumbs.db",
        ".goutputstream-*",                              // GNOME's save-by-rename temp files
    ]

    public let patterns: [String]
    /// The patterns as C strings, made once: each scan matches every file against all of them.
    private let cPatterns: [[CChar]]

    public init(patterns: [String] = IgnoreRules.defaults) {
        self.patterns = patterns
        cPatterns = patterns.map { Array($0.utf8CString) }
    }

    public static func == (a: IgnoreRules, b: IgnoreRules) -> Bool { a.patterns == b.patterns }

    /// True when the last component of `path` matches a pattern.
    public func ignores(path: String) -> Bool {
        let utf8 = path.utf8
        let start = utf8.lastIndex(of: UInt8(ascii: "/")).map { utf8.index(after: $0) } ?? utf8.startIndex
        var name = utf8[start...].map { CChar(bitPattern: $0) }
        name.append(0)
        return cPatterns.contains { fnmatch($0, name, 0) == 0 }
    }
}
