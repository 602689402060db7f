import Crypto

/// A site's identity as people read it: the fingerprint of its public key.
///
/// 120 bits of SHA-256 over the key's DER SubjectPublicKeyInfo, in RFC 4648 base32, as four groups of
/// six. Peers are pinned by it, as Syncthing pins device IDs, so it must be derived from the key and
/// nothing else. The log and the wire keep that 24-character form (`rawValue`); people see each group
/// with a Luhn mod 32 check character appended (`MFRGGZA-DFMZTWQ-...`, as Syncthing's device IDs
/// carry), so a mistyped ID is caught as a typo in a named group instead of failing as "refused".
public struct SiteID: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: String

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
    static let groups = 4
    static let groupLength = 6

    /// Parses either printed form (with or without check characters); case and missing dashes are
    /// forgiven, anything else is not. `parse` says what is wrong.
    public init?(_ text: String) {
        if Self.isCanonical(text) {
            rawValue = text
            return
        }
        guard let id = try? Self.parse(text) else { return nil }
        self = id
    }

    private init(compact: String) { rawValue = Self.grouped(compact) }

    /// Parses a site ID as a person typed it, with an error that names the group that is wrong.
    public static func parse(_ text: String) throws(SiteIDError) -> SiteID {
        let trimmed = text.trimmingWhitespace
        if isCanonical(trimmed) { return SiteID(compact: trimmed.filter { $0 != "-" }) }
        let compact = Array(trimmed.uppercased().utf8.filter { $0 != UInt8(ascii: "-") })
        if let bad = compact.first(where: { !alphabet.contains($0) }) {
            throw SiteIDError(text: text, reason: .character(Character(Unicode.Scalar(bad))))
        }
        switch compact.count {
        case groups * groupLength:
            return SiteID(compact: String(decoding: compact, as: UTF8.self))
        case groups * (groupLength + 1):
            var data: [UInt8] = []
            for group in 0..<groups {
                let chunk = compact[(group * (groupLength + 1))..<((group + 1) * (groupLength + 1))]
                let body = Array(chunk.dropLast())
                guard checkCharacter(body) == chunk.last else {
                    throw SiteIDError(text: text, reason: .check(group: group + 1, typed: String(decoding: chunk, as: UTF8.self)))
                }
                data += body
            }
            return SiteID(compact: String(decoding: data, as: UTF8.self))
        default:
            throw SiteIDError(text: text, reason: .length(compact.count))
        }
    }

    /// Luhn mod 32 over one group (Syncthing's variant: the factor starts at 1 on the left).
    static func checkCharacter(_ group: some Sequence<UInt8>) -> UInt8 {
        var factor = 1, sum = 0
        for byte in group {
            let addend = factor * (alphabet.firstIndex(of: byte) ?? 0)
            factor = factor == 2 ? 1 : 2
            sum += addend / 32 + addend % 32
        }
        return alphabet[(32 - sum % 32) % 32]
    }

    /// The form people read and type: each group with its check character.
    public var printed: String {
        rawValue.split(separator: "-").map { String($0) + String(decoding: [Self.checkCharacter($0.utf8)], as: UTF8.self) }
            .joined(separator: "-")
    }

    public init(publicKeyDER: [UInt8]) {
        let digest = Array(SHA256.hash(data: publicKeyDER)).prefix(15)
        rawValue = Self.grouped(Self.base32(Array(digest)))
    }

    /// Already in printed form (as every ID read back from the log is): upper case, dashes in place.
    static func isCanonical(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == groups * groupLength + groups - 1 else { return false }
        for (index, byte) in bytes.enumerated() {
            if (index + 1) % (groupLength + 1) == 0 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard alphabet.contains(byte) else { return false }
            }
        }
        return true
    }

    public var description: String { printed }
    /// The first group: enough to tell a handful of sites apart in a table.
    public var short: String { String(rawValue.prefix(Self.groupLength)) }

    public static func < (lhs: SiteID, rhs: SiteID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = SiteID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a site ID: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    static func base32(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        var buffer = 0, bits = 0
        for byte in bytes {
            buffer = buffer << 8 | Int(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return String(decoding: out, as: UTF8.self)
    }

    static func grouped(_ compact: String) -> String {
        var parts: [Substring] = []
        var rest = Substring(compact)
        while !rest.isEmpty {
            parts.append(rest.prefix(groupLength))
            rest = rest.dropFirst(groupLength)
        }
        return parts.joined(separator: "-")
    }
}

/// Why a typed site ID was not accepted, in words an operator can act on.
public struct SiteIDError: Error, CustomStringConvertible, Equatable {
    public enum Reason: Equatable {
        case character(Character)
        case length(Int)
        /// 1-based group whose check character does not match.
        case check(group: Int, typed: String)
    }
    public let text: String
    public let reason: Reason

    public var description: String {
        switch reason {
        case .character(let c):
            let hint: [Character: String] = ["0": " (did you mean O?)", "1": " (did you mean I?)", "8": " (did you mean B?)"]
            return "'\(text)' is not a site ID: '\(c)' cannot appear in one (A-Z and 2-7 only\(hint[c] ?? ""))"
        case .length(let n):
            return "'\(text)' is not a site ID: it has \(n) characters besides dashes; a site ID has 4 groups of 7 (or of 6, printed before check characters)"
        case .check(let group, let typed):
            return "'\(text)' is not a site ID: group \(group) (\(typed)) does not check; a character in it is mistyped"
        }
    }
}

private extension String {
    var trimmingWhitespace: String {
        let isSpace: (Unicode.Scalar) -> Bool = { $0.properties.isWhitespace }
        var scalars = String.UnicodeScalarView(unicodeScalars.drop(while: isSpace))
        while let last = scalars.last, isSpace(last) { scalars.removeLast() }
        return String(scalars)
    }
}
