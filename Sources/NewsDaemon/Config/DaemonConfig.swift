import Foundation
import Logging
import SyncProtocol

/// Everything newsd runs with, resolved from defaults, the config file and flags (in that order).
public struct DaemonConfig: Sendable, Equatable {
    public var siteName: String
    public var watchDir: String
    public var dataDir: String
    public var controlPath: String
    public var listen: Endpoint
    /// Peers from the config file and `--peer` flags.
    public var peers: [PeerAddress]
    /// Peers added with `newsctl peers add`, from the data folder's `peers.toml`.
    public var addedPeers: [PeerAddress] = []
    /// Where to serve Prometheus metrics; nil for off.
    public var metrics: Endpoint?
    /// Where to serve the web view; nil for off.
    public var web: Endpoint? = nil
    /// The web view's certificate chain and key (PEM): HTTPS when set.
    public var webTLS: WebTLSFiles? = nil
    /// A reverse proxy trusted to name the signed-in account (`web_trusted_proxy`), and its header.
    public var webTrustedProxies: [String] = []
    public var webProxyUserHeader: String? = nil
    public var webProxySecretFile: String? = nil

    public struct WebTLSFiles: Sendable, Equatable {
        public var certificate: String
        public var key: String
    }
    public var logLevel: Logger.Level
    public var debounce: Duration
    public var maximumFileBytes: Int64
    public var ignorePatterns: [String]
    public var massDeleteFraction: Double
    public var massDeleteMinimum: Int
    /// Remote times further ahead of the wall clock than this are stored but not followed.
    public var maximumClockSkewMillis: UInt64
    public var massDeleteWindowMillis: UInt64
    /// At start, local changes wait at most this long for peers to hand back this site's own
    /// entries (`rejoin_timeout_s`, `--rejoin-timeout`); zero: do not wait.
    public var rejoinTimeout: Duration
    /// Sites revoked: never a peer, whatever `peers` says; their entries past what this site held
    /// at the revocation are stored but held aside (never heads, never files).
    public var revoked: [SiteID]
    /// The group given to files and folders newsd writes; nil: the watched folder's group.
    public var group: String?
    public var fileMode: UInt32
    public var folderMode: UInt32
    /// Members (and root, and newsd's own user) may ask for changes over the control socket.
    public var adminGroup: String
    public var configFile: String?

    /// Flags as given on the command line; nil where not given.
    public struct Overrides: Sendable {
        public var siteName: String?
        public var watch: String?
        public var data: String?
        public var control: String?
        public var listen: String?
        public var logLevel: String?
        public var peers: [String]
        public var metrics: String?
        public var web: String?
        public var rejoinTimeoutSeconds: Int?
        public init(siteName: String? = nil, watch: String? = nil, data: String? = nil, control: String? = nil, listen: String? = nil,
                    logLevel: String? = nil, peers: [String] = [], metrics: String? = nil, rejoinTimeoutSeconds: Int? = nil, web: String? = nil) {
            self.web = web
            self.rejoinTimeoutSeconds = rejoinTimeoutSeconds
            self.peers = peers
            self.metrics = metrics
            self.siteName = siteName
            self.watch = watch
            self.data = data
            self.control = control
            self.listen = listen
            self.logLevel = logLevel
        }
    }

    public static let defaultListen = "127.0.0.1:7420"
    public static let defaultDebounce = Duration.milliseconds(100)
    public static let defaultFileMode: UInt32 = 0o664
    public static let defaultFolderMode: UInt32 = 0o2775
    public static let defaultAdminGroup = "newsd-admin"

    /// Whether this is an installed newsd rather than `swift run newsd` in the repository: it reads
    /// a config file, or it is a system service (`INVOCATION_ID` set and started by PID 1; a shell
    /// in a user service inherits the variable but not the parent). An installed newsd has no
    /// default folders: watching `./seeds` of wherever it was started would be a surprise.
    public static func isInstalled(configFile: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                                   parent: pid_t = getppid()) -> Bool {
        configFile != nil || (environment["INVOCATION_ID"] != nil && parent == 1)
    }

    /// `readingAddedPeers`: false for a reload, whose added peers are the running daemon's (it alone
    /// writes them): a damaged `peers.toml` must not block a reload that revokes a site.
    public static func resolve(configFile: String?, overrides: Overrides, workingDirectory: String = FileManager.default.currentDirectoryPath,
                               environment: [String: String] = ProcessInfo.processInfo.environment, parent: pid_t = getppid(),
                               readingAddedPeers: Bool = true) throws -> DaemonConfig {
        let file = try configFile.map(ConfigFile.load(path:)) ?? ConfigFile()
        if isInstalled(configFile: configFile, environment: environment, parent: parent) {
            for (key, flag, value) in [("watch", "--watch", overrides.watch ?? file.watch), ("data", "--data", overrides.data ?? file.data)] where value == nil {
                throw ConfigFile.Invalid(
                    file: configFile ?? "flags",
                    detail: "'\(key)' is not set: an installed newsd (config file or systemd) needs `\(key) = \"DIR\"` in the config or \(flag); "
                        + "the ./seeds and ./.newsd defaults are only for `swift run newsd` in the repository")
            }
        }
        func absolute(_ path: String) -> String {
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : URL(fileURLWithPath: workingDirectory).appendingPathComponent(path)
            return url.standardizedFileURL.path
        }
        let data = absolute(overrides.data ?? file.data ?? ".newsd")
        let levelText = overrides.logLevel ?? file.logLevel ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ConfigFile.Invalid(file: configFile ?? "--log-level", detail: "log level '\(levelText)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        let listen: Endpoint
        let peers: [PeerAddress]
        let metrics: Endpoint?
        let web: Endpoint?
        do {
            web = try (overrides.web ?? file.webListen).map { try Endpoint($0, listening: true) }
            metrics = try (overrides.metrics ?? file.metrics).map { try Endpoint($0, listening: true) }
            listen = try Endpoint(overrides.listen ?? file.listen ?? defaultListen, listening: true)
            // Flags add to the file's peers; a site listed twice keeps the last address.
            peers = try ((file.peers ?? []) + overrides.peers).map(PeerAddress.init)
        } catch {
            throw ConfigFile.Invalid(file: configFile ?? "flags", detail: "\(error)")
        }
        var added: [PeerAddress] = []
        if readingAddedPeers { do { added = try AddedPeersFile.load(dataDir: data).peerAddresses() } catch let invalid as ConfigFile.Invalid { throw invalid } catch {
            throw ConfigFile.Invalid(file: AddedPeersFile.path(dataDir: data), detail: "\(error)")
        } }
        return DaemonConfig(
            siteName: overrides.siteName ?? file.siteName ?? ProcessInfo.processInfo.hostName,
            watchDir: absolute(overrides.watch ?? file.watch ?? "seeds"),
            dataDir: data,
            controlPath: absolute(overrides.control ?? file.control ?? data + "/newsd.sock"),
            listen: listen,
            peers: peers,
            addedPeers: added,
            metrics: metrics,
            web: web,
            webTLS: file.webTLSCert.flatMap { cert in file.webTLSKey.map { WebTLSFiles(certificate: absolute(cert), key: absolute($0)) } },
            webTrustedProxies: file.webTrustedProxy ?? [],
            webProxyUserHeader: file.webProxyUserHeader,
            webProxySecretFile: file.webProxySecretFile.map(absolute),
            logLevel: level,
            debounce: file.debounceMillis.map { .milliseconds($0) } ?? defaultDebounce,
            maximumFileBytes: Int64(file.maxFileBytes ?? 64 << 20),
            ignorePatterns: IgnoreRules.defaults + (file.ignore ?? []),
            massDeleteFraction: file.massDeleteFraction ?? 0.5,
            massDeleteMinimum: file.massDeleteMinimum ?? 10,
            maximumClockSkewMillis: UInt64(file.maxClockSkewSeconds ?? 600) * 1000,
            massDeleteWindowMillis: UInt64(file.massDeleteWindowSeconds ?? 60) * 1000,
            rejoinTimeout: .seconds(overrides.rejoinTimeoutSeconds ?? file.rejoinTimeoutSeconds ?? 60),
            revoked: (file.revoked ?? []).compactMap(SiteID.init),
            group: file.group,
            fileMode: file.fileMode ?? defaultFileMode,
            folderMode: file.folderMode ?? defaultFolderMode,
            adminGroup: file.adminGroup ?? defaultAdminGroup,
            configFile: configFile)
    }

    /// The peers to dial and accept: the listed ones that are not revoked (this site itself is
    /// dropped where its ID is known, so one list can serve every site).
    public var trustedPeers: [PeerAddress] { Self.merge(configured: peers, added: addedPeers).filter { !revoked.contains($0.site) } }

    /// The config's peers, then the added ones it does not list: a site in both is the config's.
    public static func merge(configured: [PeerAddress], added: [PeerAddress]) -> [PeerAddress] {
        let listed = Set(configured.map(\.site))
        return configured + added.filter { !listed.contains($0.site) }
    }

    public var siteSettings: SiteSettings {
        SiteSettings(siteName: siteName, watchDir: watchDir, dataDir: dataDir, maximumFileBytes: maximumFileBytes,
                     ignore: IgnoreRules(patterns: ignorePatterns), massDeleteFraction: massDeleteFraction,
                     massDeleteMinimum: massDeleteMinimum, maximumClockSkewMillis: maximumClockSkewMillis,
                     massDeleteWindowMillis: massDeleteWindowMillis,
                     ownership: FileOwnership.resolve(group: group, fileMode: fileMode, folderMode: folderMode, watchDir: watchDir))
    }
}
