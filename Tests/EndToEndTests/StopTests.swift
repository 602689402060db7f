import Foundation
import Testing
import TestSupport

/// SIGTERM ends newsd promptly whatever its connections are doing: a dial to a peer that accepts
/// TCP and never answers, a connection that never says hello. Each used to wait out its timeout
/// (7 s measured), past the tests' 10 s on a loaded machine.
@Suite(.serialized) struct StopTests {
    let folder = TemporaryFolder("stop")

    @Test func aStopDoesNotWaitForSilentConnections() async throws {
        try await offThePool {
            // A "peer" that accepts and never speaks.
            let (silent, port) = boundSocket()
            defer { close(silent) }
            let peer = try TestSite("peer", in: folder)
            let site = try TestSite("site", in: folder)
            for round in 0..<3 {
                let daemon = try DaemonProcess(watch: site.watch, data: site.data, extra: [
                    "--listen", "127.0.0.1:\(site.port)", "--peer", "\(peer.id)@127.0.0.1:\(port)", "--rejoin-timeout", "0"])
                try daemon.waitUntilReady()
                // And a client of its own that connects and says nothing.
                let quiet = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(quiet) }
                var target = sockaddr_in()
                target.sin_family = sa_family_t(AF_INET)
                target.sin_addr.s_addr = inet_addr("127.0.0.1")
                target.sin_port = UInt16(site.port).bigEndian
                _ = withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(quiet, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                usleep(UInt32(200_000 + round * 700_000))
                let started = ContinuousClock.now
                let status = daemon.terminate(timeout: .seconds(30))
                let took = ContinuousClock.now - started
                #expect(status == 0)
                #expect(took < .seconds(5), "round \(round): SIGTERM took \(took)")
            }
        }
    }

    /// A clean stop with the folder in step leaves a mark for the next start (which then skips the
    /// out-of-step check); the start takes it at once, so a kill -9 leaves none behind.
    @Test func aCleanStopLeavesTheInStepMarkAndAStartTakesIt() async throws {
        try await offThePool {
            let site = try TestSite("mark", in: folder)
            try Seeds.copy(to: site.watch)
            let mark = site.data + "/folder-in-step"
            let first = try DaemonProcess(watch: site.watch, data: site.data)
            try first.waitUntilReady()
            #expect(first.terminate() == 0)
            #expect(access(mark, F_OK) == 0, "a clean stop in step leaves the mark")
            let second = try DaemonProcess(watch: site.watch, data: site.data)
            try second.waitUntilReady()
            #expect(access(mark, F_OK) != 0, "the start took the mark")
            second.kill9()
            #expect(access(mark, F_OK) != 0, "a kill leaves no mark")
            let third = try DaemonProcess(watch: site.watch, data: site.data)
            try third.waitUntilReady()
            #expect(try third.ctl(["verify"]).status == 0)
            #expect(third.terminate() == 0)
        }
    }
}
