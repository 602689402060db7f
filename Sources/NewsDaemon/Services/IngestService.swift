import CShims
import Foundation
import Logging
import ServiceLifecycle
import SyncProtocol

/// Keeps the log in step with the folder: the start-up reconcile, then inotify batches, and a
/// rescan every few seconds while something is wrong (folder gone, disk full) until it is right.
public final class IngestService: Service {
    let site: SiteLog
    let watcher: FolderWatcher
    let logger: Logger
    let retryInterval: Duration
    let onReady: @Sendable () async -> Void
    /// Told, once a second while the start-up scan runs, how far it is (see `ScanProgress`).
    let onScanProgress: @Sendable (String) -> Void

    public init(site: SiteLog, watcher: FolderWatcher, logger: Logger, retryInterval: Duration = .seconds(2),
                onScanProgress: @escaping @Sendable (String) -> Void = { _ in }, onReady: @escaping @Sendable () async -> Void = {}) {
        self.onScanProgress = onScanProgress
        self.site = site
        self.watcher = watcher
        self.logger = logger
        self.retryInterval = retryInterval
        self.onReady = onReady
    }

    public func run() async throws {
        // Watch first, then scan: a change made during the scan is seen twice, never missed.
        watcher.watchAll()
        watcher.start()
        let rejoined = site.rejoin == nil ? true : await self.rejoin(site.rejoin!)
        // The scan holds the site: how far it is comes from its progress board, once a second.
        let progress = site.scanProgress, report = onScanProgress
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if let snapshot = progress.current, !Task.isCancelled { report(ScanProgress.describe(snapshot)) }
            }
        }
        var reconciled = await rescan(reason: "start-up", startUp: true)
        ticker.cancel()
        await ticker.value
        do { try await site.checkoutOutOfStepAtStartUp() } catch {
            reconciled = false
            logger.error("cannot bring the folder in step with the log: \(error)")
        }
        // After a restore: ordinary starts again only once the folder is reconciled and every peer
        // has handed back this site's entries; until then each start is patient again.
        if reconciled && rejoined { await site.finishRestore() }
        await site.markReady()
        await site.updateChainMarker()
        await onReady()
        let watcher = self.watcher
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await batch in watcher.changes {
                    do { try await self.site.ingest(batch) } catch {
                        self.logger.error("ingest failed, will rescan: \(error)")
                        await self.site.requestRescan()
                    }
                    // A folder event may be the cause of a failed write going away: retry them all
                    // (a write that still cannot succeed fails at a stat, before anything is written).
                    await self.retryOwedWrites(all: true)
                }
            }
            group.addTask {
                while (try? await Task.sleep(for: self.retryInterval)) != nil {
                    if await self.site.takeRescanDue() {
                        watcher.watchAll()
                        await self.rescan(reason: "retry")
                    }
                    await self.retryOwedWrites()
                    await self.site.checkpointIfIdle()
                    await self.site.updateChainMarker()
                }
            }
            // Until SIGTERM/SIGINT: then the watcher's stream ends and the retry loop is cancelled.
            try? await gracefulShutdown()
            await self.site.updateChainMarker()
            watcher.stop()
            group.cancelAll()
        }
    }

    /// Waits for the peers to hand back this site's own later entries before anything local is
    /// recorded (see `RejoinProgress`); saves made meanwhile are in the folder and recorded after.
    private func rejoin(_ rejoin: Rejoin) async -> Bool {
        let peers = rejoin.progress.peers.count
        logger.notice("rejoining: asking \(peers) peer(s) for this site's own entries before recording local changes (at most \(rejoin.timeout))")
        let started = ContinuousClock.now
        let outcome = await rejoin.wait()
        let took = ContinuousClock.now - started
        switch outcome {
        case .caughtUp:
            logger.notice("rejoined: caught up with every peer in \(took)")
            return true
        case .startedWithout(let missing):
            logger.warning("rejoin: \(missing.count) of \(peers) peer(s) not reachable (\(missing.map(\.short).joined(separator: ", "))); starting without them: \(rejoin.progress.summary)")
            await signAnewAfterRestore(because: "\(missing.count) peer(s) could not be reached")
        case .timedOut(let missing):
            logger.warning("rejoin: gave up after \(took) waiting for \(missing.map(\.short).joined(separator: ", ")); starting: \(rejoin.progress.summary)")
            await signAnewAfterRestore(because: "\(missing.count) peer(s) did not hand back this site's entries within \(rejoin.timeout)")
        }
        return false
    }

    private func signAnewAfterRestore(because reason: String) async {
        // Cannot keep the key: nothing local may be signed with the site key either, so the
        // start fails (systemd retries) rather than risk a fork.
        do { try await site.signAnewAfterRestore(because: reason) } catch {
            logger.critical("cannot keep a new author key after the restore (\(error)); stopping rather than fork this site's chain")
            Foundation.exit(1)
        }
    }

    private func retryOwedWrites(all: Bool = false) async {
        do { try await site.retryOwedWrites(all: all) } catch { logger.error("retrying writes the folder is owed failed: \(error)") }
    }

    @discardableResult
    private func rescan(reason: String, startUp: Bool = false) async -> Bool {
        // A scan of the whole folder held its batches, the read-ahead and a larger page cache;
        // freed, glibc keeps those pages in its heaps (one per thread) unless asked to return them.
        defer { _ = newsd_malloc_trim() }
        do {
            let summary = try await site.scanAll(startUp: startUp)
            logger.debug("\(reason) scan: \(summary.entries) new entries, \(summary.filesRead) files read, \(summary.unchanged) unchanged")
            return true
        } catch {
            logger.error("\(reason) scan failed, will retry: \(error)")
            await site.requestRescan()
            return false
        }
    }
}
