import Foundation

/// A request newsctl sends to newsd over the control socket; it names its response type, so the
/// client and the server cannot disagree on what comes back.
public protocol ControlRequest: Codable, Sendable {
    associatedtype Response: Codable & Sendable
    /// The request's name on the wire (`"method"` in the envelope).
    static var method: String { get }
}

/// Limits of the control socket: requests are small; responses carry article bytes.
public enum ControlLimits {
    public static let maximumRequestBytes = 1 << 20
    public static let maximumResponseBytes = 512 << 20
}

/// JSON as both ends of the control socket and `--json` write it: snake_case keys, sorted.
public enum ControlJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}

/// `{"method": "...", "params": {...}}`: what goes over the socket for each request.
public struct RequestEnvelope<Request: ControlRequest>: Codable, Sendable {
    public let method: String
    public let params: Request

    public init(_ request: Request) {
        method = Request.method
        params = request
    }
}

/// Only the method, read first so the server knows which request type to decode.
public struct RequestMethod: Decodable, Sendable {
    public let method: String
}

/// `{"result": ...}` or `{"error": {...}}`.
public struct ResponseEnvelope<Result: Codable & Sendable>: Codable, Sendable {
    public let result: Result?
    public let error: ControlFailure?

    public init(result: Result) {
        self.result = result
        self.error = nil
    }

    public init(error: ControlFailure) {
        self.result = nil
        self.error = error
    }
}

/// A failed request: a kind the client can switch on, and a sentence for the person.
public struct ControlFailure: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        case badRequest = "bad_request"
        case unknownMethod = "unknown_method"
        case notFound = "not_found"
        case ambiguous
        case unavailable
        /// The asking user may read but not change (not root nor in the admin group).
        case forbidden
        case `internal`
        /// A kind a newer newsd sends that this newsctl does not know: the message still reads.
        case other

        public init(from decoder: Decoder) throws {
            self = Kind(rawValue: try decoder.singleValueContainer().decode(String.self)) ?? .other
        }
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
