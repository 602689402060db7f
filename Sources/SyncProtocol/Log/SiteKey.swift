import Crypto
import Foundation

/// A site's private key: it names the site (`SiteID`), signs its entries and, in replication,
/// backs its TLS certificate. P-256, so every TLS stack accepts the certificate made from it.
///
/// `@unchecked Sendable`: swift-crypto 3 does not mark its key types Sendable, but they are
/// immutable after creation and BoringSSL's signing and verifying only read them.
public struct SiteKey: @unchecked Sendable {
    public let privateKey: P256.Signing.PrivateKey
    public let siteID: SiteID

    public init() { self.init(privateKey: P256.Signing.PrivateKey()) }

    public init(privateKey: P256.Signing.PrivateKey) {
        self.privateKey = privateKey
        self.siteID = SiteID(publicKeyDER: Array(privateKey.publicKey.derRepresentation))
    }

    public init(pem: String) throws { self.init(privateKey: try P256.Signing.PrivateKey(pemRepresentation: pem)) }

    public var pem: String { privateKey.pemRepresentation }
    public var publicKey: Public { Public(key: privateKey.publicKey) }

    public func sign(_ version: VersionID) throws -> [UInt8] {
        Array(try privateKey.signature(for: version.bytes).rawRepresentation)
    }

    /// Signs other bytes the origin vouches for (an entry's author); `message` starts with a
    /// domain of its own, so it can never be taken for a version.
    public func sign(message: [UInt8]) throws -> [UInt8] {
        Array(try privateKey.signature(for: message).rawRepresentation)
    }

    /// The public half, as stored in the log beside the entries it verifies.
    public struct Public: @unchecked Sendable, Hashable {
        public let key: P256.Signing.PublicKey
        public let siteID: SiteID

        public init(key: P256.Signing.PublicKey) {
            self.key = key
            self.siteID = SiteID(publicKeyDER: Array(key.derRepresentation))
        }

        public init(der: [UInt8]) throws { self.init(key: try P256.Signing.PublicKey(derRepresentation: der)) }

        public var der: [UInt8] { Array(key.derRepresentation) }

        public func isValid(signature: [UInt8], for version: VersionID) -> Bool {
            guard let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: version.bytes)
        }

        public func isValid(signature: [UInt8], forMessage message: [UInt8]) -> Bool {
            guard let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: message)
        }

        public static func == (lhs: Public, rhs: Public) -> Bool { lhs.der == rhs.der }
        public func hash(into hasher: inout Hasher) { hasher.combine(der) }
    }
}
