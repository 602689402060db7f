import Logging
import ServiceLifecycle
import UnixSignals

/// Re-reads the config on SIGHUP and applies what can change without a restart: peers, ignore
/// patterns, debounce, size limit, mass-delete guard, log level. Sessions with peers still listed
/// stay up. A config with errors is refused with one log line, and the old one stays in force.
public struct ReloadService: Service, CustomStringConvertible {
    public var description: String { "ReloadService" }

    let configFile: String?
    let overrides: DaemonConfig.Overrides
    let current: DaemonConfig
    let apply: @Sendable (DaemonConfig) async -> Void
    let notifier: SystemdNotifier
    let logger: Logger

    public init(configFile: String?, overrides: DaemonConfig.Overrides, current: DaemonConfig, notifier: SystemdNotifier,
                logger: Logger, apply: @escaping @Sendable (DaemonConfig) async -> Void) {
        self.configFile = configFile
        self.overrides = overrides
        self.current = current
        self.notifier = notifier
        self.logger = logger
        self.apply = apply
    }

    public func run() async throws {
        var inForce = current
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            notifier.reloading()
            do {
                let next = try DaemonConfig.resolve(configFile: configFile, overrides: overrides)
                for (name, before, after) in [("watch", inForce.watchDir, next.watchDir), ("data", inForce.dataDir, next.dataDir),
                                              ("control", inForce.controlPath, next.controlPath),
                                              ("listen", inForce.listen.description, next.listen.description)] where before != after {
                    logger.warning("reload: '\(name)' changed from \(before) to \(after); it takes effect at the next restart")
                }
                await apply(next)
                inForce = next
                logger.notice("reloaded \(configFile ?? "flags"): \(next.peers.count) peers, log level \(next.logLevel)")
            } catch {
                logger.error("reload refused, the previous configuration stays in force: \(error)")
            }
            notifier.ready(status: "reloaded")
        }
    }
}
