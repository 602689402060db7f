import Foundation

/// The watchdog's intervals.
public struct SessionTiming: Sendable {
    public var pingInterval: Duration = .seconds(10)
    /// A peer that sends no byte this long, or reads none of ours, is dropped.
    public var silenceLimit: Duration = .seconds(30)
    /// A connection that has not completed TLS and sent its hello by then is closed: until it
    /// does, it holds one of the listener's few pending-hello places.
    public var helloLimit: Duration = .seconds(10)
    public init() {}

    /// `NEWSD_TEST_SESSION_TIMING=ping_ms,silence_ms`, so tests of the watchdog need not wait 30 s.
    public static func fromEnvironment() -> SessionTiming? {
        guard let text = ProcessInfo.processInfo.environment["NEWSD_TEST_SESSION_TIMING"] else { return nil }
        let parts = text.split(separator: ",").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ $0 > 0 }) else { return nil }
        var timing = SessionTiming()
        timing.pingInterval = .milliseconds(parts[0])
        timing.silenceLimit = .milliseconds(parts[1])
        return timing
    }
}
