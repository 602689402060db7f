import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncProtocol

/// One route per page, each a thin adapter: read the request, send control requests as the
/// signed-in account, hand the answers to a template. HTML pages and their `/api/...` JSON twins
/// (the shapes `newsctl --json` prints).
struct WebRoutes {
    let service: WebService
    var control: WebControl { service.control }
    var sessions: WebSessions { service.sessions }

    static let sessionCookie = "newsd_session"
    /// Cookies go over HTTPS only when newsd serves it (behind a proxy the browser's side may be
    /// HTTPS while newsd's is not: the proxy's own settings decide there).
    var secureCookies: Bool { service.security.tls != nil }
    static let languageCookie = "newsd_lang"
    /// Versions in one page of an article's timeline (older ones on further pages), and how many
    /// of them get word counts.
    static let timelineVersions = 100
    static let countedVersions = 50
    /// Versions larger than this get no word count (each count reads both texts whole).
    static let countedBytes: UInt64 = 256 << 10
    /// Text shown of each competing version on the conflicts page, and conflicts on it.
    static let conflictTextBytes = 16 << 10
    static let conflictsShown = 20
    /// Text shown of one version at most.
    static let maximumShownBytes = 1 << 20

    func add(to router: Router<WebContext>) {
        router.get("/") { _, _ in Response.redirect(to: "/articles") }
        router.get("style.css") { _, _ in WebService.response(WebTemplates.style, type: "text/css; charset=utf-8") }
        router.get("signin") { request, context in try await signInPage(request, context) }
        router.post("signin") { request, context in try await signIn(request, context) }
        router.post("signout") { request, context in try await signOut(request, context) }
        router.get("articles") { request, context in try await guarded(request, context) { view in try await articlesPage(request, view) } }
        router.get("article") { request, context in try await guarded(request, context) { view in try await articlePage(request, view) } }
        router.get("blame") { request, context in try await guarded(request, context) { view in try await blamePage(request, view) } }
        router.get("diff") { request, context in try await guarded(request, context) { view in try await diffPage(request, view) } }
        router.get("restore") { request, context in try await guarded(request, context) { view in try await restorePage(request, view) } }
        router.post("restore") { request, context in try await guardedChange(request, context) { view, form in try await restore(form, view) } }
        router.get("conflicts") { request, context in try await guarded(request, context) { view in try await conflictsPage(view) } }
        router.post("resolve") { request, context in try await guardedChange(request, context) { view, form in try await resolve(form, view) } }
        router.get("sites") { request, context in try await guarded(request, context) { view in try await sitesPage(view) } }
        router.get("status") { request, context in try await guarded(request, context) { view in try await statusPage(view) } }
        // JSON, as newsctl --json prints it.
        router.get("api/articles") { request, context in try await guardedJSON(request, context) { account in
            try await control.send(articlesRequest(request), as: account) } }
        router.get("api/article") { request, context in try await guardedJSON(request, context) { account in
            try await control.send(LogRequest(article: try path(request), limit: 1000), as: account) } }
        router.get("api/blame") { request, context in try await guardedJSON(request, context) { account in
            try await control.send(BlameRequest(article: try path(request), version: try Self.param(request, "v").map { try Self.spec($0) } ?? .head),
                                   as: account) } }
        router.get("api/status") { request, context in try await guardedJSON(request, context) { try await control.send(StatusRequest(), as: $0) } }
        router.get("api/peers") { request, context in try await guardedJSON(request, context) { try await control.send(PeersRequest(), as: $0) } }
        router.get("api/conflicts") { request, context in try await guardedJSON(request, context) { try await control.send(ConflictsRequest(), as: $0) } }
    }

    // MARK: who is asking

    func view(_ request: Request) -> View {
        let token = request.cookies[Self.sessionCookie]?.value
        let language = WebCatalogue.language(acceptLanguage: request.headers[.acceptLanguage],
                                              chosen: Self.param(request, "lang") ?? request.cookies[Self.languageCookie]?.value)
        let kept = (request.uri.query ?? "").split(separator: "&").filter { !$0.hasPrefix("lang=") }.joined(separator: "&")
        return View(session: sessions.session(token), token: token, strings: WebCatalogue.strings(language), language: language,
                    langQuery: kept.isEmpty ? "" : kept + "&")
    }

    /// The account a trusted reverse proxy names (`web_trusted_proxy`): its header, believed only
    /// on a connection from the proxy's own address, for an account this site has. Nil when the
    /// request does not come that way; `.failure` names an account the proxy sent that is not one here.
    func proxied(_ request: Request, _ context: WebContext) async -> Result<WebSessions.Session, ProxiedUnknown>? {
        let security = service.security
        guard !security.trustedProxies.isEmpty, security.trustedProxies.contains(context.remote),
              let header = HTTPField.Name(security.proxyUserHeader), let name = request.headers[header], !name.isEmpty,
              let secret = request.headers[HTTPField.Name(WebSecurity.proxySecretHeader)!], WebSessions.equal(secret, security.proxySecret) else { return nil }
        // Names are checked as account names are made (ASCII letters, digits, `.`, `_`, `-`): no
        // cut that could land on another account, no look-alike that compares equal.
        guard WebAccounts.isValidName(name) else { return .failure(ProxiedUnknown(account: String(name.prefix(64)).unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7f }.map(String.init).joined())) }
        let account = name
        guard let role = await service.accounts.role(of: account) else { return .failure(ProxiedUnknown(account: account)) }
        return .success(WebSessions.Session(account: account, role: role, csrf: security.formToken(for: account), lastUsed: .now))
    }

    struct ProxiedUnknown: Error { let account: String }

    /// The view of a request, with the proxy's account in place of any cookie's.
    func signedInView(_ request: Request, _ context: WebContext) async -> (view: View, unknown: String?) {
        var view = view(request)
        switch await proxied(request, context) {
        case .success(let session)?:
            view.session = session
            view.token = nil
        case .failure(let unknown)?:
            service.logger.warning("web: the proxy at \(context.remote) named '\(unknown.account)', which is not a web account here")
            view.session = nil
            return (view, unknown.account)
        case nil: break
        }
        return (view, nil)
    }

    /// A page for a signed-in account; anyone else goes to the sign-in page.
    func guarded(_ request: Request, _ context: WebContext, _ body: (View) async throws -> Response) async throws -> Response {
        let (view, unknown) = await signedInView(request, context)
        if let unknown {
            return service.page("message", ["heading": view.strings["not_an_account"]!, "text": unknown], view: view, status: .forbidden)
        }
        guard var session = view.session else { return Response.redirect(to: "/signin") }
        // A role changed or an account removed since sign-in counts now.
        guard let role = await currentRole(session) else {
            sessions.end(view.token)
            return Response.redirect(to: "/signin")
        }
        session.role = role
        var current = view
        current.session = session
        var response: Response
        do { response = try await body(current) } catch let failure as ControlFailure {
            response = failurePage(failure, current)
        }
        if Self.param(request, "lang") != nil {
            response.setCookie(Cookie(name: Self.languageCookie, value: current.language.rawValue, maxAge: 365 * 86_400, path: "/",
                                      secure: secureCookies, httpOnly: true, sameSite: .strict))
        }
        return response
    }

    /// A POST from a signed-in editor carrying the session's CSRF token; the form's fields.
    func guardedChange(_ request: Request, _ context: WebContext, _ body: (View, [String: String]) async throws -> Response) async throws -> Response {
        var request = request
        let form = try await Self.form(&request)
        return try await guarded(request, context) { view in
            guard let session = view.session, let csrf = form["csrf"], WebSessions.equal(csrf, session.csrf) else {
                return service.page("message", ["heading": view.strings["bad_request"]!, "text": "CSRF"], view: view, status: .forbidden)
            }
            guard session.role == .editor else {
                return service.page("message", ["heading": view.strings["forbidden"]!, "text": ""], view: view, status: .forbidden)
            }
            return try await body(view, form)
        }
    }

    func guardedJSON<T: Encodable>(_ request: Request, _ context: WebContext, _ body: (String) async throws -> T) async throws -> Response {
        let view = await signedInView(request, context).view
        guard let session = view.session, await currentRole(session) != nil else {
            return WebService.response(#"{"error":{"kind":"unauthorized","message":"sign in first"}}"#, type: "application/json", status: .unauthorized)
        }
        do {
            let value = try await body(session.account)
            return WebService.response(String(decoding: try ControlJSON.encoder(pretty: true).encode(value), as: UTF8.self), type: "application/json")
        } catch let failure as ControlFailure {
            let body = String(decoding: try ControlJSON.encoder().encode(ResponseEnvelope<Bool>(error: failure)), as: UTF8.self)
            return WebService.response(body, type: "application/json", status: Self.status(for: failure))
        }
    }

    func currentRole(_ session: WebSessions.Session) async -> WebUserRequest.Role? {
        // The first-run account has no entry in the accounts file: it lives as long as its session.
        if session.account == WebRoutes.firstRunAccount { return await service.accounts.isEmpty ? session.role : nil }
        return await service.accounts.role(of: session.account)
    }

    static let firstRunAccount = "first-run"

    // MARK: signing in

    func signInPage(_ request: Request, _ context: WebContext) async throws -> Response {
        let view = view(request)
        if let token = Self.param(request, "token") {
            guard sessions.maySignIn(from: context.remote + "|first-run"), await service.accounts.isEmpty, sessions.redeemFirstRunToken(String(token)) else {
                sessions.failedSignIn(from: context.remote + "|first-run")
                return service.page("signin", ["error": view.strings["wrong_password"]!], view: view, status: .forbidden)
            }
            service.logger.notice("web: signed in with the first-run link from \(context.remote)")
            return startSession(account: Self.firstRunAccount, role: .editor, view: view)
        }
        return service.page("signin", ["pageTitle": view.strings["sign_in"]!], view: view)
    }

    func signIn(_ request: Request, _ context: WebContext) async throws -> Response {
        var request = request
        let form = try await Self.form(&request)
        let view = view(request)
        let name = String((form["name"] ?? "").prefix(64)), password = form["password"] ?? ""
        // Counted per address and name before any hashing, so parallel tries cannot slip past the
        // limit, and a proxy's single address does not lock the whole newsroom out.
        let key = context.remote + "|" + name
        guard sessions.maySignIn(from: key) else {
            return service.page("signin", ["error": view.strings["too_many"]!], view: view, status: .tooManyRequests)
        }
        sessions.failedSignIn(from: key)
        // At most two passwords checked at once: each is a quarter of a second of CPU.
        guard sessions.beginCheck() else {
            return service.page("signin", ["error": view.strings["too_many"]!], view: view, status: .tooManyRequests)
        }
        let role = await service.accounts.verify(name: name, password: password)
        sessions.endCheck()
        guard let role else {
            service.logger.warning("web: failed sign-in for '\(name.prefix(64))' from \(context.remote)")
            return service.page("signin", ["error": view.strings["wrong_password"]!], view: view, status: .unauthorized)
        }
        sessions.signedIn(from: key)
        service.logger.notice("web: \(name) signed in from \(context.remote)")
        return startSession(account: name, role: role, view: view)
    }

    func startSession(account: String, role: WebUserRequest.Role, view: View) -> Response {
        let (token, _) = sessions.start(account: account, role: role)
        var response = Response.redirect(to: "/articles", type: .found)
        response.setCookie(Cookie(name: Self.sessionCookie, value: token, maxAge: Int(WebSessions.idleLimit.components.seconds), path: "/",
                                  secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    func signOut(_ request: Request, _ context: WebContext) async throws -> Response {
        var request = request
        let form = try await Self.form(&request)
        let view = view(request)
        guard let session = view.session, let csrf = form["csrf"], WebSessions.equal(csrf, session.csrf) else {
            return Response.redirect(to: "/articles", type: .found)
        }
        sessions.end(view.token)
        var response = Response.redirect(to: "/signin", type: .found)
        response.setCookie(Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    // MARK: pages

    func articlesRequest(_ request: Request) -> ArticlesRequest {
        let query = request.uri.queryParameters
        _ = query
        let filter = Self.param(request, "filter").flatMap { ArticlesRequest.Filter(rawValue: $0) } ?? .live
        let page = Self.param(request, "page").flatMap { Int($0) }.map { $0 > 1 ? $0 - 1 : 0 } ?? 0
        let midnight = Calendar.current.startOfDay(for: Date())
        let text = Self.param(request, "q").map { String($0.prefix(200)) }
        return ArticlesRequest(query: text, filter: filter, page: page, pageSize: 100,
                               todayStartMillis: UInt64(midnight.timeIntervalSince1970 * 1000))
    }

    func articlesPage(_ request: Request, _ view: View) async throws -> Response {
        let asked = articlesRequest(request)
        let answer = try await control.send(asked, as: view.session!.account)
        let rows: [[String: Any]] = answer.articles.map { summary in
            var row: [String: Any] = [:]
            row["article"] = summary.article
            row["pathQuery"] = Self.queryEscaped(summary.article)
            row["title"] = Self.displayable(summary.title)
            row["timeISO"] = summary.head.time
            row["timeLocal"] = Self.localTime(summary.head.hlc)
            row["origin"] = String(summary.head.origin.prefix(7))
            row["size"] = Self.size(summary.head.size)
            row["conflicted"] = summary.heads > 1
            row["deleted"] = summary.deleted
            return row
        }
        let pages = max(1, (answer.total + answer.pageSize - 1) / answer.pageSize)
        let filters: [[String: Any]] = ArticlesRequest.Filter.allCases.map {
            ["value": $0.rawValue, "label": view.strings["filter_" + $0.rawValue] ?? $0.rawValue, "current": $0 == asked.filter,
             "queryEscaped": Self.queryEscaped(asked.query ?? "")]
        }
        var data: [String: Any] = ["pageTitle": view.strings["articles"]!, "rows": rows, "hasRows": !rows.isEmpty, "total": answer.total,
                                   "query": asked.query ?? "", "queryEscaped": Self.queryEscaped(asked.query ?? ""),
                                   "filter": asked.filter.rawValue, "filters": filters,
                                   "pageNumber": answer.page + 1, "pageCount": pages]
        if answer.page > 0 { data["previousPage"] = answer.page }
        if answer.page + 1 < pages { data["nextPage"] = answer.page + 2 }
        return service.page("articles", data, view: view)
    }

    func articlePage(_ request: Request, _ view: View) async throws -> Response {
        let article = try path(request)
        let account = view.session!.account
        // One page of the timeline, and the version before it (for the last row's change).
        // Any number a client sends (Int.min included) is a page from the first to the millionth.
        let timelinePage = min(max(Self.param(request, "vpage").flatMap { Int($0) } ?? 1, 1), 1_000_000) - 1
        let fetched = try await control.send(LogRequest(article: article, limit: Self.timelineVersions + 1, skip: timelinePage * Self.timelineVersions),
                                             as: account)
        let versions = Array(fetched.prefix(Self.timelineVersions))
        let shown: VersionSpec = try Self.param(request, "v").map { try Self.spec($0) } ?? .head
        let text = try await control.send(ShowRequest(article: article, version: shown), as: account)
        // Word counts for the newest versions: each needs both texts, read only for pairs not
        // counted before.
        let counted = service.wordCounts.withLock { $0 }
        let newest = Array(versions.prefix(Self.countedVersions))
        var wanted = Set<String>()
        for (index, info) in newest.enumerated() where index + 1 < fetched.count && counted[info.version + fetched[index + 1].version] == nil {
            wanted.insert(info.version)
            wanted.insert(fetched[index + 1].version)
        }
        var texts: [String: String] = [:]
        for info in fetched.prefix(Self.countedVersions + 1) where wanted.contains(info.version) && info.op == "put" && info.size <= Self.countedBytes {
            texts[info.version] = Self.text(try await control.send(ShowRequest(article: article, version: .prefix(info.version)), as: account).content)
        }
        // The version in the folder: the conflict rule's winner, not merely the newest arrival.
        let head = shown == .head ? text.info.version : try await control.send(ShowRequest(article: article, version: .head), as: account).info.version
        let rows: [[String: Any]] = versions.enumerated().map { index, info in
            var row: [String: Any] = ["short": String(info.version.prefix(12)), "pathQuery": Self.queryEscaped(article),
                                      "timeISO": info.time, "timeLocal": Self.localTime(info.hlc), "origin": info.origin.prefix(7),
                                      "size": Self.size(info.size), "deleted": info.op == "delete", "isHead": info.version == head,
                                      "selected": info.version == text.info.version, "mayRestore": view.session?.role == .editor]
            if let author = info.author { row["author"] = EntryAuthor.display(author) }
            if index + 1 < fetched.count {
                let previous = fetched[index + 1]
                row["previous"] = String(previous.version.prefix(12))
                if let known = counted[info.version + previous.version] {
                    row["added"] = known.added
                    row["removed"] = known.removed
                } else if index < Self.countedVersions, let new = texts[info.version] ?? (info.op == "delete" ? "" : nil),
                          let old = texts[previous.version] ?? (previous.op == "delete" ? "" : nil) {
                    let diff = WebDiff.make(old: old, new: new, mode: .word)
                    row["added"] = diff.wordsAdded
                    row["removed"] = diff.wordsRemoved
                    service.wordCounts.withLock { cache in
                        if cache.count >= WebService.maximumWordCounts { cache.removeAll() }
                        cache[info.version + previous.version] = (diff.wordsAdded, diff.wordsRemoved)
                    }
                } else {
                    row["added"] = "?"
                    row["removed"] = "?"
                }
            }
            return row
        }
        var data: [String: Any] = ["pageTitle": article, "article": article, "versions": rows, "text": Self.text(text.content),
                                   "pathQuery": Self.queryEscaped(article), "showsText": text.info.op == "put",
                                   "timelinePage": timelinePage + 1]
        // Past the end, the way back is to the first page.
        if timelinePage > 0 { data["newerPage"] = fetched.isEmpty ? 1 : timelinePage }
        if fetched.count > Self.timelineVersions { data["olderPage"] = timelinePage + 2 }
        if shown != .head { data["shownVersion"] = String(text.info.version.prefix(12)) }
        let notice = Self.param(request, "done").flatMap { ["restored", "resolved"].contains($0) ? view.strings[$0] : nil }
        return service.page("article", data, view: view, notice: notice)
    }

    /// Who last changed each paragraph of a version: the paragraphs in order, each with its
    /// version, author, site and time; a run of paragraphs from one version shows it once.
    func blamePage(_ request: Request, _ view: View) async throws -> Response {
        let article = try path(request)
        let shown: VersionSpec = try Self.param(request, "v").map { try Self.spec($0) } ?? .head
        let blame = try await control.send(BlameRequest(article: article, version: shown), as: view.session!.account)
        var rows: [[String: Any]] = []
        var previous: Int?
        for line in blame.lines where !line.text.isEmpty {
            var row: [String: Any] = ["text": line.text]
            if line.change != previous {
                let change = blame.versions[line.change]
                row["change"] = ["short": String(change.version.prefix(12)), "pathQuery": Self.queryEscaped(article),
                                 "timeISO": change.time, "timeLocal": Self.localTime(change.hlc),
                                 "origin": String(change.origin.prefix(7)),
                                 "author": change.author.map(EntryAuthor.display) ?? view.strings["unknown_author"] ?? "?"]
            }
            previous = line.change
            rows.append(row)
        }
        var data: [String: Any] = ["pageTitle": article, "article": article, "pathQuery": Self.queryEscaped(article),
                                   "short": String(blame.info.version.prefix(12)), "lines": rows]
        if let stop = blame.stopped {
            data["stopped"] = ["walked": blame.walked, "why": view.strings["blame_stopped_\(stop.rawValue)"] ?? stop.rawValue]
        }
        if blame.approximate { data["approximate"] = true }
        return service.page("blame", data, view: view, notice: nil)
    }

    func diffPage(_ request: Request, _ view: View) async throws -> Response {
        let article = try path(request)
        let account = view.session!.account
        let from = try await control.send(ShowRequest(article: article, version: try Self.spec(Self.param(request, "from") ?? "~1")), as: account)
        let to = try await control.send(ShowRequest(article: article, version: try Self.spec(Self.param(request, "to") ?? "head")), as: account)
        let mode = WebDiff.Mode(rawValue: Self.param(request, "mode") ?? "word") ?? .word
        let diff = WebDiff.make(old: Self.text(from.content), new: Self.text(to.content), mode: mode)
        var data = Self.diffData(diff)
        data.merge(["pageTitle": article, "article": article, "pathQuery": Self.queryEscaped(article),
                    "from": String(from.info.version.prefix(12)), "to": String(to.info.version.prefix(12)),
                    "wordMode": mode == .word, "lineMode": mode == .line]) { $1 }
        return service.page("diff", data, view: view)
    }

    func restorePage(_ request: Request, _ view: View) async throws -> Response {
        let article = try path(request)
        let account = view.session!.account
        let version = try Self.spec(Self.param(request, "v") ?? "")
        let chosen = try await control.send(ShowRequest(article: article, version: version), as: account)
        let current = try await control.send(ShowRequest(article: article, version: .head), as: account)
        var data = Self.diffData(WebDiff.make(old: Self.text(current.content), new: Self.text(chosen.content), mode: .word))
        data.merge(["pageTitle": view.strings["restore"]!, "article": article, "version": String(chosen.info.version.prefix(12)),
                    "csrf": view.session!.csrf]) { $1 }
        return service.page("restore", data, view: view)
    }

    func restore(_ form: [String: String], _ view: View) async throws -> Response {
        let article = try Self.checkedPath(form["path"])
        let version = try Self.spec(form["v"] ?? "")
        let account = view.session!.account
        let done = try await control.send(RestoreRequest(article: article, version: version), as: account)
        service.logger.notice("web: \(account) restored \(article) to \(done.restored.version.prefix(12))")
        return Response.redirect(to: "/article?path=\(Self.queryEscaped(article))&done=restored", type: .found)
    }

    func conflictsPage(_ view: View) async throws -> Response {
        let account = view.session!.account
        let conflicts = try await control.send(ConflictsRequest(), as: account)
        var items: [[String: Any]] = []
        for conflict in conflicts.prefix(Self.conflictsShown) {
            var heads: [[String: Any]] = []
            for head in conflict.heads {
                let content = head.op == "put"
                    ? Self.text(try await control.send(ShowRequest(article: conflict.article, version: .prefix(head.version)), as: account).content, limit: Self.conflictTextBytes)
                    : ""
                heads.append(["short": String(head.version.prefix(12)), "origin": head.origin.prefix(7), "timeISO": head.time,
                              "timeLocal": Self.localTime(head.hlc), "winner": head.version == conflict.winner, "text": content,
                              "article": conflict.article, "csrf": view.session!.csrf, "mayResolve": view.session?.role == .editor])
            }
            items.append(["article": conflict.article, "pathQuery": Self.queryEscaped(conflict.article), "heads": heads])
        }
        return service.page("conflicts", ["pageTitle": view.strings["conflicts"]!, "items": items], view: view)
    }

    func resolve(_ form: [String: String], _ view: View) async throws -> Response {
        let article = try Self.checkedPath(form["path"])
        let take = try Self.spec(form["take"] ?? "")
        let account = view.session!.account
        let done = try await control.send(ResolveRequest(article: article, take: take), as: account)
        service.logger.notice("web: \(account) resolved \(article) with \(done.version.prefix(12))")
        return Response.redirect(to: "/article?path=\(Self.queryEscaped(article))&done=resolved", type: .found)
    }

    func sitesPage(_ view: View) async throws -> Response {
        let account = view.session!.account
        let status = try await control.send(StatusRequest(), as: account)
        let peers = try await control.send(PeersRequest(), as: account)
        let pending = (try? await control.send(PendingPeersRequest(), as: account)) ?? []
        let rows: [[String: Any]] = peers.map { peer in
            ["id": peer.id, "name": [peer.label, peer.name].compactMap { $0 }.joined(separator: " · "), "connected": peer.connected,
             "state": peer.syncState, "lastExchange": peer.lastExchange ?? "—", "clock": peer.clockAheadSeconds.map { "+\($0) s" } ?? ""]
        }
        let knocks: [[String: Any]] = pending.map { ["id": $0.id, "address": $0.address, "attempts": $0.attempts, "lastSeen": $0.lastSeen, "accept": $0.accept] }
        return service.page("sites", ["pageTitle": view.strings["sites"]!, "siteId": status.siteId, "siteName": status.siteName,
                                      "listening": status.listening ?? "", "peers": rows, "pending": knocks, "hasPending": !knocks.isEmpty], view: view)
    }

    func statusPage(_ view: View) async throws -> Response {
        let s = try await control.send(StatusRequest(), as: view.session!.account)
        var rows: [[String: Any]] = [
            ["label": "site", "value": "\(s.siteId) (\(s.siteName))"], ["label": "state", "value": s.ready ? "ready" : (s.rejoining ?? "starting")],
            ["label": "watching", "value": "\(s.watchDir) [\(s.folderState)]"], ["label": "articles", "value": "\(s.articles) live, \(s.deletedArticles) deleted"],
            ["label": "log", "value": "\(s.logEntries) entries"], ["label": "conflicts", "value": "\(s.conflicts)"],
            ["label": "peers", "value": "\(s.peers.filter(\.connected).count) of \(s.peers.count) connected"],
            ["label": "version", "value": s.version],
        ]
        if let signing = s.signingAs { rows.insert(["label": "signs as", "value": signing], at: 2) }
        for fork in s.forks ?? [] { rows.append(["label": "forked", "value": fork.text]) }
        return service.page("status", ["pageTitle": view.strings["status"]!, "problems": s.problems, "hasProblems": !s.problems.isEmpty, "rows": rows], view: view)
    }

    func failurePage(_ failure: ControlFailure, _ view: View) -> Response {
        let status = Self.status(for: failure)
        let heading = status == .notFound ? view.strings["not_found"]! : status == .badRequest ? view.strings["bad_request"]! : "\(status.code)"
        return service.page("message", ["pageTitle": heading, "heading": heading, "text": failure.message], view: view, status: status)
    }

    static func status(for failure: ControlFailure) -> HTTPResponse.Status {
        switch failure.kind {
        case .notFound: .notFound
        case .badRequest, .ambiguous: .badRequest
        case .forbidden: .forbidden
        case .unavailable: .serviceUnavailable
        default: .internalServerError
        }
    }

    // MARK: helpers

    /// A query parameter, decoded once from the raw query (`+` as a space, then percent escapes,
    /// as a browser's GET form sends them).
    static func param(_ request: Request, _ name: String) -> String? {
        for pair in (request.uri.query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.first.map(String.init) == name else { continue }
            return parts.count > 1 ? String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding : ""
        }
        return nil
    }

    func path(_ request: Request) throws -> String { try Self.checkedPath(Self.param(request, "path")) }

    /// An article path as given; the daemon checks it (a path leaving the folder is `bad_request`).
    static func checkedPath(_ text: String?) throws -> String {
        guard let text, !text.isEmpty, text.utf8.count <= 4096 else { throw ControlFailure(.badRequest, "no article named") }
        return text
    }

    static func spec(_ text: String) throws -> VersionSpec {
        guard let spec = VersionSpec(argument: text) else { throw ControlFailure(.badRequest, "'\(text.prefix(64))' is not a version") }
        return spec
    }

    static func diffData(_ diff: WebDiff) -> [String: Any] {
        let blocks: [[String: Any]] = diff.blocks.map { block in
            ["segments": block.map { segment -> [String: Any] in [segment.kind.rawValue: true, "text": displayable(segment.text)] }]
        }
        return ["blocks": blocks, "cut": diff.cut, "added": diff.wordsAdded, "removed": diff.wordsRemoved]
    }

    /// Article bytes as text to show: invalid UTF-8 and NUL shown as U+FFFD, at most 1 MiB.
    static func text(_ bytes: Data, limit: Int = maximumShownBytes) -> String {
        displayable(String(decoding: bytes.prefix(limit), as: UTF8.self)) + (bytes.count > limit ? "\n…" : "")
    }

    static func displayable(_ text: String) -> String { text.replacingOccurrences(of: "\0", with: "\u{FFFD}") }

    /// A time in the site's zone, `2026-12-03 09:41:07`: the C library's, as a page of 100 rows
    /// asks 100 times (a DateFormatter made each time cost more than the rest of the page).
    static func localTime(_ hlc: UInt64) -> String {
        var seconds = time_t(clamping: (hlc >> 16) / 1000)
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else { return "?" }
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    static func size(_ bytes: UInt64) -> String {
        bytes < 1024 ? "\(bytes) B" : bytes < 1 << 20 ? String(format: "%.1f KiB", Double(bytes) / 1024) : String(format: "%.1f MiB", Double(bytes) / 1_048_576)
    }

    static func queryEscaped(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// An `application/x-www-form-urlencoded` body, at most 64 KiB.
    static func form(_ request: inout Request) async throws -> [String: String] {
        let body = try await request.collectBody(upTo: 64 << 10)
        var fields: [String: String] = [:]
        for pair in String(buffer: body).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ") }
            guard let key = parts.first?.removingPercentEncoding else { continue }
            fields[key] = parts.count > 1 ? (parts[1].removingPercentEncoding ?? "") : ""
        }
        return fields
    }
}
