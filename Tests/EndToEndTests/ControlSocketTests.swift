import Foundation
import Testing
import TestSupport

/// The control socket as a hostile or careless local client sees it.
@Suite(.serialized) struct ControlSocketTests {
    let folder = TemporaryFolder("control")

    func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw TimedOut(description: "cannot connect to \(path)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Sends raw bytes and reads one whole response frame, or until the daemon closes the
    /// connection (or 10 s pass).
    func exchange(_ path: String, _ bytes: [UInt8]) throws -> [UInt8] {
        let fd = try connect(path)
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // A frame is a 32-bit length, then that many bytes.
        return receive(fd) { received in
            received.count >= 4 && received.count >= 4 + received[0..<4].reduce(0) { $0 << 8 | Int($1) }
        }
    }

    @Test func socketIsForTheDaemonsUserAndGroupOnly() async throws {
        try await offThePool {
            try FileManager.default.createDirectory(atPath: folder.sub("w"), withIntermediateDirectories: true)
            let daemon = try DaemonProcess(watch: folder.sub("w"), data: folder.sub("d"))
            try daemon.waitUntilReady()
            let attributes = try FileManager.default.attributesOfItem(atPath: folder.sub("d/newsd.sock"))
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o660)
        }
    }

    @Test func oversizedMalformedAndUnknownRequestsGetErrorsAndTheDaemonStaysUp() async throws {
        try await offThePool {
            try FileManager.default.createDirectory(atPath: folder.sub("w"), withIntermediateDirectories: true)
            let daemon = try DaemonProcess(watch: folder.sub("w"), data: folder.sub("d"))
            try daemon.waitUntilReady()
            let path = folder.sub("d/newsd.sock")

            let oversized = String(decoding: try exchange(path, [0x7f, 0xff, 0xff, 0xff, 1, 2, 3]).dropFirst(4), as: UTF8.self)
            #expect(oversized.contains("bad_request") && oversized.contains("exceeds the limit"))

            func frame(_ text: String) -> [UInt8] {
                let body = Array(text.utf8)
                return [UInt8(body.count >> 24 & 0xff), UInt8(body.count >> 16 & 0xff), UInt8(body.count >> 8 & 0xff), UInt8(body.count & 0xff)] + body
            }
            let garbage = String(decoding: try exchange(path, frame("\u{1}\u{2}not json")).dropFirst(4), as: UTF8.self)
            #expect(garbage.contains("bad_request"))
            let unknown = String(decoding: try exchange(path, frame(#"{"method":"format_disk","params":{}}"#)).dropFirst(4), as: UTF8.self)
            #expect(unknown.contains("unknown_method"))

            // A client that connects and hangs does not block others.
            let hung = try connect(path)
            defer { close(hung) }
            #expect(try daemon.ctl(["status"]).status == 0)
            #expect(daemon.process.isRunning)
        }
    }
}
