import Foundation
import Store
import SyncProtocol

/// Turns one request frame into one response frame by calling the site. Knows every method; a
/// request it cannot read, or one it does not know, gets a typed error response, never a crash.
public struct ControlDispatcher: Sendable {
    public let site: SiteLog

    public init(site: SiteLog) { self.site = site }

    public func respond(to frame: [UInt8]) async -> [UInt8] {
        let data = Data(frame)
        let method: String
        do { method = try ControlJSON.decoder().decode(RequestMethod.self, from: data).method } catch {
            return Self.failure(ControlFailure(.badRequest, "request is not a JSON object with a \"method\""))
        }
        switch method {
        case StatusRequest.method: return await handle(StatusRequest.self, data) { _ in await site.status() }
        case LogRequest.method: return await handle(LogRequest.self, data) { try await site.history($0) }
        case ShowRequest.method: return await handle(ShowRequest.self, data) { try await site.show($0) }
        case VerifyRequest.method: return await handle(VerifyRequest.self, data) { _ in try await site.verify() }
        case RestoreRequest.method: return await handle(RestoreRequest.self, data) { try await site.restore($0) }
        case DeletesRequest.method: return await handle(DeletesRequest.self, data) { try await site.deletes($0) }
        default:
            return Self.failure(ControlFailure(.unknownMethod, "unknown method '\(method.prefix(64))'"))
        }
    }

    private func handle<R: ControlRequest>(
        _ type: R.Type, _ data: Data, _ body: (R) async throws -> R.Response
    ) async -> [UInt8] {
        let request: R
        do { request = try ControlJSON.decoder().decode(RequestEnvelope<R>.self, from: data).params } catch {
            return Self.failure(ControlFailure(.badRequest, "malformed \(R.method) request: \(Self.describe(error))"))
        }
        do {
            let result = try await body(request)
            return Self.encode(ResponseEnvelope(result: result))
        } catch let failure as ControlFailure {
            return Self.failure(failure)
        } catch let error as SQLiteError where error.isDiskFull {
            return Self.failure(ControlFailure(.unavailable, "disk full: \(error.message)"))
        } catch {
            return Self.failure(ControlFailure(.internal, "\(error)"))
        }
    }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        (try? Array(ControlJSON.encoder().encode(value)))
            ?? Array(#"{"error":{"kind":"internal","message":"response could not be encoded"}}"#.utf8)
    }

    public static func failure(_ failure: ControlFailure) -> [UInt8] {
        encode(ResponseEnvelope<Bool>(error: failure))
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.dataCorrupted(let context):
            context.codingPath.map(\.stringValue).joined(separator: ".") + ": " + context.debugDescription
        default: "\(error)"
        }
    }
}
