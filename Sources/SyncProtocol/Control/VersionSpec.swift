/// Which version of an article a command means: the head, `ARTICLE@PREFIX` (at least 6 hex digits of
/// a version ID) or `ARTICLE~N` (N versions before the head), as in git.
///
/// On the control socket it is the same string a person types: `"head"`, `"~2"`, `"4cea2b3f"`.
public enum VersionSpec: Codable, Sendable, Equatable, CustomStringConvertible {
    case head
    case prefix(String)
    case back(Int)

    public static let minimumPrefixLength = 6

    public var description: String {
        switch self {
        case .head: "head"
        case .prefix(let p): p
        case .back(let n): "~\(n)"
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let spec = VersionSpec(argument: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "'\(text.prefix(80))' is not a version: 6+ hex digits, ~N or head"))
        }
        self = spec
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Parses a bare version argument (`FROM`/`TO` of diff, `--take`): a hex prefix, `~N`, or `head`.
    public init?(argument: String) {
        if argument == "head" || argument == "HEAD" {
            self = .head
        } else if argument.hasPrefix("~"), let n = Int(argument.dropFirst()), n >= 0 {
            self = .back(n)
        } else if argument.count >= Self.minimumPrefixLength, Hex.isHexPrefix(argument), argument.count <= 64 {
            self = .prefix(argument.lowercased())
        } else {
            return nil
        }
    }

    /// Splits `ARTICLE@VERSION` or `ARTICLE~N`; anything else is the article at its head.
    public static func split(_ reference: String) -> (article: String, version: VersionSpec) {
        if let at = reference.lastIndex(of: "@") {
            let suffix = String(reference[reference.index(after: at)...])
            if let spec = VersionSpec(argument: suffix), case .prefix = spec {
                return (String(reference[..<at]), spec)
            }
        }
        if let tilde = reference.lastIndex(of: "~") {
            let suffix = reference[reference.index(after: tilde)...]
            if !suffix.isEmpty, let n = Int(suffix), n >= 0 {
                return (String(reference[..<tilde]), .back(n))
            }
        }
        return (reference, .head)
    }
}
