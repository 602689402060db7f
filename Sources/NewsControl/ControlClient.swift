import Foundation
import SyncProtocol

/// Sends one request to newsd's control socket and waits for its response.
public struct ControlClient: Sendable {
    public let socketPath: String

    public init(socketPath: String) { self.socketPath = socketPath }

    public enum ClientError: Error, CustomStringConvertible, Equatable {
        case notRunning(path: String, detail: String)
        /// The socket is there and the caller may not connect: not in its group.
        case denied(path: String, group: String)
        case closedEarly(path: String)
        case badResponse(String)

        public var description: String {
            switch self {
            case .notRunning(let path, let detail):
                "newsd is not running: cannot connect to \(path) (\(detail)). Start it (`systemctl start newsd`, or `swift run newsd` in the repository), or point newsctl at it with --control PATH or --data DIR"
            case .denied(let path, let group):
                "permission denied on \(path): only members of group \(group) may ask newsd (`sudo usermod -aG \(group) $USER`, then log in again)"
            case .closedEarly(let path): "newsd closed the connection on \(path) before answering"
            case .badResponse(let detail): "newsd sent a response newsctl cannot read: \(detail)"
            }
        }
    }

    public func send<R: ControlRequest>(_ request: R) async throws -> R.Response {
        let body = Array(try ControlJSON.encoder().encode(RequestEnvelope(request)))
        // The exchange blocks; it runs on a thread of its own so no task of the caller's pool waits on it.
        let frame = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], Error>) in
            let path = socketPath
            let thread = Thread { continuation.resume(with: Result { try Self.exchange(body, over: path) }) }
            thread.start()
        }
        let envelope: ResponseEnvelope<R.Response>
        do { envelope = try ControlJSON.decoder().decode(ResponseEnvelope<R.Response>.self, from: Data(frame)) } catch {
            throw ClientError.badResponse("\(error)")
        }
        if let failure = envelope.error { throw failure }
        guard let result = envelope.result else { throw ClientError.badResponse("neither result nor error") }
        return result
    }

    private static func exchange(_ body: [UInt8], over path: String) throws -> [UInt8] {
        var first: [UInt8] = []
        try stream(body, over: path) { frame in
            first = frame
            return false
        }
        return first
    }

    /// `newsctl backup`: the response, then the copy's bytes handed to `write` as they arrive.
    /// Blocks; for a command that does nothing else meanwhile.
    public func backup(_ request: BackupRequest, header: (BackupRequest.Response) throws -> Void,
                       write: (ArraySlice<UInt8>) throws -> Void) throws -> BackupRequest.Response {
        let body = Array(try ControlJSON.encoder().encode(RequestEnvelope(request)))
        var response: BackupRequest.Response?
        var received: Int64 = 0
        try Self.stream(body, over: socketPath) { frame in
            guard let known = response else {
                let envelope: ResponseEnvelope<BackupRequest.Response>
                do { envelope = try ControlJSON.decoder().decode(ResponseEnvelope<BackupRequest.Response>.self, from: Data(frame)) } catch {
                    throw ClientError.badResponse("\(error)")
                }
                if let failure = envelope.error { throw failure }
                guard let result = envelope.result else { throw ClientError.badResponse("neither result nor error") }
                try header(result)
                response = result
                return result.bytes > 0
            }
            received += Int64(frame.count)
            guard received <= known.bytes else { throw ClientError.badResponse("newsd sent more of the backup than it announced") }
            try write(frame[...])
            return received < known.bytes
        }
        guard let response else { throw ClientError.closedEarly(path: socketPath) }
        return response
    }

    /// Sends `body`, then hands each frame that comes back to `each` until it returns false.
    private static func stream(_ body: [UInt8], over path: String, each: ([UInt8]) throws -> Bool) throws {
        let socket: UnixStreamSocket
        do { socket = try UnixStreamSocket(connectingTo: path) } catch {
            if error.code == EACCES || error.code == EPERM {
                throw ClientError.denied(path: path, group: guardingGroup(of: path))
            }
            let detail = error.code == ECONNREFUSED ? "nothing answers there; the socket is left from an earlier run"
                : error.code == ENOENT ? "no socket there" : String(cString: strerror(error.code))
            throw ClientError.notRunning(path: path, detail: detail)
        }
        do {
            try socket.writeAll(FrameDecoder.frame(body))
            var decoder = FrameDecoder(maximumFrameLength: ControlLimits.maximumResponseBytes)
            while true {
                let bytes = try socket.read(upTo: 256 * 1024)
                if bytes.isEmpty { throw ClientError.closedEarly(path: path) }
                decoder.append(bytes)
                while let frame = try decoder.nextFrame() {
                    if try !each(frame) { return }
                }
            }
        } catch let error as UnixStreamSocket.SystemError {
            if error.code == EPIPE || error.code == ECONNRESET { throw ClientError.closedEarly(path: path) }
            throw ClientError.badResponse(error.message)
        } catch let error as FrameDecoder.FrameError {
            throw ClientError.badResponse("\(error)")
        }
    }
}

/// The group that keeps the caller out: of the socket, or else of the nearest folder above it that
/// can be looked at (`/run/newsd` is 0750 newsd:newsd, so its socket cannot be).
private func guardingGroup(of path: String) -> String {
    var candidate = path
    while !candidate.isEmpty && candidate != "/" {
        var st = stat()
        if stat(candidate, &st) == 0 { return groupName(st.st_gid) ?? "gid \(st.st_gid)" }
        candidate = (candidate as NSString).deletingLastPathComponent
    }
    return "newsd"
}

private func groupName(_ gid: gid_t) -> String? {
    var group = Glibc.group()
    var result: UnsafeMutablePointer<Glibc.group>?
    var buffer = [CChar](repeating: 0, count: 16 * 1024)
    guard getgrgid_r(gid, &group, &buffer, buffer.count, &result) == 0, result != nil, let name = group.gr_name else { return nil }
    return String(cString: name)
}
