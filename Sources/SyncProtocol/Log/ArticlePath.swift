import Foundation

/// Where an article lives, relative to the watched folder: `/`-separated, Unicode NFC.
///
/// Two sites whose file systems spell a Vietnamese name differently (NFC on Linux, NFD from a Mac
/// share) still name the same article, and a path from a peer can never climb out of the folder.
public struct ArticlePath: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: String

    public enum Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case absolute
        case badComponent(String)
        case controlCharacter
        case tooLong(Int)

        public var description: String {
            switch self {
            case .empty: "article path is empty"
            case .absolute: "article path must be relative to the watched folder"
            case .badComponent(let c): "article path has an invalid component '\(c)'"
            case .controlCharacter: "article path contains a NUL character"
            case .tooLong(let n): "article path is \(n) bytes long; the limit is 4096"
            }
        }
    }

    public init(_ text: String) throws(Invalid) {
        // ASCII is already NFC: skip Foundation's normalization, which dominated a restart's scan
        // of 10,000 unchanged files (three normalizations per file).
        let nfc = text.utf8.allSatisfy({ $0 < 0x80 }) ? text : text.precomposedStringWithCanonicalMapping
        guard !nfc.isEmpty else { throw .empty }
        guard !nfc.hasPrefix("/") else { throw .absolute }
        guard !nfc.utf8.contains(0) else { throw .controlCharacter }
        guard nfc.utf8.count <= 4096 else { throw .tooLong(nfc.utf8.count) }
        for component in nfc.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty || component == "." || component == ".." {
                throw .badComponent(String(component))
            }
        }
        rawValue = nfc
    }

    public var description: String { rawValue }
    public var components: [Substring] { rawValue.split(separator: "/") }
    public var name: String { String(components.last ?? "") }

    /// True when this article lies under `folder` (an article path prefix, without trailing slash).
    public func isInside(folder: String) -> Bool {
        folder.isEmpty || rawValue.hasPrefix(folder + "/")
    }

    public static func < (lhs: ArticlePath, rhs: ArticlePath) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
