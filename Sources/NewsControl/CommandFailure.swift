import Foundation
import SyncProtocol

/// newsctl's exit statuses. Scripts and monitors switch on them: documented in docs/CONTROL.md
/// and kept stable across releases.
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    /// The check found problems (`verify`, `status --check`), or newsd could not do what was asked.
    case problems = 1
    /// The command line or the request was wrong: unknown option, bad site ID, ambiguous version.
    case usage = 2
    /// newsd could not be asked: not running, or the caller may not use its socket.
    case unreachable = 3
    /// The article, version or peer named does not exist.
    case notFound = 4
    /// newsd refused a change to a user who is not root nor in its admin group.
    case forbidden = 5
}

/// A failed newsctl command: a kind scripts can match, a sentence for the person, an exit status.
public struct CommandFailure: Error, CustomStringConvertible, Equatable, Sendable {
    public let kind: String
    public let message: String
    public let status: ExitStatus

    public init(kind: String, message: String, status: ExitStatus) {
        self.kind = kind
        self.message = message
        self.status = status
    }

    /// What newsctl reports for an error from the control client or from newsd.
    public init(_ error: Error) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let client as ControlClient.ClientError:
            switch client {
            case .notRunning: self.init(kind: "not_running", message: client.description, status: .unreachable)
            case .denied: self.init(kind: "permission_denied", message: client.description, status: .unreachable)
            case .closedEarly: self.init(kind: "closed_early", message: client.description, status: .unreachable)
            case .badResponse: self.init(kind: "bad_response", message: client.description, status: .problems)
            }
        case let failure as ControlFailure:
            let status: ExitStatus = switch failure.kind {
            case .notFound: .notFound
            case .badRequest, .ambiguous: .usage
            case .forbidden: .forbidden
            case .unknownMethod, .unavailable, .internal, .other: .problems
            }
            self.init(kind: failure.kind.rawValue, message: failure.message, status: status)
        default:
            self.init(kind: "internal", message: "\(error)", status: .problems)
        }
    }

    public var description: String { message }

    /// `{"error": {"kind": ..., "message": ...}}`, what `--json` prints on stdout.
    public var json: Data {
        struct Body: Encodable { let kind: String, message: String }
        struct Envelope: Encodable { let error: Body }
        return (try? ControlJSON.encoder(pretty: true).encode(Envelope(error: Body(kind: kind, message: message)))) ?? Data()
    }
}
