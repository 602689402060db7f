import Logging
import ServiceLifecycle

/// Keeps systemd informed while newsd runs: `WATCHDOG=1` at half the watchdog interval, but only
/// when the site's actor answers (a hung ingest stops the pings, and systemd restarts newsd);
/// `STATUS=` lines for `systemctl status`; `STOPPING=1` on shutdown.
public struct SystemdService: Service, CustomStringConvertible {
    public var description: String { "SystemdService" }

    let notifier: SystemdNotifier
    let site: SiteLog
    let registry: PeerRegistry
    let watchdog: Duration?
    let refusal: ReloadRefusal

    public init(notifier: SystemdNotifier, site: SiteLog, registry: PeerRegistry, refusal: ReloadRefusal = ReloadRefusal(),
                watchdog: Duration? = SystemdNotifier.watchdogInterval()) {
        self.notifier = notifier
        self.refusal = refusal
        self.site = site
        self.registry = registry
        self.watchdog = watchdog
    }

    public func run() async throws {
        guard notifier.isEnabled else { return try await gracefulShutdown() }
        let interval = watchdog.map { $0 / 2 } ?? .seconds(10)
        await withGracefulShutdownHandler {
            // The sleep ends with the shutdown: a stop must not wait out half a watchdog interval.
            try? await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: interval)
                    var line = await Self.statusLine(site: site, registry: registry)
                    if let refused = refusal.current { line += "; reload refused: \(refused)" }
                    if watchdog != nil { notifier.watchdog() }
                    notifier.status(line)
                }
            }
        } onGracefulShutdown: {
            notifier.stopping()
        }
    }

    /// What `systemctl status` shows: articles, peers, and the first problem if any.
    public static func statusLine(site: SiteLog, registry: PeerRegistry) async -> String {
        // Not waiting for a scan of the whole folder: the watchdog ping follows this line.
        let status = await site.statusNow()
        var line = (status.scanning.map { $0 + "; " } ?? "") + "\(status.articles) articles, \(status.logEntries) log entries, \(registry.connectedCount)/\(registry.configuredCount) peers connected"
        if status.conflicts > 0 { line += ", \(status.conflicts) conflicts" }
        if let rejoining = status.rejoining { line = "rejoining (local changes wait): \(rejoining); " + line }
        if let problem = status.problems.first { line += "; problem: \(problem)" }
        return line
    }
}
