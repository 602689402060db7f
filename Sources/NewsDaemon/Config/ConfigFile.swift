import Foundation
import NewsWeb
import SyncProtocol
import TOMLKit

/// The settings a TOML config file may hold; every key optional, flags override each.
///
/// Unknown keys are errors, not warnings: a misspelt `mass_delete_fraction` silently falling back
/// to the default is the kind of surprise an operator finds out about too late.
public struct ConfigFile: Sendable, Equatable {
    public var siteName: String?
    public var watch: String?
    public var data: String?
    public var control: String?
    public var listen: String?
    public var logLevel: String?
    public var debounceMillis: Int?
    public var maxFileBytes: Int?
    public var ignore: [String]?
    public var massDeleteFraction: Double?
    public var massDeleteMinimum: Int?
    public var peers: [String]?
    public var metrics: String?
    /// Where to serve the web view (`web_listen = "127.0.0.1:7480"`); off when absent.
    public var webListen: String?
    /// The web view over HTTPS: a PEM certificate chain and its private key (both or neither).
    public var webTLSCert: String?
    public var webTLSKey: String?
    /// Addresses of a reverse proxy whose `web_proxy_user_header` names the signed-in account.
    public var webTrustedProxy: [String]?
    public var webProxyUserHeader: String?
    /// A file holding the secret the proxy sends with every request (`X-Newsd-Proxy-Secret`).
    public var webProxySecretFile: String?
    /// `max_clock_skew`: "10m", "90s", "1h", or whole seconds.
    public var maxClockSkewSeconds: Int?
    public var massDeleteWindowSeconds: Int?
    /// At start, how long local recording may wait for peers to hand back this site's own entries.
    public var rejoinTimeoutSeconds: Int?
    /// Site IDs no longer trusted: refused at the handshake, their later entries held aside when relayed.
    public var revoked: [String]?
    /// The newsroom's group: files and folders newsd writes get it (default: the watched folder's).
    public var group: String?
    /// Permissions of files and folders newsd writes, whatever the umask (`file_mode = "0664"`).
    public var fileMode: UInt32?
    public var folderMode: UInt32?
    /// Members may ask for changes over the control socket (restore, resolve, confirm deletes, sync).
    public var adminGroup: String?

    public init() {}

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let file: String
        public let detail: String
        public var description: String { "config \(file): \(detail)" }
    }

    static let knownKeys: Set<String> = [
        "site_name", "watch", "data", "control", "listen", "log_level", "debounce_ms", "max_file_bytes",
        "ignore", "mass_delete_fraction", "mass_delete_minimum", "peers", "metrics", "max_clock_skew", "mass_delete_window_s", "revoked", "rejoin_timeout_s",
        "group", "file_mode", "folder_mode", "admin_group", "web_listen",
        "web_tls_cert", "web_tls_key", "web_trusted_proxy", "web_proxy_user_header", "web_proxy_secret_file",
    ]

    public static func load(path: String) throws -> ConfigFile {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw Invalid(file: path, detail: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String = "<config>") throws -> ConfigFile {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw Invalid(file: file, detail: "\(error.description) at line \(error.source.begin.line)")
        }
        for key in table.keys where !knownKeys.contains(key) {
            throw Invalid(file: file, detail: "unknown key '\(key)'")
        }
        func string(_ key: String) throws -> String? {
            guard let value = table[key] else { return nil }
            guard let s = value.string else { throw Invalid(file: file, detail: "'\(key)' must be a string") }
            return s
        }
        func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let value = table[key] else { return nil }
            guard let n = value.int, range.contains(n) else {
                throw Invalid(file: file, detail: "'\(key)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
        var config = ConfigFile()
        config.siteName = try string("site_name")
        config.watch = try string("watch")
        config.data = try string("data")
        config.control = try string("control")
        config.listen = try string("listen")
        config.logLevel = try string("log_level")
        config.metrics = try string("metrics")
        config.webListen = try string("web_listen")
        if let web = config.webListen {
            do { _ = try Endpoint(web, listening: true) } catch { throw Invalid(file: file, detail: "web_listen: \(error)") }
        }
        config.webTLSCert = try string("web_tls_cert")
        config.webTLSKey = try string("web_tls_key")
        if (config.webTLSCert == nil) != (config.webTLSKey == nil) {
            throw Invalid(file: file, detail: "'web_tls_cert' and 'web_tls_key' go together: set both (a PEM certificate chain and its key) or neither")
        }
        if let value = table["web_trusted_proxy"] {
            // One address or several.
            let addresses = value.string.map { [$0] } ?? value.array?.compactMap(\.string)
            guard let addresses, !addresses.isEmpty, addresses.count == (value.array?.count ?? 1) else {
                throw Invalid(file: file, detail: "'web_trusted_proxy' must be an IP address, or an array of them, such as \"127.0.0.1\"")
            }
            for address in addresses where WebSecurity.canonicalIP(address) == nil {
                throw Invalid(file: file, detail: "web_trusted_proxy: '\(address)' is not an IP address (the proxy's own, as newsd sees its connections)")
            }
            config.webTrustedProxy = addresses
        }
        config.webProxyUserHeader = try string("web_proxy_user_header")
        if let header = config.webProxyUserHeader {
            guard !header.isEmpty, header.utf8.count <= 64, header.utf8.allSatisfy({ $0 < 0x80 && (isalnum(Int32($0)) != 0 || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")) }) else {
                throw Invalid(file: file, detail: "'web_proxy_user_header' must be a header name such as \"X-Forwarded-User\"")
            }
        }
        config.webProxySecretFile = try string("web_proxy_secret_file")
        if (config.webProxyUserHeader != nil || config.webProxySecretFile != nil) && config.webTrustedProxy == nil {
            throw Invalid(file: file, detail: "'web_proxy_user_header' and 'web_proxy_secret_file' need 'web_trusted_proxy': the header is believed only from the proxy's address")
        }
        // An address alone does not tell the proxy from any other program on its machine (every
        // account on this server, when the proxy is local): the proxy also proves a secret.
        if config.webTrustedProxy != nil && config.webProxySecretFile == nil {
            throw Invalid(file: file, detail: "'web_trusted_proxy' needs 'web_proxy_secret_file': a file with a secret of 32 characters or more that the proxy sends as X-Newsd-Proxy-Secret (docs/WEB.md)")
        }
        if let metrics = config.metrics {
            do { _ = try Endpoint(metrics, listening: true) } catch { throw Invalid(file: file, detail: "metrics: \(error)") }
        }
        config.debounceMillis = try int("debounce_ms", 0...60_000)
        // No larger than the protocol's blob limit: a site must never record what its peers refuse.
        config.maxFileBytes = try int("max_file_bytes", 1...Int(WireCodec.maximumBlobBytes))
        config.massDeleteMinimum = try int("mass_delete_minimum", 0...Int(Int32.max))
        config.massDeleteWindowSeconds = try int("mass_delete_window_s", 0...86_400)
        // Below the unit's TimeoutStartSec (15 min) with room for the scan: a wait systemd cuts short
        // would restart newsd and begin the wait again.
        config.rejoinTimeoutSeconds = try int("rejoin_timeout_s", 0...600)
        if let value = table["mass_delete_fraction"] {
            guard let f = value.double ?? value.int.map(Double.init), (0...1).contains(f) else {
                throw Invalid(file: file, detail: "'mass_delete_fraction' must be a number from 0 to 1")
            }
            config.massDeleteFraction = f
        }
        func strings(_ key: String) throws -> [String]? {
            guard let value = table[key] else { return nil }
            guard let array = value.array else { throw Invalid(file: file, detail: "'\(key)' must be an array of strings") }
            return try array.map {
                guard let s = $0.string else { throw Invalid(file: file, detail: "'\(key)' must be an array of strings") }
                return s
            }
        }
        if let value = table["max_clock_skew"] {
            guard let seconds = value.int ?? value.string.flatMap(Self.seconds(from:)), (0...(365 * 86_400)).contains(seconds) else {
                throw Invalid(file: file, detail: "'max_clock_skew' must be a duration such as \"10m\", \"90s\" or \"1h\" (at most a year)")
            }
            config.maxClockSkewSeconds = seconds
        }
        func mode(_ key: String, _ example: String) throws -> UInt32? {
            guard let value = table[key] else { return nil }
            guard let text = value.string, !text.isEmpty, text.count <= 5, let bits = UInt32(text, radix: 8), bits <= 0o7777 else {
                throw Invalid(file: file, detail: "'\(key)' must be octal permissions in quotes, such as \"\(example)\"")
            }
            return bits
        }
        config.fileMode = try mode("file_mode", "0664")
        config.folderMode = try mode("folder_mode", "2775")
        // Content from other sites must never land set-user-ID or set-group-ID.
        if let bits = config.fileMode, bits & 0o6000 != 0 {
            throw Invalid(file: file, detail: "'file_mode' may not have the set-user-ID or set-group-ID bit")
        }
        if let bits = config.fileMode, bits & 0o600 != 0o600 {
            throw Invalid(file: file, detail: "'file_mode' must let newsd read and write its own files (0600 at least)")
        }
        if let bits = config.folderMode, bits & 0o700 != 0o700 {
            throw Invalid(file: file, detail: "'folder_mode' must let newsd use its own folders (0700 at least)")
        }
        config.group = try string("group")
        config.adminGroup = try string("admin_group")
        for (key, name) in [("group", config.group), ("admin_group", config.adminGroup)] {
            if let name, name.isEmpty || name.contains(where: { $0 == ":" || $0 == "/" || $0.isWhitespace }) {
                throw Invalid(file: file, detail: "'\(key)' must be a group name")
            }
        }
        config.ignore = try strings("ignore")
        config.peers = try strings("peers")
        config.revoked = try strings("revoked")
        for site in config.revoked ?? [] {
            do { _ = try SiteID.parse(site) } catch { throw Invalid(file: file, detail: "revoked: \(error)") }
        }
        for peer in config.peers ?? [] {
            do { _ = try PeerAddress(peer) } catch { throw Invalid(file: file, detail: "\(error)") }
        }
        if let listen = config.listen {
            do { _ = try Endpoint(listen, listening: true) } catch { throw Invalid(file: file, detail: "listen: \(error)") }
        }
        return config
    }

    /// "90s", "10m", "2h", "1d" or a bare number of seconds.
    static func seconds(from text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        guard let last = text.last else { return nil }
        if let unit = units[last] {
            guard let number = Int(text.dropLast()) else { return nil }
            let (seconds, overflow) = number.multipliedReportingOverflow(by: unit)
            return overflow ? nil : seconds
        }
        return Int(text)
    }
}
