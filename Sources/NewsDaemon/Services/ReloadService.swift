import Logging
import ServiceLifecycle
import SyncProtocol
import UnixSignals

/// Re-reads the config on SIGHUP and applies what can change without a restart: peers, `listen`,
/// ignore patterns, debounce, size limit, mass-delete guard, log level. Sessions with peers still listed
/// stay up. A config with errors is refused with one log line, and the old one stays in force.
public struct ReloadService: Service, CustomStringConvertible {
    public var description: String { "ReloadService" }

    let configFile: String?
    let overrides: DaemonConfig.Overrides
    let current: DaemonConfig
    /// Applies a config; returns what it could not apply (the rest is in force).
    let apply: @Sendable (DaemonConfig) async -> [String]
    let notifier: SystemdNotifier
    let refusal: ReloadRefusal
    let site: SiteID?
    let logger: Logger

    public init(configFile: String?, overrides: DaemonConfig.Overrides, current: DaemonConfig, notifier: SystemdNotifier,
                refusal: ReloadRefusal = ReloadRefusal(), site: SiteID? = nil,
                logger: Logger, apply: @escaping @Sendable (DaemonConfig) async -> [String]) {
        self.refusal = refusal
        self.site = site
        self.configFile = configFile
        self.overrides = overrides
        self.current = current
        self.notifier = notifier
        self.logger = logger
        self.apply = apply
    }

    static func describe(_ files: DaemonConfig.WebTLSFiles?) -> String {
        files.map { "\($0.certificate) and \($0.key)" } ?? "none"
    }

    public func run() async throws {
        var inForce = current
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            notifier.reloading()
            do {
                let next = try DaemonConfig.resolve(configFile: configFile, overrides: overrides, readingAddedPeers: false)
                if let problem = ConfigCheck.findings(for: next, site: site).first(where: { $0.severity == .error }) {
                    throw ConfigFile.Invalid(file: configFile ?? "flags", detail: "\(problem)")
                }
                for (name, before, after) in [("watch", inForce.watchDir, next.watchDir), ("data", inForce.dataDir, next.dataDir),
                                              ("control", inForce.controlPath, next.controlPath),
                                              ("web_listen", inForce.web?.description ?? "off", next.web?.description ?? "off"),
                                              ("web_tls_cert", Self.describe(inForce.webTLS), Self.describe(next.webTLS)),
                                              ("web_trusted_proxy", inForce.webTrustedProxies.joined(separator: ", "), next.webTrustedProxies.joined(separator: ", ")),
                                              ("web_proxy_user_header", inForce.webProxyUserHeader ?? "default", next.webProxyUserHeader ?? "default"),
                                              ("web_proxy_secret_file", inForce.webProxySecretFile ?? "none", next.webProxySecretFile ?? "none")] where before != after {
                    logger.warning("reload: '\(name)' changed from \(before) to \(after); it takes effect at the next restart")
                }
                let unapplied = await apply(next)
                inForce = next
                if unapplied.isEmpty {
                    refusal.set(nil)
                    logger.notice("reloaded \(configFile ?? "flags"): \(next.peers.count) configured peers, log level \(next.logLevel)")
                    notifier.ready(status: "reloaded \(configFile ?? "flags")")
                } else {
                    let why = unapplied.joined(separator: "; ")
                    refusal.set(why)
                    logger.error("reloaded \(configFile ?? "flags") except: \(why)")
                    notifier.ready(status: "reload partly refused: \(why)")
                }
            } catch {
                refusal.set("\(error)")
                logger.error("reload refused, the configuration in force stays: \(error)")
                notifier.ready(status: "reload refused: \(error)")
            }
        }
    }
}
