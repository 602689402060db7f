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
        try Self.validate(nfc.utf8)
        rawValue = nfc
    }

    /// One pass over the bytes: splitting a String walks grapheme clusters, which made validation
    /// the largest cost of a restart's scan.
    private static func validate(_ bytes: String.UTF8View) throws(Invalid) {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        guard let first = bytes.first else { throw .empty }
        guard first != slash else { throw .absolute }
        guard bytes.count <= 4096 else { throw .tooLong(bytes.count) }
        var length = 0
        var onlyDots = true
        var badComponent: String?
        func endComponent() {
            if badComponent == nil && (length == 0 || (onlyDots && length <= 2)) {
                badComponent = String(repeating: ".", count: length)
            }
            length = 0
            onlyDots = true
        }
        for byte in bytes {
            if byte == 0 { throw .controlCharacter }
            if byte == slash {
                endComponent()
            } else {
                length += 1
                if byte != dot { onlyDots = false }
            }
        }
        endComponent()
        if let badComponent { throw .badComponent(badComponent) }
    }

    public var description: String { rawValue }

    private static let tempMarker = Array(".newsd-".utf8)

    /// Why newsd neither records a local file by this name nor creates one from a peer, or nil.
    /// Control characters (C0, DEL, C1) make names that terminals and scripts mangle; `.newsd-*.tmp`
    /// is newsd's own temp name. Entries already in logs keep such names: they are stored and
    /// relayed as they are (refusing them would break their origin's chain for good).
    public var unsafeReason: String? {
        var previous: UInt8 = 0
        // Split only when ".newsd-" occurs: this runs for every file of every scan. ('.' occurs
        // once in the marker, so a mismatch restarts the match at this byte.)
        var matched = 0, marked = false
        for byte in rawValue.utf8 {
            if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && (0x80...0x9F).contains(byte)) {
                return "contains a control character"
            }
            if byte == Self.tempMarker[matched] {
                matched += 1
                if matched == Self.tempMarker.count { (marked, matched) = (true, 0) }
            } else {
                matched = byte == Self.tempMarker[0] ? 1 : 0
            }
            previous = byte
        }
        guard marked else { return nil }
        for component in components where component.hasPrefix(".newsd-") && component.hasSuffix(".tmp") {
            return "is a newsd temp name"
        }
        return nil
    }

    /// The path with control characters shown as `\u{…}`, for printing names that came from peers.
    public var escaped: String { Self.escape(rawValue) }

    public static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
    public var components: [Substring] { rawValue.split(separator: "/") }
    /// The last component, the file's name.
    public var name: String {
        guard let slash = rawValue.utf8.lastIndex(of: UInt8(ascii: "/")) else { return rawValue }
        return String(rawValue[rawValue.utf8.index(after: slash)...])
    }

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
