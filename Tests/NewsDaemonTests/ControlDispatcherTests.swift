import Foundation
import Logging
import Testing
import TestSupport
@testable import NewsDaemon
import Store
import SyncProtocol

@Suite struct ControlDispatcherTests {
    let folder = TemporaryFolder("dispatch")
    let dispatcher: ControlDispatcher

    init() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let site = SiteLog(log: log, key: SiteKey(), settings: SiteSettings(siteName: "t", watchDir: folder.path, dataDir: folder.path),
                           logger: Logger(label: "test"))
        dispatcher = ControlDispatcher(site: site)
    }

    func failure(_ raw: String) async throws -> ControlFailure? {
        let response = await dispatcher.respond(to: Array(raw.utf8))
        return try ControlJSON.decoder().decode(ResponseEnvelope<Bool>.self, from: Data(response)).error
    }

    @Test func malformedRequestsGetTypedErrors() async throws {
        #expect(try await failure("not json")?.kind == .badRequest)
        #expect(try await failure("{}")?.kind == .badRequest)
        #expect(try await failure(#"{"method":"launch_missiles","params":{}}"#)?.kind == .unknownMethod)
        #expect(try await failure(#"{"method":"show","params":{"article":5}}"#)?.kind == .badRequest)
        #expect(try await failure(#"{"method":"show","params":{"article":"../../etc/passwd","version":"head"}}"#)?.kind == .badRequest)
        #expect(try await failure(#"{"method":"show","params":{"article":"none.txt","version":"head"}}"#)?.kind == .notFound)
        #expect(try await failure(#"{"method":"show","params":{"article":"a.txt","version":"zz"}}"#)?.kind == .badRequest)
    }

    @Test func statusAnswers() async throws {
        let body = Array(try ControlJSON.encoder().encode(RequestEnvelope(StatusRequest())))
        let response = await dispatcher.respond(to: body)
        let status = try ControlJSON.decoder().decode(ResponseEnvelope<StatusRequest.Response>.self, from: Data(response)).result
        #expect(status?.siteName == "t")
    }

    /// While a scan of the whole folder holds the site, `status` still answers at once: as the
    /// site stood when the scan began, with how far the scan is. The scan is held at its 100th
    /// file until the answer is in, so the test does not race it.
    @Test func statusAnswersWhileAScanHoldsTheSite() async throws {
        let folder = TemporaryFolder("dispatch-scan")
        for n in 0..<300 { _ = folder.write("w/bai-\(n).txt", "Bài \(n)\n") }
        let site = SiteLog(log: try ArticleLog(path: folder.sub("log.sqlite")), key: SiteKey(),
                           settings: SiteSettings(siteName: "quet", watchDir: folder.sub("w"), dataDir: folder.path), logger: Logger(label: "test"))
        let dispatcher = ControlDispatcher(site: site)
        let atHundred = DispatchSemaphore(value: 0), answered = DispatchSemaphore(value: 0)
        site.scanProgress.watch { snapshot in
            guard snapshot?.read == 100 else { return }
            atHundred.signal()
            // Holds the scan (and so the site) until the status below is answered, 20 s at most.
            _ = answered.wait(timeout: .now() + 20)
        }
        let scan = Task { try await site.scanAll(startUp: true) }
        guard try await offThePool({ atHundred.wait(timeout: .now() + 60) }) == .success else {
            answered.signal()
            Issue.record("the scan never reached its 100th file")
            return
        }
        let body = Array(try ControlJSON.encoder().encode(RequestEnvelope(StatusRequest())))
        let response = await dispatcher.respond(to: body)
        answered.signal()
        let status = try #require(try ControlJSON.decoder().decode(ResponseEnvelope<StatusRequest.Response>.self, from: Data(response)).result)
        #expect(status.scanning == "scanning 100 of about 300 files" && !status.ready && status.siteName == "quet", "\(status)")
        _ = try await scan.value
        let after = try #require(try ControlJSON.decoder().decode(ResponseEnvelope<StatusRequest.Response>.self,
                                                                  from: Data(await dispatcher.respond(to: body))).result)
        #expect(after.scanning == nil && after.articles == 300)
    }
}
