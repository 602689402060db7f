import ArgumentParser
import Foundation
import Logging
import NewsDaemon

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the daemon (the default).")

    @OptionGroup var common: DataOption

    @Option(name: .long, help: ArgumentHelp("Folder of articles to watch (default ./seeds, when run without a config outside systemd).", valueName: "DIR"))
    var watch: String?

    @Option(name: .long, help: ArgumentHelp("Control socket for newsctl (default <data>/newsd.sock).", valueName: "PATH"))
    var control: String?

    @Option(name: .long, help: ArgumentHelp("Address to accept peers on (default 127.0.0.1:7420).", valueName: "HOST:PORT"))
    var listen: String?

    @Option(name: .long, help: ArgumentHelp("A peer site: SITEID@HOST:PORT (dial and accept) or SITEID (accept only). Repeatable.", valueName: "PEER"))
    var peer: [String] = []

    @Option(name: .long, help: ArgumentHelp("Serve Prometheus metrics at http://HOST:PORT/metrics.", valueName: "HOST:PORT"))
    var metrics: String?

    @Option(name: .long, help: ArgumentHelp("Serve the web view at http://HOST:PORT/ (127.0.0.1:7480 for this machine only).", valueName: "HOST:PORT"))
    var web: String?

    @Option(name: .long, help: ArgumentHelp("A name people read for this site (default: host name).", valueName: "NAME"))
    var siteName: String?

    @Option(name: .long, help: ArgumentHelp("trace, debug, info, notice, warning or error.", valueName: "LEVEL"))
    var logLevel: String?

    @Option(name: .long, help: ArgumentHelp("At start, wait at most this long for peers to hand back this site's own entries before recording local changes (default 60, at most 600; 0: do not wait).", valueName: "SECONDS"))
    var rejoinTimeout: Int?

    func validate() throws {
        if let rejoinTimeout, !(0...600).contains(rejoinTimeout) { throw ValidationError("--rejoin-timeout must be 0-600 seconds") }
    }

    func run() async throws {
        let overrides = DaemonConfig.Overrides(
            siteName: siteName, watch: watch, data: common.data, control: control, listen: listen, logLevel: logLevel, peers: peer, metrics: metrics,
            rejoinTimeoutSeconds: rejoinTimeout, web: web)
        LoggingSystem.bootstrap { NewsdLogHandler(label: $0) }
        let logger = Logger(label: "newsd")
        // A config newsd cannot run with is said once, at error priority, and exits EX_CONFIG, which
        // the unit does not restart on: restarting cannot mend a file.
        let config: DaemonConfig
        do {
            config = try DaemonConfig.resolve(configFile: common.config, overrides: overrides)
        } catch {
            logger.error("cannot start: \(error)")
            throw ExitCode(ExitStatus.config)
        }
        NewsdLogLevel.set(config.logLevel)
        let site = try? DataFolder(path: config.dataDir).loadKey()?.siteID
        let findings = ConfigCheck.findings(for: config, site: site)
        if let first = findings.first(where: \.stopsStart) {
            logger.error("cannot start: config \(config.configFile ?? "flags"): \(first)")
            throw ExitCode(ExitStatus.config)
        }
        // The rest may pass by itself (a share mounting late): said, and tried.
        for finding in findings where finding.severity == .error { logger.error("config: \(finding)") }
        if DaemonConfig.isInstalled(configFile: config.configFile) {
            for finding in findings where finding.severity == .warning { logger.warning("config: \(finding)") }
        }
        do {
            try await NewsdApp(config: config, overrides: overrides, logger: logger).run()
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
    }
}
