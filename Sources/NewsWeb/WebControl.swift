import Foundation
import SyncProtocol

/// The web view's way to the site: the same control requests newsctl sends, answered in process
/// by newsd's dispatcher, each naming the web account that asked (for the daemon's log). No page
/// reaches into the store.
public struct WebControl: Sendable {
    /// Answers one request frame for a web account.
    public let respond: @Sendable (_ frame: [UInt8], _ account: String) async -> [UInt8]

    public init(respond: @escaping @Sendable (_ frame: [UInt8], _ account: String) async -> [UInt8]) {
        self.respond = respond
    }

    public func send<R: ControlRequest>(_ request: R, as account: String) async throws -> R.Response {
        let frame = Array(try ControlJSON.encoder().encode(RequestEnvelope(request)))
        let answer = await respond(frame, account)
        let envelope = try ControlJSON.decoder().decode(ResponseEnvelope<R.Response>.self, from: Data(answer))
        if let error = envelope.error { throw error }
        guard let result = envelope.result else { throw ControlFailure(.internal, "an empty answer to \(R.method)") }
        return result
    }
}
