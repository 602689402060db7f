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

    public init(patterns: [String] = IgnoreRules.defaults) { self.patterns = patterns }

    /// True when the last component of `path` matches a pattern.
    public func ignores(path: String) -> Bool {
        let name = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(path[path.utf8.index(after: $0)...]) } ?? path
        return patterns.contains { fnmatch($0, name, 0) == 0 }
    }
}
