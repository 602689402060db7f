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
        subcommands: [StatusCommand.self, LogCommand.self, ShowCommand.self, DiffCommand.self,
                      VerifyCommand.self, RestoreCommand.self, DeletesCommand.self, PeersCommand.self,
                      ConflictsCommand.self, ResolveCommand.self, SyncCommand.self])
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

    /// Sends a request; a failure becomes one line on stderr and a non-zero exit.
    func send<R: ControlRequest>(_ request: R) async throws -> R.Response {
        do { return try await client.send(request) } catch {
            FileHandle.standardError.write(Data("newsctl: \(error)\n".utf8))
            throw ExitCode(1)
        }
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

func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("newsctl: \(message)\n".utf8))
    return ExitCode(1)
}
