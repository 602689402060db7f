import Crypto

/// A site's identity as people read it: the fingerprint of its public key.
///
/// 120 bits of SHA-256 over the key's DER SubjectPublicKeyInfo, in RFC 4648 base32, as four groups of
/// six (`MFRGGZ-DFMZTW-...`). Peers are pinned by it, as Syncthing pins device IDs, so it must be
/// derived from the key and nothing else.
public struct SiteID: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: String

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
    static let groups = 4
    static let groupLength = 6

    /// Parses the printed form; case and missing dashes are forgiven, anything else is not.
    public init?(_ text: String) {
        if Self.isCanonical(text) {
            rawValue = text
            return
        }
        let compact = text.uppercased().filter { $0 != "-" }
        guard compact.utf8.count == Self.groups * Self.groupLength,
              compact.utf8.allSatisfy({ Self.alphabet.contains($0) }) else { return nil }
        rawValue = Self.grouped(compact)
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

    public var description: String { rawValue }
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
