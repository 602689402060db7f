/// Who made an entry's change at its origin (protocol v5): the account that saved the file, or
/// the one that asked for a restore or resolve. Signed by the origin's key over the entry's
/// version and the name, so a site that relays it can drop it but cannot alter or forge it.
///
/// Names are as the origin knows them: a system account (`lan`), `uid N` when it has no name,
/// or `web:NAME` for an account of the web view.
public struct EntryAuthor: Hashable, Sendable {
    public let version: VersionID
    public let name: String
    public let signature: [UInt8]

    /// The most UTF-8 bytes a name may take.
    public static let maximumNameBytes = 128
    /// The most a frame may carry: a longer name is a malformed frame, a name between the two is
    /// one no origin signs, so the author is dropped and the entry kept.
    public static let maximumWireNameBytes = 1024

    public init(version: VersionID, name: String, signature: [UInt8]) {
        self.version = version
        self.name = name
        self.signature = signature
    }

    /// Signs `name` for `version` as `clean` leaves it; nil when nothing of the name is left.
    public init?(signer: SiteKey, version: VersionID, name: String) throws {
        let clean = Self.clean(name)
        guard !clean.isEmpty else { return nil }
        self.version = version
        self.name = clean
        self.signature = try signer.sign(message: Self.message(version: version, name: clean))
    }

    /// A name as it may be signed: control characters and line or paragraph separators made
    /// spaces, bidi controls and invisible characters removed, no space at either end, at most
    /// `maximumNameBytes` bytes. Part of the protocol: a received name this changes is not valid,
    /// so the rule uses fixed lists, not Unicode's tables (which change between versions).
    public static func clean(_ name: String) -> String {
        var out = ""
        for c in name {
            var piece = ""
            for scalar in c.unicodeScalars {
                if isSpaced(scalar) { piece.unicodeScalars.append(" ") } else if !isRemoved(scalar) { piece.unicodeScalars.append(scalar) }
            }
            guard out.utf8.count + piece.utf8.count <= maximumNameBytes else { break }
            out += piece
        }
        return String(out.unicodeScalars.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed().map(Character.init))
    }

    /// C0 and C1 controls, DEL, and the line and paragraph separators.
    static func isSpaced(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    /// Characters that reorder or hide text: soft hyphen, Arabic letter mark, Mongolian vowel
    /// separator, zero-width and directional marks, bidi embeddings, overrides and isolates,
    /// invisible operators, the byte order mark.
    static func isRemoved(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0xAD, 0x61C, 0x180E, 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x2069, 0xFEFF: true
        default: false
        }
    }

    /// A name as people read it: `web:thu` is "thu (web)".
    public static func display(_ name: String) -> String {
        name.hasPrefix("web:") ? "\(name.dropFirst(4)) (web)" : name
    }

    /// Whether the name is one an origin could have signed, and the signature is `origin`'s.
    public func isValid(for entry: LogEntry, originKey: SiteKey.Public) -> Bool {
        version == entry.version && !name.isEmpty && Self.clean(name) == name && originKey.siteID == entry.origin
            && originKey.isValid(signature: signature, forMessage: Self.message(version: version, name: name))
    }

    static let domain = Array("newsd entry author v1\0".utf8)

    static func message(version: VersionID, name: String) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.write(raw: domain)
        w.write(raw: version.bytes)
        w.write(string: name)
        return w.bytes
    }
}
