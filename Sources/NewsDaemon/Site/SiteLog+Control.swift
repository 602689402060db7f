import Foundation
import Store
import SyncProtocol

extension SiteLog {
    /// The status without waiting for a scan of the whole folder, which holds the site for as
    /// long as it reads: then as the site stood when the scan began, with how far it is
    /// (`scanning` set); otherwise `status()`.
    public nonisolated func statusNow() async -> StatusRequest.Response {
        guard let scanning = scanProgress.current, var held = scanProgress.statusAtStart else { return await status() }
        held.scanning = ScanProgress.describe(scanning)
        held.uptimeSeconds = Double((ContinuousClock.now - startedAt).components.seconds)
        return held
    }

    public func status() -> StatusRequest.Response {
        let s = log.stats
        var problemList = problems.values.sorted()
        problemList += owedWrites.sorted { $0.key < $1.key }.prefix(20).map { "\($0.key.escaped): \($0.value.why) (retried)" }
        if owedWrites.count > 20 { problemList.append("\(owedWrites.count - 20) more articles not yet written to the folder") }
        problemList += unrecordedSaves.values.sorted { $0.temp < $1.temp }.prefix(20).map {
            "what stood in place of \(ArticlePath.escape($0.path)) when an incoming version was written \($0.why); it is kept in \(ArticlePath.escape($0.temp)) and retried"
        }
        problemList += unwritableNames.sorted { $0.key < $1.key }.prefix(10).map { "\($0.key.escaped) is in the log but not written to the folder: \($0.value)" }
        if unwritableNames.count > 10 { problemList.append("\(unwritableNames.count - 10) more articles in the log not written to the folder") }
        let now = Self.wallMillis()
        problemList += clockAhead.sorted { $0.key < $1.key }.map { site, ahead in
            "site \(site)'s clock is \(ahead.millis / 1000) s ahead of this site's (over max_clock_skew): its entries are stored, its time is not followed"
                + (now > ahead.seenAtMillis + 3_600_000 ? " (last seen over an hour ago)" : "")
        }
        if folderState != .ok { problemList.insert("watched folder \(folderState.description)", at: 0) }
        // A failing disk first: everything else may follow from it.
        problemList.insert(contentsOf: health.problems, at: 0)
        if let pendingReason { problemList.append(pendingReason) }
        let folderText: String
        switch folderState {
        case .ok: folderText = pendingDeletes.isEmpty ? "ok" : "deletes held"
        case .missing: folderText = "missing"
        case .emptyWhileLogHasArticles: folderText = "empty"
        }
        var response = StatusRequest.Response(
            ready: isReady, siteId: key.siteID.description, siteName: settings.siteName, watchDir: settings.watchDir,
            dataDir: settings.dataDir, articles: s.liveArticles, deletedArticles: s.deletedArticles,
            logEntries: s.entries,
            blobs: BlobStats(count: s.blobs, storedBytes: s.blobStoredBytes, rawBytes: s.blobRawBytes),
            lastChange: lastIngest.map(VersionInfo.init(entry:)),
            skipped: skipped.values.sorted { $0.path < $1.path }, pendingDeletes: pendingDeletes.count,
            folderState: folderText, problems: problemList, conflicts: s.conflictedArticles,
            uptimeSeconds: Double((ContinuousClock.now - startedAt).components.seconds),
            version: NewsdVersion.current, folderWrites: swapScheme.rawValue, walBytes: walBytes, revoked: revocations())
        response.rejoining = rejoinState
        response.signingAs = signingAs
        if let forks = try? log.forks(), !forks.isEmpty {
            response.forks = forks.map {
                ForkedOrigin(origin: $0.origin.description, from: $0.firstSequence, besideEntries: $0.besideEntries, articles: $0.articles,
                             lastReceived: VersionInfo.format(milliseconds: $0.lastReceivedMillis))
            }
        }
        let unwatched = health.unwatched
        if !unwatched.isEmpty { response.unwatched = unwatched }
        return response
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
            let skip = max(0, request.skip ?? 0)
            if request.sinceMillis == nil && request.untilMillis == nil {
                entries = try log.history(of: path, limit: request.limit, skip: skip)
            } else {
                // The window first, then the page of it.
                let window = try log.history(of: path).filter { entry in
                    (request.sinceMillis.map { entry.time.milliseconds >= $0 } ?? true)
                        && (request.untilMillis.map { entry.time.milliseconds <= $0 } ?? true)
                }
                entries = Array(window.dropFirst(skip).prefix(request.limit.map { max(0, $0) } ?? .max))
            }
            // Past the last page of a known article is an empty page, not an unknown article.
            let unknown = try entries.isEmpty && (skip == 0 || log.history(of: path, limit: 1).isEmpty)
            if unknown && request.sinceMillis == nil && request.untilMillis == nil {
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

    public var verifyCounts: (runs: UInt64, failures: UInt64) { (verifyRuns, verifyFailures) }

    public func verify() throws -> VerifyRequest.Response {
        verifyRuns &+= 1
        let report: VerifyReport
        do { report = try log.verify() } catch {
            verifyFailures &+= 1
            problems["verify"] = "the last verify could not read the log: \(error)"
            throw error
        }
        if report.problems.isEmpty {
            problems.removeValue(forKey: "verify")
        } else {
            verifyFailures &+= 1
            logger.error("verify found \(report.problems.count) problems")
            problems["verify"] = "the last verify found \(report.problems.count) problem(s) in the log: newsctl verify"
        }
        var response = VerifyRequest.Response(entries: report.entries, blobs: report.blobs, sites: report.sites, problems: report.problems)
        response.revoked = revocations()
        return response
    }

    /// Writes a version back into the folder and records it as the article's newest version.
    /// For a deleted article, the default is the last version that had content.
    ///
    /// What is on disk is taken in first (a save inside the debounce, or held by a full disk), and
    /// the file is found by article, whatever its on-disk spelling (NFD from a Mac share).
    /// `author`: who asked (see `EntryAuthor`), recorded with the new version.
    public func restore(_ request: RestoreRequest, author: String? = nil) throws -> RestoreRequest.Response {
        let path = try article(request.article)
        let held = try log.fileState(article: path)
        try ingest(paths: [held?.path ?? path.rawValue])
        var entry = try lookup(path, request.version)
        if entry.operation == .delete {
            guard request.version == .head, let lastPut = try log.history(of: path).first(where: { $0.operation == .put }) else {
                throw ControlFailure(.badRequest, "version \(entry.version.short) of \(path) is a delete; name a version with content")
            }
            entry = lastPut
        }
        let bytes = try content(of: entry)
        // A file in the folder replaces the version it holds; an article with no file (deleted, or
        // never written here) replaces every head, as the operator sees it whole.
        let resolves = try log.fileState(article: path) == nil ? try log.heads(of: path).map(\.version) : nil
        _ = try writeAndRecord(path, bytes: bytes, resolves: resolves, author: author)
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
