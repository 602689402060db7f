import Foundation
import NIOCore
import NIOPosix
import SyncProtocol

/// Sends one request to newsd's control socket and waits for its response.
public struct ControlClient: Sendable {
    public let socketPath: String

    public init(socketPath: String) { self.socketPath = socketPath }

    public enum ClientError: Error, CustomStringConvertible, Equatable {
        case notRunning(path: String, detail: String)
        case closedEarly(path: String)
        case badResponse(String)

        public var description: String {
            switch self {
            case .notRunning(let path, let detail):
                "newsd is not running, or not reachable: cannot connect to \(path) (\(detail)). Start it with `swift run newsd`, or point newsctl at it with --control PATH or --data DIR"
            case .closedEarly(let path): "newsd closed the connection on \(path) before answering"
            case .badResponse(let detail): "newsd sent a response newsctl cannot read: \(detail)"
            }
        }
    }

    public func send<R: ControlRequest>(_ request: R) async throws -> R.Response {
        let body = Array(try ControlJSON.encoder().encode(RequestEnvelope(request)))
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch let error as IOError {
            throw ClientError.notRunning(path: socketPath, detail: String(cString: strerror(error.errnoCode)))
        } catch {
            throw ClientError.notRunning(path: socketPath, detail: "\(error)")
        }
        let frame = try await channel.executeThenClose { inbound, outbound -> [UInt8] in
            try await outbound.write(ByteBuffer(bytes: FrameDecoder.frame(body)))
            var decoder = FrameDecoder(maximumFrameLength: ControlLimits.maximumResponseBytes)
            for try await buffer in inbound {
                decoder.append(buffer.readableBytesView)
                if let frame = try decoder.nextFrame() { return frame }
            }
            throw ClientError.closedEarly(path: socketPath)
        }
        let envelope: ResponseEnvelope<R.Response>
        do { envelope = try ControlJSON.decoder().decode(ResponseEnvelope<R.Response>.self, from: Data(frame)) } catch {
            throw ClientError.badResponse("\(error)")
        }
        if let failure = envelope.error { throw failure }
        guard let result = envelope.result else { throw ClientError.badResponse("neither result nor error") }
        return result
    }
}

/// Where newsctl looks for the control socket: `--control`, else `--data`, else
/// `$NEWSD_CONTROL`, else `./.newsd/newsd.sock` (the default of `swift run newsd`).
public enum SocketLocator {
    public static func path(control: String?, data: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let control { return control }
        if let data { return (data as NSString).appendingPathComponent("newsd.sock") }
        if let fromEnvironment = environment["NEWSD_CONTROL"], !fromEnvironment.isEmpty { return fromEnvironment }
        return ".newsd/newsd.sock"
    }
}
