import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import Mustache
import NIOCore
import ServiceLifecycle
import Synchronization
import SyncProtocol

/// The newsroom's web view, served by newsd itself (`web_listen`, `--web`): articles, an
/// article's history and word diff, restore, conflicts, sites and status, server-rendered, no
/// JavaScript. Every page is a thin adapter over the control requests newsctl sends.
public final class WebService: Service, CustomStringConvertible {
    public var description: String { "WebService" }

    let host: String
    let port: Int
    let control: WebControl
    let accounts: WebAccounts
    let sessions: WebSessions
    let library: MustacheLibrary
    let security: WebSecurity
    let logger: Logger
    let onBound: @Sendable (Int) async -> Void
    /// Words added and removed between two versions, by their IDs: versions never change, so a
    /// count made once holds. Bounded; emptied when full.
    let wordCounts = Mutex<[String: (added: Int, removed: Int)]>([:])
    static let maximumWordCounts = 20_000

    public init(host: String, port: Int, control: WebControl, accounts: WebAccounts, sessions: WebSessions,
                security: WebSecurity = WebSecurity(), logger: Logger, onBound: @escaping @Sendable (Int) async -> Void = { _ in }) throws {
        self.security = security
        self.host = host
        self.port = port
        self.control = control
        self.accounts = accounts
        self.sessions = sessions
        self.logger = logger
        self.onBound = onBound
        _ = ScalarHTML.registered
        library = MustacheLibrary(templates: try WebTemplates.all.mapValues { try MustacheTemplate(string: $0) })
    }

    public func run() async throws {
        let router = Router(context: WebContext.self)
        WebRoutes(service: self).add(to: router)
        // A connection that goes quiet is closed: idle sockets must not pile up in newsd.
        let http: HTTPServerBuilder = .http1(configuration: .init(idleTimeout: .seconds(30)))
        let app = Application(
            router: router,
            server: try security.tls.map { try .tls(http, tlsConfiguration: $0) } ?? http,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { [onBound] channel in await onBound(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.run()
    }

    /// A page: the template's content inside the layout, with the headers every page carries.
    func page(_ template: String, _ data: [String: Any], view: View, status: HTTPResponse.Status = .ok, notice: String? = nil) -> Response {
        var data = data
        data["t"] = view.strings
        let content = library.render(data, withTemplate: template) ?? ""
        var layout: [String: Any] = ["t": view.strings, "content": content, "pageTitle": data["pageTitle"] ?? view.strings["title"] ?? "newsd",
                                     "langQuery": view.langQuery]
        if let notice { layout["notice"] = notice }
        if let session = view.session {
            layout["account"] = ["name": session.account, "roleName": view.strings[session.role.rawValue] ?? session.role.rawValue, "csrf": session.csrf]
        }
        let html = library.render(layout, withTemplate: "layout") ?? ""
        return Self.response(html, type: "text/html; charset=utf-8", status: status)
    }

    static func response(_ body: String, type: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [
            .contentType: type,
            .cacheControl: "no-store",
            HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
        ]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// Per request: who is asking and in which language.
struct View {
    var session: WebSessions.Session?
    var token: String?
    var strings: [String: String]
    var language: WebCatalogue.Language
    /// The request's own query without `lang`, so the language switch keeps the page.
    var langQuery: String
}

/// The request context: the address the request came from, for the sign-in limit.
struct WebContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remote: String

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remote = source.channel.remoteAddress?.ipAddress.flatMap(WebSecurity.canonicalIP) ?? "?"
    }
}
