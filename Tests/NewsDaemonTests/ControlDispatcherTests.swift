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
}
