import Logging
import ServiceLifecycle
import Store
import SyncProtocol

/// Assembles one site from its config: data folder, lock, key, log, watcher, control socket;
/// runs them as services that stop in reverse order on SIGTERM or SIGINT.
public struct NewsdApp: Sendable {
    public let config: DaemonConfig
    public let logger: Logger

    public init(config: DaemonConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    public func run() async throws {
        let folder = DataFolder(path: config.dataDir)
        try folder.create()
        let lock = try folder.lock()
        let key = try folder.loadOrCreateKey()
        let log = try ArticleLog(path: folder.logPath)
        let site = SiteLog(log: log, key: key, settings: config.siteSettings, logger: logger)
        let watcher = try FolderWatcher(root: config.watchDir, settings: .init(
            debounce: config.debounce, ignore: IgnoreRules(patterns: config.ignorePatterns)))
        let logger = self.logger
        let watchDir = config.watchDir
        let ingest = IngestService(site: site, watcher: watcher, logger: logger) {
            let stats = await site.stats
            logger.notice("ready: site \(key.siteID) watching \(watchDir), \(stats.liveArticles) articles, \(stats.entries) log entries")
        }
        let registry = PeerRegistry(local: key.siteID, peers: config.peers, logger: logger)
        let replication = try ReplicationService(site: site, registry: registry, listen: config.listen, key: key,
                                                 siteName: config.siteName, logger: logger)
        let control = ControlServer(path: config.controlPath, dispatcher: ControlDispatcher(site: site, registry: registry), logger: logger)
        logger.info("newsd \(NewsdVersion.current) starting: site \(key.siteID) (\(config.siteName)), data \(config.dataDir)")
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: ingest), .init(service: replication), .init(service: control)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        withExtendedLifetime(lock) {}
        logger.info("newsd stopped")
    }
}
