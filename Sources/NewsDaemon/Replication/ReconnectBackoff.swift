import Foundation

/// How long a dialler waits before dialling again: exponential in the failures in a row, with
/// jitter, 0.25 s to 30 s.
struct ReconnectBackoff: Sendable, Equatable {
    private(set) var failures = 0

    mutating func dialFailed() { failures += 1 }

    /// A session that ended cleanly after a while resets the count. One that ended on an error
    /// counts as a failure however long it ran, so a fault that recurs in every session (a store
    /// error, a peer that refuses what we send) never becomes a reconnect loop; after a long
    /// healthy run it starts again from one.
    mutating func sessionEnded(clean: Bool, lasted: Duration) {
        if clean && lasted > .seconds(5) {
            failures = 0
        } else if !clean && lasted > .seconds(60) {
            failures = 1
        } else {
            failures += 1
        }
    }

    /// The longest wait for the current count.
    var ceiling: Duration { .milliseconds(Int(min(30.0, 0.25 * pow(2.0, Double(min(failures, 8)))) * 1000)) }

    /// A wait between half the ceiling and the ceiling.
    func delay<R: RandomNumberGenerator>(using random: inout R) -> Duration {
        let ceiling = ceiling / .milliseconds(1)
        return .milliseconds(Int.random(in: Int(ceiling / 2)...Int(ceiling), using: &random))
    }
}
