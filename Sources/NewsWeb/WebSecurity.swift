import Crypto
import Foundation
import NIOSSL

/// How the web view is reached: over HTTPS with its own certificate (`web_tls_cert`,
/// `web_tls_key`), and/or behind a reverse proxy that signs editors in and names them in a header
/// (`web_trusted_proxy`, `web_proxy_user_header`), believed only on connections from the proxy.
public struct WebSecurity: Sendable {
    /// Set when newsd serves HTTPS itself: cookies are then `Secure`.
    public var tls: TLSConfiguration?
    /// The proxy's addresses, canonical (see `canonicalIP`).
    public var trustedProxies: Set<String>
    /// The header a trusted proxy names the account in.
    public var proxyUserHeader: String
    /// What the proxy sends in `proxySecretHeader` with every request: its address alone does not
    /// tell it from another program on its machine.
    public var proxySecret: String
    public static let proxySecretHeader = "X-Newsd-Proxy-Secret"
    /// The shortest secret taken.
    public static let minimumSecretLength = 32
    /// Proxied accounts have no session: their forms carry a token derived from this and the
    /// account's name, so a page from before a restart asks to be loaded again.
    let proxyFormKey: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }

    public static let defaultProxyUserHeader = "X-Forwarded-User"

    /// A trusted proxy counts only with a secret of at least `minimumSecretLength` characters.
    public init(tls: TLSConfiguration? = nil, trustedProxies: [String] = [], proxyUserHeader: String? = nil, proxySecret: String = "") {
        self.tls = tls
        self.proxySecret = proxySecret
        self.trustedProxies = proxySecret.count >= Self.minimumSecretLength ? Set(trustedProxies.compactMap(Self.canonicalIP)) : []
        self.proxyUserHeader = proxyUserHeader ?? Self.defaultProxyUserHeader
    }

    /// The proxy's secret: the file's text without surrounding white space, of at least
    /// `minimumSecretLength` characters. The file itself (not a symlink), owned by root or by
    /// newsd's user, nobody else may write it and only its group may read it: whoever can read
    /// or replace it can act as any web account.
    public static func proxySecret(file: String) throws -> String {
        let fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw Unreadable(file: file, what: "a readable file (not a symlink)", error: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { throw Unreadable(file: file, what: "a regular file", error: nil) }
        guard st.st_uid == 0 || st.st_uid == geteuid() else {
            throw Unreadable(file: file, what: "owned by root or by newsd's own user (uid \(geteuid())): the owner can change the secret", error: nil)
        }
        guard st.st_mode & 0o037 == 0 else {
            throw Unreadable(file: file, what: "kept from other accounts (mode \(String(st.st_mode & 0o777, radix: 8)); chmod 0640 or 0600: only its group may read it)", error: nil)
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= 4096 {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { break }
            bytes += buffer[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard secret.count >= minimumSecretLength, !secret.contains(where: \.isNewline) else {
            throw Unreadable(file: file, what: "a secret of one line and \(minimumSecretLength) characters or more (`openssl rand -hex 32`)", error: nil)
        }
        return secret
    }

    /// Reads a PEM certificate chain and its private key; a clear error naming the file otherwise.
    public static func tls(certificate: String, key: String) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(certificate) } catch {
            throw Unreadable(file: certificate, what: "a PEM certificate chain", error: error)
        }
        guard !chain.isEmpty else { throw Unreadable(file: certificate, what: "a PEM certificate chain", error: nil) }
        do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
            throw Unreadable(file: key, what: "a PEM private key", error: error)
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        // A key that is not the certificate's shows here, not at the first connection.
        do { _ = try NIOSSLContext(configuration: configuration) } catch {
            throw Unreadable(file: key, what: "the private key of \(certificate)", error: error)
        }
        return configuration
    }

    public struct Unreadable: Error, CustomStringConvertible {
        public let file: String
        public let what: String
        public let error: (any Error)?
        public var description: String { "\(file) is not \(what)" + (error.map { ": \($0)" } ?? "") }
    }

    /// The form token of a proxied account.
    func formToken(for account: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Array("newsd proxied form\0\(account)".utf8), using: SymmetricKey(data: proxyFormKey))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// An IP address as the kernel reports a connection's peer (`::1`, `127.0.0.1`; an IPv4
    /// address mapped into IPv6 as plain IPv4), or nil when `text` is not one. Names are not
    /// looked up: a trusted address must not depend on DNS.
    public static func canonicalIP(_ text: String) -> String? {
        var v4 = in_addr(), v6 = in6_addr()
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if inet_pton(AF_INET, text, &v4) == 1 {
            return inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count)).map { String(cString: $0) }
        }
        guard inet_pton(AF_INET6, text, &v6) == 1, let out = inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) else { return nil }
        let canonical = String(cString: out)
        if canonical.hasPrefix("::ffff:"), let mapped = canonicalIP(String(canonical.dropFirst(7))), !mapped.contains(":") { return mapped }
        return canonical
    }
}
