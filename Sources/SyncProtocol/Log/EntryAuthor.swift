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
    public static let maximumNameBytes = 64

    public init(version: VersionID, name: String, signature: [UInt8]) {
        self.version = version
        self.name = name
        self.signature = signature
    }

    /// Signs `name` for `version`; a name past the limit is cut (at a character), control
    /// characters become spaces.
    public init(signer: SiteKey, version: VersionID, name: String) throws {
        let clean = Self.clean(name)
        self.version = version
        self.name = clean
        self.signature = try signer.sign(message: Self.message(version: version, name: clean))
    }

    /// A name as it may be signed: no control characters, at most `maximumNameBytes` bytes.
    public static func clean(_ name: String) -> String {
        var out = ""
        for c in name {
            let piece = c.unicodeScalars.contains { $0.properties.generalCategory == .control } ? " " : String(c)
            guard out.utf8.count + piece.utf8.count <= maximumNameBytes else { break }
            out += piece
        }
        return out
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
