import Foundation
import Store
import SyncProtocol

extension SiteLog {
    public func status() -> StatusRequest.Response {
        let s = log.stats
        var problemList = problems.values.sorted()
        if folderState != .ok { problemList.insert("watched folder \(folderState.description)", at: 0) }
        if let pendingReason { problemList.append(pendingReason) }
        let folderText: String
        switch folderState {
        case .ok: folderText = pendingDeletes.isEmpty ? "ok" : "deletes held"
        case .missing: folderText = "missing"
        case .emptyWhileLogHasArticles: folderText = "empty"
        }
        return StatusRequest.Response(
            ready: isReady, siteId: key.siteID.rawValue, siteName: settings.siteName, watchDir: settings.watchDir,
            dataDir: settings.dataDir, articles: s.liveArticles, deletedArticles: s.deletedArticles,
            logEntries: s.entries,
            blobs: BlobStats(count: s.blobs, storedBytes: s.blobStoredBytes, rawBytes: s.blobRawBytes),
            lastChange: lastIngest.map(VersionInfo.init(entry:)),
            skipped: skipped.values.sorted { $0.path < $1.path }, pendingDeletes: pendingDeletes.count,
            folderState: folderText, problems: problemList, conflicts: s.conflictedArticles,
            uptimeSeconds: Double((ContinuousClock.now - startedAt).components.seconds),
            version: NewsdVersion.current)
    }

    /// Turns what a person typed into an article path: relative to the watched folder, NFC.
    /// An absolute path inside the watched folder, or one starting with `./`, is accepted too.
    func article(_ text: String) throws(ControlFailure) -> ArticlePath {
        var relative = text
        let roots = [settings.watchDir, scanner.rootReal].map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        for root in roots where relative.hasPrefix(root) {
            relative = String(relative.dropFirst(root.count))
            break
        }
        while relative.hasPrefix("./") { relative.removeFirst(2) }
        do { return try ArticlePath(relative) } catch {
            throw ControlFailure(.badRequest, "'\(text)': \(error.description)")
        }
    }

    func lookup(_ article: ArticlePath, _ spec: VersionSpec) throws -> LogEntry {
        do { return try log.resolve(article: article, spec) } catch let error as ArticleLog.LookupError {
            switch error {
            case .ambiguous: throw ControlFailure(.ambiguous, error.description)
            default: throw ControlFailure(.notFound, error.description)
            }
        }
    }

    public func history(_ request: LogRequest) throws -> [VersionInfo] {
        let entries: [LogEntry]
        if let text = request.article {
            let path = try article(text)
            entries = try log.history(of: path, limit: request.limit).filter { entry in
                (request.sinceMillis.map { entry.time.milliseconds >= $0 } ?? true)
                    && (request.untilMillis.map { entry.time.milliseconds <= $0 } ?? true)
            }
            if entries.isEmpty && request.sinceMillis == nil && request.untilMillis == nil {
                throw ControlFailure(.notFound, "no article '\(path)' in the log")
            }
        } else {
            entries = try log.changes(sinceMillis: request.sinceMillis, untilMillis: request.untilMillis, limit: request.limit)
        }
        return entries.map(VersionInfo.init(entry:))
    }

    public func show(_ request: ShowRequest) throws -> ShowRequest.Response {
        let entry = try lookup(try article(request.article), request.version)
        return ShowRequest.Response(info: VersionInfo(entry: entry), content: Data(try content(of: entry)))
    }

    func content(of entry: LogEntry) throws -> [UInt8] {
        guard let hash = entry.contentHash else { return [] }
        guard let bytes = try log.blob(hash) else {
            throw ControlFailure(.internal, "blob \(hash.hex) of version \(entry.version.short) is missing from the log; run verify")
        }
        return bytes
    }

    public func verify() throws -> VerifyRequest.Response {
        let report = try log.verify()
        if !report.problems.isEmpty { logger.error("verify found \(report.problems.count) problems") }
        return VerifyRequest.Response(entries: report.entries, blobs: report.blobs, sites: report.sites, problems: report.problems)
    }

    /// Writes a version back into the folder and records it as the article's newest version.
    /// For a deleted article, the default is the last version that had content.
    public func restore(_ request: RestoreRequest) throws -> RestoreRequest.Response {
        let path = try article(request.article)
        var entry = try lookup(path, request.version)
        if entry.operation == .delete {
            guard request.version == .head, let lastPut = try log.history(of: path).first(where: { $0.operation == .put }) else {
                throw ControlFailure(.badRequest, "version \(entry.version.short) of \(path) is a delete; name a version with content")
            }
            entry = lastPut
        }
        let bytes = try content(of: entry)
        let diskPath = try log.fileState(path: path.rawValue)?.path ?? path.rawValue
        do { try FileSystem.writeAtomically(bytes, to: scanner.absolute(diskPath)) } catch {
            throw ControlFailure(.unavailable, "cannot write \(diskPath): \(error)")
        }
        try ingest(paths: [diskPath])
        guard let head = try log.winningHead(of: path) else { throw ControlFailure(.internal, "\(path) has no head after restore") }
        return RestoreRequest.Response(restored: VersionInfo(entry: entry), head: VersionInfo(entry: head))
    }

    public func deletes(_ request: DeletesRequest) throws -> DeletesRequest.Response {
        let pending = pendingDeletes.keys.map(\.rawValue).sorted()
        let reason = pendingReason
        switch request.action {
        case .list:
            return DeletesRequest.Response(pending: pending, reason: reason, recorded: 0)
        case .confirm:
            let recorded = try confirmPendingDeletes()
            return DeletesRequest.Response(pending: [], reason: nil, recorded: recorded)
        }
    }
}
