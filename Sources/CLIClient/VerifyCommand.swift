import ArgumentParser
import NewsControl
import SyncProtocol

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-hash every blob, walk every chain, check every signature; exit 1 on any problem.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let report = try await options.send(VerifyRequest())
        if options.json {
            try options.printJSON(VerifyOutput(ok: report.ok, report: report))
        } else {
            for problem in report.problems { print("problem: \(problem)") }
            for site in report.revoked ?? [] {
                print("revoked: site \(site.id): \(site.keptText); later ones are held aside")
            }
            let summary = "\(report.entries) entries, \(report.blobs) blobs, \(report.sites) site(s) checked"
            print(report.ok ? "ok: \(summary); the log is intact" : "FAILED: \(report.problems.count) problem(s); \(summary)")
        }
        if !report.ok { throw ExitCode(1) }
    }
}

struct VerifyOutput: Encodable {
    var ok: Bool
    var report: VerifyRequest.Response
}
