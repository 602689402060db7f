import ArgumentParser
import NewsDaemon

struct IdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "id", abstract: "Print this site's ID (run `newsd init` first).")

    @OptionGroup var common: DataOption

    func run() throws {
        let config = try DaemonConfig.resolve(configFile: common.config, overrides: .init(data: common.data))
        guard let key = try DataFolder(path: config.dataDir).loadKey() else {
            throw ValidationError("no site key in \(config.dataDir); run `newsd init` first")
        }
        print(key.siteID)
    }
}
