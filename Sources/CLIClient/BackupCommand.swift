import ArgumentParser
import Foundation
import NewsControl
import SyncProtocol

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent, verified copy of the log to FILE while newsd runs (needs root or the admin group).",
        discussion: """
            The copy holds every version of every article and the sites' public keys; not the site's \
            private key unless --with-key is given (the file is then 0600: keep it as secret as \
            /var/lib/newsd/site.key). Put it back with `newsd restore-backup FILE --data DIR`.
            """)

    @Argument(help: ArgumentHelp("Where to write the backup.", valueName: "FILE"))
    var file: String

    @Flag(name: .long, help: "Include the site's private key, so a restore needs nothing else.")
    var withKey = false

    @Flag(name: .long, help: "Replace FILE if it exists.")
    var force = false

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        if !force && access(absolute, F_OK) == 0 {
            throw fail("\(absolute) exists; give another name, or --force to replace it", kind: "bad_request", status: .usage)
        }
        let started = ContinuousClock.now
        var output: BackupFile?
        let response: BackupRequest.Response
        do {
            response = try options.client.backup(BackupRequest(withKey: withKey), header: { header in
                output = try BackupFile(path: absolute, secret: header.withKey, replace: force)
            }, write: { bytes in try output?.write(bytes) })
            guard let output else { throw fail("newsd sent no backup", kind: "bad_response", status: .problems) }
            try output.finish(expectedSHA256: response.sha256, bytes: response.bytes)
        } catch let failure as BackupFile.Failure {
            throw fail(failure.description, kind: "unavailable", status: .problems)
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(error)
        }
        if options.json { return try options.printJSON(response) }
        let seconds = Double((ContinuousClock.now - started).components.attoseconds) / 1e18 + Double((ContinuousClock.now - started).components.seconds)
        print("backup \(absolute): \(response.entries) log entries, \(response.articles) live articles, \(humanBytes(response.bytes)) in \(String(format: "%.1f", seconds)) s")
        print("verified: newsd checked the copy (every blob, hash, signature and chain link); the file on disk matches it (SHA-256 \(response.sha256.prefix(16))…)")
        if response.withKey {
            print("includes the site key of \(response.site): the file is 0600; keep it as secret as the key itself")
        } else {
            print("the site key is not included: keep a copy of site.key apart (restore needs it, or a backup made --with-key)")
        }
    }
}
