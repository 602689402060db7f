import Foundation
import Logging
import NewsWeb
import ServiceLifecycle
import Store
import Synchronization
import SyncProtocol

/// Assembles one site from its config: data folder, lock, key, log, watcher, replication, control
/// socket, systemd notifications and reload; runs them as services that stop in reverse order on
/// SIGTERM or SIGINT.
public struct NewsdApp: Sendable {
    public let config: DaemonConfig
    public let overrides: DaemonConfig.Overrides
    public let logger: Logger

    public init(config: DaemonConfig, overrides: DaemonConfig.Overrides = .init(), logger: Logger) {
        self.config = config
        self.overrides = overrides
        self.logger = logger
    }

    public func run() async throws {
        let folder = DataFolder(path: config.dataDir)
        try folder.create()
        let lock = try folder.lock()
        ControlBackup.removeLeftovers(in: config.dataDir)
        let key = try folder.loadOrCreateKey()
        let log = try ArticleLog(path: folder.logPath)
        // Peers this site dials are asked for its own later entries before anything local is
        // recorded; after a restore from backup, patiently (see RejoinProgress).
        let restored = folder.wasRestored
        // The data folder put back by hand from an older copy: the watched folder's marker knows.
        let author = try folder.loadAuthorKey()?.key
        let marker = ChainMarker.read(watchDir: config.watchDir)
        let behind = marker?.showsLogBehind(site: key.siteID) { (try? log.chainTip(of: $0))?.sequence ?? 0 } ?? false
        if let marker, behind {
            let held = (try? log.chainTip(of: marker.origin))?.sequence ?? 0
            let why = "this site's log holds its own entries (\(marker.origin.short)) up to #\(held), but it recorded up to #\(marker.sequence) on this folder "
                + "(\(ChainMarker.path(watchDir: config.watchDir))): the data folder is older than the last run. Its peers are asked for the rest before anything local is recorded"
            logger.warning("\(why)")
        }
        // After a restore, accept-only peers are waited for too (they dial in); otherwise only the
        // peers this site dials, so an ordinary start is not held up by a peer that may never call.
        let patient = restored || behind
        let asked = config.trustedPeers.filter { $0.site != key.siteID && ($0.endpoint != nil || patient) }.map(\.site)
        let rejoin = asked.isEmpty || config.rejoinTimeout == .zero ? nil
            : Rejoin(peers: asked, patient: patient, timeout: config.rejoinTimeout)
        let health = SiteHealth()
        let site = SiteLog(log: log, key: key, settings: config.siteSettings, logger: logger, rejoin: rejoin, health: health, signer: author)
        await site.takeInStepMark(at: folder.inStepMarkPath)
        if let author { logger.info("this site signs its entries as \(author.siteID) (made when it found it ran on an older copy of its log; \(folder.authorKeyPath))") }
        // A peer's entries of this site's chain stored beside it, and the process stopped before
        // the new key was saved: sign anew before anything local is recorded.
        await site.signAnewIfOwnChainForked()
        if behind { await site.markLogBehindMarker() }
        if (restored && rejoin == nil && !asked.isEmpty) || (behind && rejoin == nil) {
            // No peer was asked (rejoin_timeout_s = 0, or none listed): none is known to hold the rest.
            try await site.signAnewAfterRestore(because: asked.isEmpty ? "no peer is listed to hand back the rest" : "rejoin_timeout_s = 0 asks no peer")
        }
        if restored {
            logger.notice("first start after `newsd restore-backup`: files missing from the folder are written back from the log, not deleted")
            await site.markRestoredFromBackup()
        }
        // Test seam for the end-to-end race tests: hold the folder writer just before each swap.
        if let pause = ProcessInfo.processInfo.environment["NEWSD_TEST_SWAP_PAUSE_MS"].flatMap(UInt32.init), pause > 0 {
            logger.warning("test seam: the folder writer pauses \(pause) ms before each swap (NEWSD_TEST_SWAP_PAUSE_MS)")
            await site.setBeforeSwap { _ in usleep(min(pause, 60_000) * 1000) }
        }
        // Test seams: how often unwatched folders are retried, how often the disk heartbeat beats.
        let environment = ProcessInfo.processInfo.environment
        let unwatchedRescan = environment["NEWSD_TEST_UNWATCHED_RESCAN_MS"].flatMap(Int64.init).map { Duration.milliseconds(max(50, $0)) }
            ?? FolderWatcher.unwatchedRescanInterval
        let watcherSettings = { @Sendable (config: DaemonConfig) in
            FolderWatcher.Settings(debounce: config.debounce, ignore: IgnoreRules(patterns: config.ignorePatterns), unwatchedRescan: unwatchedRescan)
        }
        let watcher = try FolderWatcher(root: config.watchDir, settings: watcherSettings(config), health: health, logger: logger)
        guard !config.revoked.contains(key.siteID) else {
            throw DataFolder.Failure(description: "config: `revoked` lists this site itself (\(key.siteID))")
        }
        try await site.revoke(config.revoked)
        let registry = PeerRegistry(local: key.siteID, peers: config.trustedPeers.filter { $0.site != key.siteID }, logger: logger)
        registry.setRevoked(config.revoked)
        let notifier = SystemdNotifier()
        let logger = self.logger
        let watchDir = config.watchDir

        // READY=1 only once the folder is reconciled and both sockets accept connections.
        let gate = StartupGate(parts: [.scan, .control, .replication]) {
            let stats = await site.stats
            logger.notice("ready: site \(key.siteID) watching \(watchDir), \(stats.liveArticles) articles, \(stats.entries) log entries")
            notifier.ready(status: await SystemdService.statusLine(site: site, registry: registry))
            if config.web != nil {
                Task {
                    do { try await site.prepareArticleList() } catch { logger.warning("web view: the article list is built at its first page instead: \(error)") }
                }
            }
        }
        // A long start-up scan shows how far it is: in systemd's STATUS= line, every 10 s in the
        // log, and on a terminal as a line redrawn in place.
        let onTerminal = isatty(STDERR_FILENO) == 1
        let lastLogged = Mutex<ContinuousClock.Instant?>(nil)
        let ingest = IngestService(site: site, watcher: watcher, logger: logger, onScanProgress: { text in
            notifier.status(text)
            if onTerminal { StandardError.progress(text) }
            let now = ContinuousClock.now
            let due = lastLogged.withLock { last in
                guard last.map({ now - $0 >= .seconds(10) }) ?? true else { return false }
                last = now
                return true
            }
            if due && !onTerminal { logger.notice("\(text)") }
        }) {
            if onTerminal { StandardError.progress(nil) }
            await gate.done(.scan)
        }
        let timing = SessionTiming.fromEnvironment()
        if let timing {
            logger.warning("test seam: peers pinged every \(timing.pingInterval), dropped after \(timing.silenceLimit) of silence (NEWSD_TEST_SESSION_TIMING)")
        }
        let replication = try ReplicationService(site: site, registry: registry, listen: config.listen, key: key,
                                                 siteName: config.siteName, logger: logger, timing: timing ?? SessionTiming()) {
            await gate.done(.replication)
        }
        let directory = PeerDirectory(local: key.siteID, config: config, logger: logger) { replication.reconfigure(peers: $0) }
        // The web view's accounts are kept whether or not it is served, so they can be made first.
        // A damaged accounts file stops a start that serves the web view (naming the file), and
        // only that: a site without it replicates as before.
        let webAccounts: WebAccounts?
        do { webAccounts = try WebAccounts(dataDir: config.dataDir) } catch {
            guard config.web == nil else { throw error }
            logger.warning("\(error); web accounts cannot be changed until it is mended")
            webAccounts = nil
        }
        let webSessions = WebSessions()
        let dispatcher = ControlDispatcher(site: site, registry: registry, directory: directory, access: ControlAccess(adminGroup: config.adminGroup),
                                           webAccounts: webAccounts, webSessions: webSessions, logger: logger)
        let control = ControlServer(path: config.controlPath, dispatcher: dispatcher,
                                    logger: logger) { await gate.done(.control) }
        let refusal = ReloadRefusal()
        let reload = ReloadService(configFile: config.configFile, overrides: overrides, current: config, notifier: notifier,
                                   refusal: refusal, site: key.siteID, logger: logger) { next in
            NewsdLogLevel.set(next.logLevel)
            await site.update(next.siteSettings)
            watcher.update(watcherSettings(next))
            // Recorded first, so nothing a closing session still hands over is taken as trusted.
            let revoked = next.revoked.filter { $0 != key.siteID }
            do { try await site.revoke(revoked) } catch { logger.error("cannot record the revocations (retried at the next reload): \(error)") }
            registry.setRevoked(revoked)
            await directory.reload(next)
            // A new `listen` is bound before the old one is let go; sessions that are up stay up.
            if case .failure(let failure) = await replication.listen(on: next.listen) {
                return ["listen: \(failure); peers are still accepted on \(registry.listening ?? "no address")"]
            }
            return []
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ingest), .init(service: replication), .init(service: control),
            .init(service: reload), .init(service: SystemdService(notifier: notifier, site: site, registry: registry, refusal: refusal)),
        ]
        let heartbeat = environment["NEWSD_TEST_HEARTBEAT_MS"].flatMap(Int64.init).map { Duration.milliseconds(max(50, $0)) }
            ?? SystemdNotifier.watchdogInterval().map { $0 / 2 } ?? .seconds(10)
        services.append(.init(service: HealthService(health: health, dataDir: config.dataDir, watchDir: config.watchDir,
                                                     interval: heartbeat, logger: logger)))
        if let endpoint = config.web, let webAccounts {
            let firstRun = await webAccounts.isEmpty ? webSessions.makeFirstRunToken() : nil
            let security = WebSecurity(tls: try config.webTLS.map { try WebSecurity.tls(certificate: $0.certificate, key: $0.key) },
                                       trustedProxies: config.webTrustedProxies, proxyUserHeader: config.webProxyUserHeader,
                                       proxySecret: try config.webProxySecretFile.map(WebSecurity.proxySecret(file:)) ?? "")
            let scheme = security.tls == nil ? "http" : "https"
            let web = try WebService(host: endpoint.host, port: endpoint.port,
                                     control: WebControl { frame, account in await dispatcher.respond(to: frame, webAccount: account) },
                                     accounts: webAccounts, sessions: webSessions, security: security, logger: logger) { port in
                let address = Endpoint(host: endpoint.host, port: port)
                if let firstRun {
                    // Nothing is open without a secret: the first run's secret is this link, printed once.
                    let link = "web view at \(scheme)://\(address)/ — no accounts yet: sign in once with \(scheme)://\(address)/signin?token=\(firstRun) "
                        + "(then add accounts with `newsctl web-user add NAME --role editor`)"
                    logger.notice("\(link)")
                } else {
                    logger.notice("web view at \(scheme)://\(address)/")
                }
                if !security.trustedProxies.isEmpty {
                    logger.notice("web view: accounts named in \(security.proxyUserHeader) are signed in on connections from \(security.trustedProxies.sorted().joined(separator: ", "))")
                }
            }
            services.append(.init(service: web))
        }
        if let endpoint = config.metrics {
            services.append(.init(service: MetricsService(endpoint: endpoint, prometheus: MetricsService.bootstrap(),
                                                          site: site, registry: registry, logger: logger)))
        }
        logger.info("newsd \(NewsdVersion.current) starting: site \(key.siteID) (\(config.siteName)), data \(config.dataDir)")
        let group = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        // Every service has stopped: nothing can append after this.
        await site.leaveInStepMark(at: folder.inStepMarkPath)
        withExtendedLifetime(lock) {}
        logger.info("newsd stopped")
    }
}
