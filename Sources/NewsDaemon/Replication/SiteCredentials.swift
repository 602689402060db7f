import Foundation
import NIOSSL
import SyncProtocol
import X509

/// The TLS certificate a site presents, made from its identity key: self-signed, because trust
/// comes from the key's fingerprint being a configured site ID, not from any authority.
public struct SiteCredentials: Sendable {
    public let certificate: NIOSSLCertificate
    public let privateKey: NIOSSLPrivateKey

    public init(key: SiteKey) throws {
        let signing = Certificate.PrivateKey(key.privateKey)
        let name = try DistinguishedName { CommonName("newsd site \(key.siteID)") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: signing.publicKey,
            notValidBefore: now.addingTimeInterval(-86_400), notValidAfter: now.addingTimeInterval(100 * 365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions { SubjectAlternativeNames([.dnsName("newsd.invalid")]) },
            issuerPrivateKey: signing)
        self.certificate = try NIOSSLCertificate(bytes: Array(try certificate.serializeAsPEM().pemString.utf8), format: .pem)
        self.privateKey = try NIOSSLPrivateKey(bytes: Array(key.pem.utf8), format: .pem)
    }

    /// TLS 1.3 only, both ways, with a certificate required of the peer; who the peer may be is
    /// decided by `PeerVerifier`, not by a CA.
    public func serverContext() throws -> NIOSSLContext {
        var config = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(privateKey))
        config.minimumTLSVersion = .tlsv13
        config.certificateVerification = .noHostnameVerification
        // Peers are pinned by the verification callback; the system's CA bundle would only cost
        // its loading at every start.
        config.trustRoots = .certificates([])
        return try NIOSSLContext(configuration: config)
    }

    public func clientContext() throws -> NIOSSLContext {
        var config = TLSConfiguration.makeClientConfiguration()
        config.certificateChain = [.certificate(certificate)]
        config.privateKey = .privateKey(privateKey)
        config.minimumTLSVersion = .tlsv13
        config.certificateVerification = .noHostnameVerification
        config.trustRoots = .certificates([])
        return try NIOSSLContext(configuration: config)
    }
}
