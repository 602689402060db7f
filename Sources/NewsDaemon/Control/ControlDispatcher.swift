import Foundation
import Logging
import NewsWeb
import Store
import SyncProtocol

/// Turns one request frame into one response frame by calling the site. Knows every method; a
/// request it cannot read, or one it does not know, gets a typed error response, never a crash.
public struct ControlDispatcher: Sendable {
    public let site: SiteLog
    public let registry: PeerRegistry?
    /// Changes the peer list (`peers add`, `peers remove`); nil where there is none (in-process tests).
    public let directory: PeerDirectory?
    /// Who may change the site; nil lets every caller (in-process tests).
    public let access: ControlAccess?
    /// The web view's accounts (`newsctl web-user`); nil when there is none.
    public let webAccounts: WebAccounts?
    public let webSessions: WebSessions?
    let logger: Logger?

    public init(site: SiteLog, registry: PeerRegistry? = nil, directory: PeerDirectory? = nil, access: ControlAccess? = nil,
                webAccounts: WebAccounts? = nil, webSessions: WebSessions? = nil, logger: Logger? = nil) {
        self.webAccounts = webAccounts
        self.webSessions = webSessions
        self.site = site
        self.registry = registry
        self.directory = directory
        self.access = access
        self.logger = logger
    }

    /// A `backup` request: the response, and the copy to stream after it (removed by the caller).
    /// Nil for any other method.
    public func backup(_ frame: [UInt8], caller: ControlAccess.Caller? = nil) async -> (response: [UInt8], path: String?)? {
        let data = Data(frame)
        guard (try? ControlJSON.decoder().decode(RequestMethod.self, from: data))?.method == BackupRequest.method else { return nil }
        if let access, !access.mayChange(caller) {
            logger?.warning("control: refused backup from \(caller.map { "\($0)" } ?? "an unnamed client"): not an admin")
            return (Self.failure(access.refusal(for: caller, method: BackupRequest.method)), nil)
        }
        let request: BackupRequest
        do { request = try ControlJSON.decoder().decode(RequestEnvelope<BackupRequest>.self, from: data).params } catch {
            return (Self.failure(ControlFailure(.badRequest, "malformed backup request: \(Self.describe(error))")), nil)
        }
        // The key is readable by root and newsd only (0600 in a 0700 folder); the admin group
        // may back up the log, not take the key out.
        if request.withKey, access != nil, caller.map({ $0.uid != 0 && $0.uid != getuid() }) ?? true {
            logger?.warning("control: refused backup --with-key from \(caller.map { "\($0)" } ?? "an unnamed client"): the site key leaves only with root")
            return (Self.failure(ControlFailure(.forbidden, "a backup with the site key needs root (sudo newsctl backup --with-key)")), nil)
        }
        logger?.notice("control: backup\(request.withKey ? " with the site key" : "") asked by \(caller.map { "\($0)" } ?? "an unnamed client")")
        do {
            let (response, path) = try await ControlBackup.make(request, site: site)
            logger?.notice("backup made: \(response.entries) entries, \(response.bytes) bytes; sending it")
            return (Self.encode(ResponseEnvelope(result: response)), path)
        } catch let failure as ControlFailure {
            logger?.error("backup failed: \(failure.message)")
            return (Self.failure(failure), nil)
        } catch {
            return (Self.failure(ControlFailure(.internal, "\(error)")), nil)
        }
    }

    /// A request from the web view, for a signed-in account whose role the web view has checked:
    /// only reads, restores and resolves go through; each change is logged with the account.
    public func respond(to frame: [UInt8], webAccount: String) async -> [UInt8] {
        let method = (try? ControlJSON.decoder().decode(RequestMethod.self, from: Data(frame)))?.method ?? ""
        let webMethods: Set<String> = [StatusRequest.method, LogRequest.method, ShowRequest.method, BlameRequest.method, ConflictsRequest.method, PeersRequest.method,
                                       PendingPeersRequest.method, ArticlesRequest.method, RestoreRequest.method, ResolveRequest.method]
        guard webMethods.contains(method) else {
            return Self.failure(ControlFailure(.forbidden, "the web view does not ask for \(method.prefix(64))"))
        }
        return await respond(to: frame, caller: nil, webAccount: webAccount)
    }

    public func respond(to frame: [UInt8], caller: ControlAccess.Caller? = nil) async -> [UInt8] {
        await respond(to: frame, caller: caller, webAccount: nil)
    }

    private func respond(to frame: [UInt8], caller: ControlAccess.Caller?, webAccount: String?) async -> [UInt8] {
        let data = Data(frame)
        let method: String
        do { method = try ControlJSON.decoder().decode(RequestMethod.self, from: data).method } catch {
            return Self.failure(ControlFailure(.badRequest, "request is not a JSON object with a \"method\""))
        }
        if ControlAccess.isChange(method: method, frame: frame) {
            // The web view has checked its account's role; a socket caller is checked here.
            if webAccount == nil, let access, !access.mayChange(caller) {
                logger?.warning("control: refused \(method.prefix(64)) from \(caller.map { "\($0)" } ?? "an unnamed client"): not an admin")
                return Self.failure(access.refusal(for: caller, method: String(method.prefix(64))))
            }
            let who = webAccount.map { "web account \($0)" } ?? caller.map { "\($0)" } ?? "an unnamed client"
            logger?.notice("control: \(method.prefix(64)) asked by \(who)")
            // Restore, resolve and confirmed deletes record local changes (and take in what is on
            // disk first): not while this site may not yet hold its own later entries.
            if ![SyncRequest.method, PeerAddRequest.method, PeerRemoveRequest.method, WebUserRequest.method].contains(method), let rejoin = site.rejoin, rejoin.isRejoining {
                return Self.failure(ControlFailure(.unavailable, "newsd is rejoining its peers (\(rejoin.progress.summary)); local changes are recorded once it has: try again shortly"))
            }
        }
        // Who a change is recorded as made by: the web account, or the caller's system account.
        let author = webAccount.map { "web:\($0)" } ?? caller.map { GroupDirectory.accountName(of: $0.uid) }
        switch method {
        case StatusRequest.method: return await handle(StatusRequest.self, data) { _ in try await status() }
        case RevokedRequest.method: return await handle(RevokedRequest.self, data) { _ in await site.revocations() }
        case LogRequest.method: return await handle(LogRequest.self, data) { try await site.history($0) }
        case ShowRequest.method: return await handle(ShowRequest.self, data) { try await site.show($0) }
        case BlameRequest.method: return await handle(BlameRequest.self, data) { try await site.blame($0) }
        case VerifyRequest.method: return await handle(VerifyRequest.self, data) { _ in try await site.verify() }
        case RestoreRequest.method: return await handle(RestoreRequest.self, data) { try await site.restore($0, author: author) }
        case DeletesRequest.method: return await handle(DeletesRequest.self, data) { try await site.deletes($0) }
        case ConflictsRequest.method: return await handle(ConflictsRequest.self, data) { _ in try await site.conflicts() }
        case ResolveRequest.method: return await handle(ResolveRequest.self, data) { try await site.resolve($0, author: author) }
        case PeersRequest.method: return await handle(PeersRequest.self, data) { _ in try await peers() }
        case SyncRequest.method: return await handle(SyncRequest.self, data) { try sync($0) }
        case PeerDiffRequest.method: return await handle(PeerDiffRequest.self, data) { try await peerDiff($0) }
        case PeerAddRequest.method: return await handle(PeerAddRequest.self, data) { try await addPeer($0) }
        case PeerRemoveRequest.method: return await handle(PeerRemoveRequest.self, data) { try await removePeer($0) }
        case PendingPeersRequest.method: return await handle(PendingPeersRequest.self, data) { _ in registry?.pendingPeers ?? [] }
        case ArticlesRequest.method: return await handle(ArticlesRequest.self, data) { try await site.articles($0) }
        case WebUserRequest.method: return await handle(WebUserRequest.self, data) { try await webUser($0) }
        default:
            return Self.failure(ControlFailure(.unknownMethod, "unknown method '\(method.prefix(64))'"))
        }
    }

    private func status() async throws -> StatusRequest.Response {
        var status = await site.statusNow()
        if let registry {
            // Peers need the site's vector: left out while a scan holds it.
            if status.scanning == nil {
                status.peers = try await peers().map {
                    PeerSummary(id: $0.id, address: $0.address, connected: $0.connected, state: $0.syncState)
                }
            }
            status.refusedConnections = registry.refusedConnections
            status.listening = registry.listening
            status.pendingPeers = registry.pendingCount
        }
        return status
    }

    private func peers() async throws -> [PeerInfo] {
        guard let registry else { return [] }
        let ahead = await site.clockAheadSeconds()
        return registry.infos(local: await site.versionVector()).map { info in
            var info = info
            info.clockAheadSeconds = SiteID(info.id).flatMap { ahead[$0] }
            return info
        }
    }

    private func sync(_ request: SyncRequest) throws -> SyncRequest.Response {
        guard let registry else { return .init(dialing: []) }
        let target = try request.site.map { text in
            let id = try Self.site(text)
            guard registry.isAllowed(id) else { throw ControlFailure(.notFound, "\(id) is not a configured peer") }
            return id
        }
        return .init(dialing: registry.nudge(target).map(\.description))
    }

    private func webUser(_ request: WebUserRequest) async throws -> [WebAccountInfo] {
        guard let accounts = webAccounts else { throw ControlFailure(.unavailable, "the web view is off (web_listen in the config, or --web)") }
        switch request.action {
        case .list:
            return await accounts.list()
        case .add:
            guard let name = request.name, let password = request.password else { throw ControlFailure(.badRequest, "web-user add needs a name and a password") }
            do {
                let added = try await accounts.add(name: name, role: request.role ?? .viewer, password: password)
                // A new password ends the account's sessions (a stolen one must not outlive it), and
                // the first account ends the first-run link's.
                webSessions?.update(account: name, role: nil)
                webSessions?.update(account: "first-run", role: nil)
                logger?.notice("web account \(name) added or changed (\(added.role.rawValue))")
                return [added]
            } catch let invalid as WebAccounts.Invalid {
                throw ControlFailure(.badRequest, invalid.description)
            }
        case .remove:
            guard let name = request.name else { throw ControlFailure(.badRequest, "web-user remove needs a name") }
            guard let gone = try await accounts.remove(name: name) else { throw ControlFailure(.notFound, "no web account '\(name.prefix(64))'") }
            webSessions?.update(account: name, role: nil)
            logger?.notice("web account \(name) removed; its sessions end")
            return [gone]
        }
    }

    private func addPeer(_ request: PeerAddRequest) async throws -> PeerChange {
        guard let directory, let registry else { throw ControlFailure(.unavailable, "this newsd has no peer list to change") }
        var peer: PeerAddress
        do { peer = try PeerAddress(request.peer.trimmingCharacters(in: .whitespaces)) } catch {
            throw ControlFailure(.badRequest, "\(error)")
        }
        if let name = request.name {
            let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty, trimmed.count <= 64, !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw ControlFailure(.badRequest, "--name must be 1 to 64 printable characters")
            }
            peer.name = trimmed
        }
        // Where it last knocked from, when it did: an accept-only peer on this machine needs no warning.
        let knocked = registry.pendingPeers.first { SiteID($0.id) == peer.site }?.address
        let change: PeerChange.Change
        do { change = try await directory.add(peer) } catch let refusal as PeerDirectory.Refusal {
            throw Self.failure(for: refusal)
        } catch {
            throw ControlFailure(.internal, "cannot keep the peer list: \(error)")
        }
        // A changed address is dialled now, not after the old one's back-off.
        if change == .updated { _ = registry.nudge(peer.site) }
        var warnings: [String] = []
        let listening = registry.listening
        if let listening, let bound = try? Endpoint(listening, listening: true), bound.isLoopback,
           !(peer.endpoint?.isLoopback ?? knocked.map { Endpoint(host: $0, port: 0).isLoopback } ?? false) {
            warnings.append("this site accepts peers on \(listening) only, which other machines cannot reach: "
                + "set listen = \"0.0.0.0:\(bound.port)\" in the config and reload, or the peer cannot dial in")
        }
        if peer.endpoint == nil {
            warnings.append("accept only: this site waits for \(peer.site) to dial it, so that site needs this one in its own peers")
        }
        return PeerChange(site: peer.site.description, address: peer.endpoint?.description, name: peer.name, change: change,
                          keptIn: await directory.source(of: peer.site) ?? "", thisSite: registry.local.description,
                          listening: listening, warnings: warnings)
    }

    private func removePeer(_ request: PeerRemoveRequest) async throws -> PeerChange {
        guard let directory, let registry else { throw ControlFailure(.unavailable, "this newsd has no peer list to change") }
        let id = try Self.site(request.site)
        do {
            let gone = try await directory.remove(id)
            return PeerChange(site: id.description, address: gone.endpoint?.description, name: gone.name, change: .removed,
                              keptIn: AddedPeersFile.path(dataDir: directory.dataDir), thisSite: registry.local.description,
                              listening: registry.listening)
        } catch let refusal as PeerDirectory.Refusal {
            throw Self.failure(for: refusal)
        } catch {
            throw ControlFailure(.internal, "cannot keep the peer list: \(error)")
        }
    }

    static func failure(for refusal: PeerDirectory.Refusal) -> ControlFailure {
        switch refusal.kind {
        case .invalid: ControlFailure(.badRequest, refusal.description)
        case .notFound: ControlFailure(.notFound, refusal.description)
        case .listedInConfig, .revoked: ControlFailure(.unavailable, refusal.description)
        }
    }

    /// A site ID from a request; a typo is a bad request naming the group.
    static func site(_ text: String) throws -> SiteID {
        do { return try SiteID.parse(text) } catch { throw ControlFailure(.badRequest, "\(error)") }
    }

    private func peerDiff(_ request: PeerDiffRequest) async throws -> PeerDiffRequest.Response {
        let id = try Self.site(request.site)
        guard let registry, let link = registry.link(id) else { throw ControlFailure(.notFound, "\(id) is not a configured peer") }
        let info = link.info(address: nil, local: await site.versionVector())
        let ahead = try await site.articlesAhead(of: link.vector)
        return .init(site: id.description, articlesAhead: ahead, entriesBehind: info.behind, connected: info.connected)
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
