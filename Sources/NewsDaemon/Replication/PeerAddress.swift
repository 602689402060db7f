import SyncProtocol

/// A configured peer: `SITEID@HOST:PORT` (dial it and accept it) or `SITEID` (accept only).
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    public var site: SiteID
    public var endpoint: Endpoint?
    /// A name the operator gave it (`newsctl peers add --name`); the peer's own is in its hello.
    public var name: String? = nil

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let text: String
        public let why: String
        /// What the text was meant to be: "peer", or "address" for one to listen on.
        public var subject = "peer"
        public var description: String { "\(subject) '\(text)': \(why)" }
    }

    public init(site: SiteID, endpoint: Endpoint?, name: String? = nil) {
        self.site = site
        self.endpoint = endpoint
        self.name = name
    }

    public init(_ text: String) throws {
        let parts = text.split(separator: "@", maxSplits: 1).map(String.init)
        guard let first = parts.first, !first.isEmpty else {
            throw Invalid(text: text, why: "does not start with a site ID (run `newsd id` at that site)")
        }
        do { site = try SiteID.parse(first) } catch { throw Invalid(text: text, why: "\(error) (`newsd id` at that site prints it)") }
        if parts.count == 2 {
            do { endpoint = try Endpoint(parts[1]) } catch { throw Invalid(text: text, why: error.why) }
        }
    }

    public var description: String { endpoint.map { "\(site)@\($0)" } ?? site.description }
}

/// `HOST:PORT`, with `[v6]:PORT` for IPv6 literals.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Whether only this machine can reach it (127.0.0.0/8, ::1, localhost).
    public var isLoopback: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }

    /// `listening`: an address to bind, where port 0 asks the kernel for a free one.
    public init(_ text: String, listening: Bool = false) throws(PeerAddress.Invalid) {
        do { try self.init(parsing: text, listening: listening) } catch {
            var error = error
            if listening { error.subject = "address" }
            throw error
        }
    }

    private init(parsing text: String, listening: Bool) throws(PeerAddress.Invalid) {
        let host: Substring, port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw PeerAddress.Invalid(text: text, why: "expected [IPv6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw PeerAddress.Invalid(text: text, why: "expected HOST:PORT") }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { throw PeerAddress.Invalid(text: text, why: "empty host") }
        guard let number = Int(port), ((listening ? 0 : 1)...65535).contains(number) else {
            throw PeerAddress.Invalid(text: text, why: listening ? "port must be 0-65535 (0: any free port)" : "port must be 1-65535")
        }
        self.host = String(host)
        self.port = number
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
