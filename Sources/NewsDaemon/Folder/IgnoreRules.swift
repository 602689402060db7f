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
    /// The patterns made once into matchers: each scan matches every file against all of them.
    private let matchers: [Matcher]

    public init(patterns: [String] = IgnoreRules.defaults) {
        self.patterns = patterns
        matchers = patterns.map(Matcher.init)
    }

    public static func == (a: IgnoreRules, b: IgnoreRules) -> Bool { a.patterns == b.patterns }

    /// True when the last component of `path` matches a pattern.
    public func ignores(path: String) -> Bool {
        var path = path
        return path.withUTF8 { bytes in
            let name = UnsafeBufferPointer(rebasing: bytes[(bytes.lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 } ?? 0)...])
            return matchers.contains { $0.matches(name) }
        }
    }

    /// One pattern. Every default is a literal name or a single `*` between a prefix and a suffix,
    /// matched as bytes; 13 `fnmatch` calls per file were a tenth of a restart over 100,000 files.
    /// Any other glob (`?`, `[…]`, `\`, two stars) goes to `fnmatch`, with the same flags (none):
    /// without FNM_PERIOD a `*` also matches a leading dot, which the byte match does too.
    enum Matcher: Sendable {
        case literal([UInt8])
        case star(prefix: [UInt8], suffix: [UInt8])
        case glob([CChar])

        init(_ pattern: String) {
            let bytes = Array(pattern.utf8)
            let special: Set<UInt8> = [UInt8(ascii: "?"), UInt8(ascii: "["), UInt8(ascii: "\\")]
            let stars = bytes.indices.filter { bytes[$0] == UInt8(ascii: "*") }
            if bytes.contains(where: special.contains) || stars.count > 1 || bytes.contains(0) {
                self = .glob(Array(pattern.utf8CString))
            } else if let star = stars.first {
                self = .star(prefix: Array(bytes[..<star]), suffix: Array(bytes[(star + 1)...]))
            } else {
                self = .literal(bytes)
            }
        }

        func matches(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
            switch self {
            case .literal(let literal):
                return name.elementsEqual(literal)
            case .star(let prefix, let suffix):
                return name.count >= prefix.count + suffix.count && name.prefix(prefix.count).elementsEqual(prefix)
                    && name.suffix(suffix.count).elementsEqual(suffix)
            case .glob(let pattern):
                var cName = name.map { CChar(bitPattern: $0) }
                cName.append(0)
                return fnmatch(pattern, cName, 0) == 0
            }
        }
    }
}
