import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import SyncProtocol

/// Serves Prometheus text format at `/metrics` (`--metrics HOST:PORT`). Gauges are refreshed from
/// the site and the peers at each scrape, so nothing runs between scrapes; counters and the ingest
/// latency histogram are recorded as events happen, through swift-metrics.
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
        try await serveConnections(of: server) { connection in await self.serve(connection) }
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
                        path == "/metrics" ? (HTTPResponseStatus.ok, await scrape()) : (.notFound, Array("try /metrics\n".utf8))
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

    /// Refreshes the gauges, then renders every metric.
    func scrape() async -> [UInt8] {
        let status = await site.status()
        Gauge(label: "newsd_articles").record(status.articles)
        Gauge(label: "newsd_deleted_articles").record(status.deletedArticles)
        Gauge(label: "newsd_log_entries").record(status.logEntries)
        Gauge(label: "newsd_blobs").record(status.blobs.count)
        Gauge(label: "newsd_blob_stored_bytes").record(status.blobs.storedBytes)
        Gauge(label: "newsd_blob_raw_bytes").record(status.blobs.rawBytes)
        Gauge(label: "newsd_conflicts").record(status.conflicts)
        Gauge(label: "newsd_skipped_files").record(status.skipped.count)
        Gauge(label: "newsd_pending_deletes").record(status.pendingDeletes)
        Gauge(label: "newsd_problems").record(status.problems.count)
        Gauge(label: "newsd_refused_connections").record(registry.refusedConnections)
        Gauge(label: "newsd_rejected_sessions").record(registry.rejectedSessions)
        let vector = await site.versionVector()
        for peer in registry.infos(local: vector) {
            // The 24-character form, as series before check characters were printed.
            let dimensions = [("peer", SiteID(peer.id)?.rawValue ?? peer.id)]
            Gauge(label: "newsd_peer_connected", dimensions: dimensions).record(peer.connected ? 1 : 0)
            Gauge(label: "newsd_peer_behind_entries", dimensions: dimensions).record(peer.behind)
            Gauge(label: "newsd_peer_ahead_entries", dimensions: dimensions).record(peer.ahead)
            Gauge(label: "newsd_peer_sent_bytes", dimensions: dimensions).record(peer.bytesSent)
            Gauge(label: "newsd_peer_received_bytes", dimensions: dimensions).record(peer.bytesReceived)
            Gauge(label: "newsd_peer_sent_entries", dimensions: dimensions).record(peer.entriesSent)
            Gauge(label: "newsd_peer_received_entries", dimensions: dimensions).record(peer.entriesReceived)
            Gauge(label: "newsd_peer_session_failures", dimensions: dimensions).record(peer.sessionFailures ?? 0)
        }
        var buffer: [UInt8] = []
        prometheus.emit(into: &buffer)
        return buffer
    }
}
