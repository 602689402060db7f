import ArgumentParser
import NewsDaemon
import Store

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the data folder and site identity if missing; print the site ID last.")

    @OptionGroup var common: DataOption

    func run() throws {
        let config = try DaemonConfig.resolve(configFile: common.config, overrides: .init(data: common.data))
        let folder = DataFolder(path: config.dataDir)
        try folder.create()
        let existed = try folder.loadKey() != nil
        let key = try folder.loadOrCreateKey()
        _ = try ArticleLog(path: folder.logPath)
        print(existed ? "data folder \(config.dataDir) already set up" : "created data folder \(config.dataDir)")
        print(key.siteID)
    }
}
