import ArgumentParser
import Foundation
import NewsControl
import SyncProtocol

@main
struct NewsctlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "newsctl",
        abstract: "Ask the local newsd about its articles, versions and log.",
        discussion: """
            newsctl talks to newsd over its control socket: --control PATH, else --data DIR \
            (DIR/newsd.sock), else $NEWSD_CONTROL, else the first that exists of ./.newsd/newsd.sock, \
            the socket /etc/newsd/newsd.toml names, and /run/newsd/newsd.sock. Reading needs group \
            newsd; changes (restore, resolve, deletes --confirm, sync) need root or group newsd-admin.
            Versions are named by a unique prefix of their ID (6+ hex digits) or ARTICLE~N.
            """,
        version: NewsdVersion.current,
        subcommands: [StatusCommand.self, LogCommand.self, ShowCommand.self, DiffCommand.self, BlameCommand.self,
                      VerifyCommand.self, RestoreCommand.self, DeletesCommand.self, PeersCommand.self,
                      ConflictsCommand.self, ResolveCommand.self, SyncCommand.self, BackupCommand.self, WebUserCommand.self])

    /// ArgumentParser's own main, with newsctl's exit statuses (ExitStatus): a usage error exits 2,
    /// not 64, and a failure under --json is also printed as JSON on stdout.
    static func main() async {
        let json = CommandLine.arguments.dropFirst().contains("--json")
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand { try await command.run() } else { try command.run() }
        } catch let failure as CommandFailure {
            report(failure, json: json)
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is ExitCode { exit(withError: error) }
            if code == .validationFailure {
                report(CommandFailure(kind: "usage", message: fullMessage(for: error), status: .usage), json: json, usage: true)
            }
            report(CommandFailure(error), json: json)
        }
    }

    private static func report(_ failure: CommandFailure, json: Bool, usage: Bool = false) -> Never {
        if json { FileHandle.standardOutput.write(failure.json + Data("\n".utf8)) }
        let text = usage ? failure.message : "newsctl: \(failure.message)"
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
        Foundation.exit(failure.status.rawValue)
    }
}

/// `--control`, `--data`, `--json`: accepted after the command name.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("newsd's control socket.", valueName: "PATH"))
    var control: String?

    @Option(name: .long, help: ArgumentHelp("newsd's data folder (socket at DIR/newsd.sock).", valueName: "DIR"))
    var data: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    var client: ControlClient { ControlClient(socketPath: SocketLocator.path(control: control, data: data)) }

    /// Sends a request; a failure becomes a CommandFailure, which main reports and exits with.
    func send<R: ControlRequest>(_ request: R) async throws -> R.Response {
        do { return try await client.send(request) } catch { throw CommandFailure(error) }
    }

    func printJSON<T: Encodable>(_ value: T) throws {
        let data = try ControlJSON.encoder(pretty: true).encode(value)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// Colour only on a terminal, and never when NO_COLOR is set.
    var style: TerminalStyle {
        TerminalStyle(enabled: isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
    }
}

/// A failure found by newsctl itself, reported as newsd's are.
func fail(_ message: String, kind: String = "bad_request", status: ExitStatus = .usage) -> CommandFailure {
    CommandFailure(kind: kind, message: message, status: status)
}
