import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A TCP relay on 127.0.0.1 standing in for the network between two sites, which a test can break
/// the ways real links break: delay every chunk, black-hole (connections stay open, nothing gets
/// through), or reset (every connection closed with RST, new ones refused the same way).
public final class FaultProxy: Sendable {
    public enum Mode: Sendable, Equatable {
        case pass
        case delay(milliseconds: Int)
        case blackHole
        case reset
    }

    public let port: Int
    private let target: Int
    private let listener: Int32
    private let mode = Mutex<Mode>(.pass)
    private let connections = Mutex<[Int32]>([])
    private let stopped = Atomic<Bool>(false)
    /// Chunks relayed since the proxy started: a test can see that traffic crossed it.
    private let relayed = Atomic<Int>(0)

    public init(to targetPort: Int) throws {
        target = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw TimedOut(description: "fault proxy cannot listen: \(String(cString: strerror(errno)))")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit { stop() }

    public var relayedChunks: Int { relayed.load(ordering: .relaxed) }

    public func set(_ newMode: Mode) {
        mode.withLock { $0 = newMode }
        if newMode == .reset {
            for fd in connections.withLock({ open in defer { open = [] }; return open }) { Self.reset(fd) }
        }
    }

    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in connections.withLock({ open in defer { open = [] }; return open }) { Self.reset(fd) }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return address
    }

    /// Closes with SO_LINGER 0, so the other end sees a reset, not an orderly end.
    private static func reset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            if mode.withLock({ $0 }) == .reset || stopped.load(ordering: .relaxed) {
                Self.reset(client)
                close(client)
                continue
            }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = Self.loopback(port: UInt16(target))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                Self.reset(client)
                close(client)
                close(upstream)
                continue
            }
            connections.withLock { $0 += [client, upstream] }
            let finished = Atomic<Int>(0)
            for (source, sink) in [(client, upstream), (upstream, client)] {
                Thread.detachNewThread { [self] in
                    pump(from: source, to: sink)
                    // The second pump to end closes both descriptors.
                    if finished.add(1, ordering: .acquiringAndReleasing).newValue == 2 {
                        connections.withLock { $0.removeAll { $0 == client || $0 == upstream } }
                        close(client)
                        close(upstream)
                    }
                }
            }
        }
    }

    private func pump(from source: Int32, to sink: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !stopped.load(ordering: .relaxed) {
            let current = mode.withLock { $0 }
            if current == .reset { break }
            if current == .blackHole {
                // Read nothing: bytes wait in the kernel's buffers, the sender's window fills.
                usleep(20_000)
                continue
            }
            var poller = pollfd(fd: source, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 50)
            if ready == 0 || (ready < 0 && errno == EINTR) { continue }
            let count = recv(source, &buffer, buffer.count, 0)
            if count <= 0 { break }
            if case .delay(let milliseconds) = mode.withLock({ $0 }) { usleep(useconds_t(milliseconds * 1000)) }
            var offset = 0
            while offset < count {
                let written = buffer.withUnsafeBytes { send(sink, $0.baseAddress! + offset, count - offset, Int32(MSG_NOSIGNAL)) }
                if written <= 0 { break }
                offset += written
            }
            guard offset == count else { break }
            relayed.add(1, ordering: .relaxed)
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(sink, Int32(SHUT_RDWR))
    }
}
