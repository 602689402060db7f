import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Beats the disk heartbeat at every watchdog period (half of `WatchdogSec=`, else every 10 s) and
/// keeps `SiteHealth` up to date. A beat runs on a thread of its own: a disk that hangs rather than
/// fails holds that thread, and the next tick reports it as not answering.
public struct HealthService: Service, CustomStringConvertible {
    public var description: String { "HealthService" }

    let health: SiteHealth
    let dataDir: String
    let watchDir: String
    let interval: Duration
    let logger: Logger

    public init(health: SiteHealth, dataDir: String, watchDir: String, interval: Duration, logger: Logger) {
        self.health = health
        self.dataDir = dataDir
        self.watchDir = watchDir
        self.interval = interval
        self.logger = logger
    }

    /// When the beat in flight started; nil when none is.
    private final class InFlight: Sendable {
        let started = Mutex<ContinuousClock.Instant?>(nil)
    }

    public func run() async throws {
        let inFlight = InFlight()
        try? await cancelWhenGracefulShutdown {
            var reported: String?
            while true {
                if let started = inFlight.started.withLock({ $0 }) {
                    let waited = ContinuousClock.now - started
                    if waited >= interval {
                        let why = "data folder \(dataDir): a write and sync has not returned for \(waited.components.seconds) s"
                        health.heartbeat(failed: why)
                    }
                } else {
                    inFlight.started.withLock { $0 = .now }
                    let (health, dataDir, watchDir) = (self.health, self.dataDir, self.watchDir)
                    let thread = Thread {
                        let failure = DiskHeartbeat.beat(dataDir: dataDir, watchDir: watchDir)
                        health.heartbeat(failed: failure)
                        inFlight.started.withLock { $0 = nil }
                    }
                    thread.name = "newsd-heartbeat"
                    thread.start()
                }
                try await Task.sleep(for: min(interval, .seconds(1)))
                let now = health.diskError
                if now != reported {
                    if let now { logger.error("disk: \(now)") } else if let before = reported { logger.notice("disk answers again (was: \(before))") }
                    reported = now
                }
                try await Task.sleep(for: max(.zero, interval - .seconds(1)))
            }
        }
    }
}
