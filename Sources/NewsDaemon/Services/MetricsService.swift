import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import SyncProtocol

/// Serves Prometheus text format at `/metrics` (`--metrics HOST:PORT`). Gauges and counters are
/// refreshed from the site and the peers at each scrape, so nothing runs between scrapes; the
/// ingest latency histogram is recorded as events happen, through swift-metrics. Counters end in
/// `_total`; the process figures use the names Prometheus' own clients use.
public final class MetricsService: Service, CustomStringConvertible {
    public var description: String { "MetricsService" }
    let endpoint: Endpoint
    let prometheus: PrometheusCollectorRegistry
    let site: SiteLog
    let registry: PeerRegistry
    let logger: Logger

    public init(endpoint: Endpoint, prometheus: PrometheusCollectorRegistry, site: SiteLog, registry: PeerRegistry, logger: Logger) {
        self.endpoint = endpoint
        self.prometheus = prometheus
        self.site = site
        self.registry = registry
        self.logger = logger
    }

    /// Makes swift-metrics write to this registry. Once per process.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                                   .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                                   .seconds(2.5), .seconds(5), .seconds(10)]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    public func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // A scraper that connects and goes quiet is closed, as on the control socket.
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(30)))
                    try channel.pipeline.syncOperations.addHandler(CloseOnIdleHandler())
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        logger.info("metrics at http://\(endpoint)/metrics")
        try await serveConnections(of: server) { connection in
            // Scrapers are few; a flood of connections is closed, not served.
            let admitted = self.connections.withLock { count in
                guard count < Self.maximumConnections else { return false }
                count += 1
                return true
            }
            guard admitted else {
                try? await connection.channel.close()
                return
            }
            await self.serve(connection)
            self.connections.withLock { $0 -= 1 }
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var path = ""
            for try await part in inbound {
                switch part {
                case .head(let head): path = head.uri
                case .body: break
                case .end:
                    let idle = try? await connection.channel.pipeline.handler(type: CloseOnIdleHandler.self).get()
                    let (status, body) = await CloseOnIdleHandler.answering(idle) {
                        path == "/metrics" ? (HTTPResponseStatus.ok, await scrapes.body { await self.scrape() }) : (.notFound, Array("try /metrics\n".utf8))
                    }
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
                    headers.add(name: "Content-Length", value: String(body.count))
                    headers.add(name: "Connection", value: "close")
                    try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                    try await outbound.write(.end(nil))
                    // One scrape per connection, as Prometheus does; no idle connections held.
                    return
                }
            }
        }
    }

    static let maximumConnections = 16
    private let connections = Mutex(0)
    private let scrapes = Scrapes()

    /// One scrape at a time, its result served again for a moment: each scrape reads the site's
    /// actor, and scrapes from anyone who can reach the port must not hold up editors' saves.
    actor Scrapes {
        var inFlight: Task<[UInt8], Never>?
        var last: (at: ContinuousClock.Instant, body: [UInt8])?
        static let reuse = Duration.milliseconds(200)

        func body(_ make: @escaping @Sendable () async -> [UInt8]) async -> [UInt8] {
            if let last, ContinuousClock.now - last.at < Self.reuse { return last.body }
            if let inFlight { return await inFlight.value }
            let task = Task { await make() }
            inFlight = task
            let body = await task.value
            inFlight = nil
            last = (.now, body)
            return body
        }
    }

    /// Totals already handed to each counter series, so a scrape adds only what is new: the
    /// sources (sessions, the registry) keep running totals, and Prometheus counters only grow.
    private let counted = Mutex<[String: UInt64]>([:])
    /// Per-peer series of peers no longer listed are dropped, not left at their last value.
    private let peerSeries = Mutex<[String: [any MetricSeries]]>([:])

    /// Refreshes the gauges and counters from their sources, then renders every metric.
    func scrape() async -> [UInt8] {
        let status = await site.status()
        func gauge(_ name: String, _ help: String, _ value: some BinaryInteger, labels: [(String, String)] = []) -> Prometheus.Gauge {
            let gauge = prometheus.makeGauge(name: name, labels: labels, help: help)
            gauge.set(Double(value))
            return gauge
        }
        func counter(_ name: String, _ help: String, total: UInt64, labels: [(String, String)] = []) -> Prometheus.Counter {
            let counter = prometheus.makeCounter(name: name, labels: labels, help: help)
            let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
            let added = counted.withLock { seen -> UInt64 in
                let before = seen[key] ?? 0
                seen[key] = max(before, total)
                return total > before ? total - before : 0
            }
            if added > 0 { counter.increment(by: Int64(clamping: added)) }
            return counter
        }
        _ = gauge("newsd_build_info", "newsd's version; always 1", 1, labels: [("version", NewsdVersion.current)])
        _ = gauge("newsd_articles", "Live articles (head is a put)", status.articles)
        _ = gauge("newsd_deleted_articles", "Articles whose head is a delete", status.deletedArticles)
        _ = gauge("newsd_log_entries", "Entries in the append-only log", status.logEntries)
        _ = gauge("newsd_blobs", "Content blobs stored", status.blobs.count)
        _ = gauge("newsd_blob_stored_bytes", "Bytes the blobs take, compressed", status.blobs.storedBytes)
        _ = gauge("newsd_blob_raw_bytes", "Bytes of content the blobs hold", status.blobs.rawBytes)
        _ = gauge("newsd_wal_bytes", "Bytes in the log's write-ahead log", status.walBytes ?? 0)
        _ = gauge("newsd_conflicts", "Articles with competing heads", status.conflicts)
        _ = gauge("newsd_skipped_files", "Files passed over, each with a reason in status", status.skipped.count)
        _ = gauge("newsd_pending_deletes", "Deletes held for newsctl deletes --confirm", status.pendingDeletes)
        _ = gauge("newsd_problems", "Problems newsctl status lists", status.problems.count)
        _ = gauge("newsd_disk_failing", "1 while the data disk heartbeat fails", site.health.diskError == nil ? 0 : 1)
        _ = gauge("newsd_disk_full", "1 while saves are held because the disk is full", await site.isDiskFull ? 1 : 0)
        for (folder, path) in [("data", status.dataDir), ("watch", status.watchDir)] {
            var fs = statvfs()
            if statvfs(path, &fs) == 0 {
                _ = gauge("newsd_filesystem_free_bytes", "Bytes free to newsd's user on the file system of its data or watched folder",
                          Int64(clamping: UInt64(fs.f_bavail) &* UInt64(fs.f_frsize)), labels: [("folder", folder)])
            }
        }
        _ = gauge("newsd_unwatched_folders", "Folders without an inotify watch (rescanned instead)", status.unwatched?.count ?? 0)
        _ = gauge("newsd_pending_peers", "Sites refused as not peers since start (newsctl peers --pending)", registry.pendingPeers.count)
        _ = gauge("newsd_ready", "1 once the start-up reconcile is done", status.ready ? 1 : 0)
        _ = counter("newsd_refused_connections_total", "Connections refused: unlisted or revoked keys, too many waiting, no hello",
                    total: UInt64(registry.refusedConnections))
        _ = counter("newsd_rejected_sessions_total", "Sessions ended because the peer broke the protocol or sent something invalid",
                    total: UInt64(registry.rejectedSessions))
        _ = counter("newsd_watch_errors_total", "Folders that could not be watched (inotify_add_watch failed), each try",
                    total: site.health.watchErrors)
        _ = counter("newsd_disk_errors_total", "Disk heartbeat checks that found the disk failing (a write and sync in the data folder, a stat of the watched folder; a hung disk counts at each check)",
                    total: site.health.diskErrors)
        let verify = await site.verifyCounts
        _ = counter("newsd_verify_runs_total", "Verifications of the whole log (newsctl verify)", total: verify.runs)
        _ = counter("newsd_verify_failures_total", "Verifications that found problems", total: verify.failures)
        if let process = ProcessMetrics.read() {
            prometheus.makeCounter(name: "process_cpu_seconds_total", labels: [], help: "User and system CPU time spent, in seconds")
                .increment(by: max(0, process.cpuSeconds - cpuCounted.withLock { seen in defer { seen = max(seen, process.cpuSeconds) }; return seen }))
            prometheus.makeGauge(name: "process_resident_memory_bytes", labels: [], help: "Resident memory size in bytes").set(Double(process.residentBytes))
            prometheus.makeGauge(name: "process_virtual_memory_bytes", labels: [], help: "Virtual memory size in bytes").set(Double(process.virtualBytes))
            if let open = process.openDescriptors {
                prometheus.makeGauge(name: "process_open_fds", labels: [], help: "Open file descriptors").set(Double(open))
            }
            prometheus.makeGauge(name: "process_max_fds", labels: [], help: "Limit of open file descriptors").set(Double(process.maximumDescriptors))
            prometheus.makeGauge(name: "process_start_time_seconds", labels: [], help: "Start time since the Unix epoch, in seconds")
                .set(process.startTimeSeconds)
        }
        let vector = await site.versionVector()
        let vectors = registry.vectors
        var listed: [String: [any MetricSeries]] = [:]
        for peer in registry.infos(local: vector) {
            // The 24-character form, as series before check characters were printed.
            let id = SiteID(peer.id)
            let labels = [("peer", id?.rawValue ?? peer.id)]
            // No figure for a peer that has not said what it holds since this site started: its
            // wait is not known, and the age of the whole log would page someone for nothing.
            var series: [any MetricSeries] = []
            if let id, let vector = vectors[id] {
                let lagGauge = prometheus.makeGauge(name: "newsd_peer_lag_seconds", labels: labels,
                                                    help: "Age of the oldest entry this site holds that the peer has not been sent nor reported; 0 when in sync")
                lagGauge.set(await site.lagSeconds(behind: vector))
                series.append(lagGauge)
            } else {
                prometheus.unregisterGauge(prometheus.makeGauge(name: "newsd_peer_lag_seconds", labels: labels,
                                                                help: "Age of the oldest entry this site holds that the peer has not been sent nor reported; 0 when in sync"))
            }
            listed[labels[0].1] = series + [
                gauge("newsd_peer_connected", "1 while a session with the peer is up", peer.connected ? 1 : 0, labels: labels),
                gauge("newsd_peer_behind_entries", "Entries the peer holds that this site does not", peer.behind, labels: labels),
                gauge("newsd_peer_ahead_entries", "Entries this site holds that the peer does not", peer.ahead, labels: labels),
                counter("newsd_peer_sent_bytes_total", "Bytes sent to the peer", total: peer.bytesSent, labels: labels),
                counter("newsd_peer_received_bytes_total", "Bytes received from the peer", total: peer.bytesReceived, labels: labels),
                counter("newsd_peer_sent_entries_total", "Log entries sent to the peer", total: peer.entriesSent, labels: labels),
                counter("newsd_peer_received_entries_total", "Log entries received from the peer", total: peer.entriesReceived, labels: labels),
                counter("newsd_peer_session_failures_total", "Sessions with the peer that ended on an error", total: peer.sessionFailures ?? 0, labels: labels),
            ]
        }
        let dropped = peerSeries.withLock { known in
            defer { known = listed }
            return known.filter { listed[$0.key] == nil }
        }
        for (peer, series) in dropped {
            for metric in series { metric.unregister(from: prometheus) }
            counted.withLock { seen in seen = seen.filter { !$0.key.hasSuffix("|peer=\(peer)") } }
        }
        var buffer: [UInt8] = []
        prometheus.emit(into: &buffer)
        return buffer
    }
    private let cpuCounted = Mutex<Double>(0)
}

/// A Prometheus series that can be taken out of the registry (a peer removed).
protocol MetricSeries: Sendable {
    func unregister(from registry: PrometheusCollectorRegistry)
}

extension Prometheus.Gauge: MetricSeries {
    func unregister(from registry: PrometheusCollectorRegistry) { registry.unregisterGauge(self) }
}

extension Prometheus.Counter: MetricSeries {
    func unregister(from registry: PrometheusCollectorRegistry) { registry.unregisterCounter(self) }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async -> T) async -> T? {
        guard let value = self else { return nil }
        return await transform(value)
    }
}
