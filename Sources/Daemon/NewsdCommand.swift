import ArgumentParser
import NewsDaemon
import SyncProtocol

@main
struct NewsdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "newsd",
        abstract: "Versions a folder of articles into an append-only log.",
        discussion: """
            With no subcommand, newsd runs: it reconciles the watched folder with the log, then records \
            every change as a new version. Query it with newsctl.
            """,
        version: NewsdVersion.current,
        subcommands: [RunCommand.self, InitCommand.self, IdCommand.self, CheckConfigCommand.self, RestoreBackupCommand.self],
        defaultSubcommand: RunCommand.self)
}

/// `--data`, shared by every subcommand.
struct DataOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Data folder: log, site key, lock (default ./.newsd, when run without a config outside systemd).", valueName: "DIR"))
    var data: String?

    @Option(name: .long, help: ArgumentHelp("TOML config file; flags override it.", valueName: "FILE"))
    var config: String?
}
