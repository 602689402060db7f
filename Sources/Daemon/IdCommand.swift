import ArgumentParser
import NewsDaemon

struct IdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "id", abstract: "Print this site's ID (run `newsd init` first).")

    @OptionGroup var common: DataOption

    @Flag(name: .long, help: "Print the form without check characters, for the config of a site still running a release before 0.2.")
    var withoutCheck = false

    func run() throws {
        let config = try DaemonConfig.resolve(configFile: common.config, overrides: .init(data: common.data))
        guard let key = try DataFolder(path: config.dataDir).loadKey() else {
            throw ValidationError("no site key in \(config.dataDir); run `newsd init` first")
        }
        print(withoutCheck ? key.siteID.rawValue : key.siteID.printed)
    }
}
