import ArgumentParser
import Foundation
import NewsDaemon
import SyncProtocol

struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a config as newsd would run it, and print what would run.",
        discussion: """
            Parses the file, then checks as the user running it that the folders, group and ports \
            can be used. Exits 0 when newsd would start with it (warnings are printed), 78 when not. \
            The unit runs it before every reload, so a bad file is refused with its reason.
            """)

    @OptionGroup var common: DataOption

    @Option(name: .long, help: ArgumentHelp("Folder of articles (as newsd's --watch).", valueName: "DIR"))
    var watch: String?

    @Flag(name: .long, help: "Run as the unit's reload step: a refusal is said as \"reload refused: …\" in the journal and systemd's status.")
    var reload = false

    @Flag(name: .long, help: "Print only the problems.")
    var quiet = false

    @Option(name: .long, help: ArgumentHelp("Also write a systemd drop-in here that lets the service write the watched folder (ReadWritePaths=) and give files its group (SupplementaryGroups=).", valueName: "FILE"))
    var unitDropin: String?

    func run() throws {
        let output = ServiceOutput()
        let config: DaemonConfig
        do {
            config = try DaemonConfig.resolve(configFile: common.config, overrides: .init(watch: watch, data: common.data))
        } catch {
            refuse("\(error)", output: output)
        }
        if let unitDropin {
            let text = UnitDropin.render(for: config)
            do {
                try FileManager.default.createDirectory(atPath: (unitDropin as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: unitDropin, atomically: true, encoding: .utf8)
            } catch {
                refuse("cannot write \(unitDropin): \(error.localizedDescription)", output: output)
            }
            if !quiet { print("wrote \(unitDropin); `systemctl daemon-reload` puts it in force") }
        }
        let site = try? DataFolder(path: config.dataDir).loadKey()?.siteID
        let findings = ConfigCheck.findings(for: config, site: site)
        if !quiet { print(ConfigReport.render(config, site: site)) }
        for finding in findings {
            output.line("\(finding.severity.rawValue): \(finding)", priority: finding.severity == .error ? .error : .warning)
        }
        let errors = findings.filter { $0.severity == .error }
        if let first = errors.first {
            refuse(errors.count == 1 ? "\(first)" : "\(first) (and \(errors.count - 1) more)", output: output)
        }
        if reload { ReloadRefusal().record(nil) }
        if !quiet { print("ok: newsd would run with this configuration") }
    }

    private func refuse(_ reason: String, output: ServiceOutput) -> Never {
        if reload {
            output.line("reload refused, the configuration in force stays: \(reason)", priority: .error)
            // NotifyAccess=exec lets the unit's reload step say so in `systemctl status`; the reason
            // is left for newsd, whose status lines keep saying so until a reload passes.
            SystemdNotifier().status("reload refused: \(reason)")
            ReloadRefusal().record(reason)
        } else {
            output.line("config refused: \(reason)", priority: .error)
        }
        Foundation.exit(ExitStatus.config)
    }
}

/// sysexits(3) codes newsd exits with.
enum ExitStatus {
    /// EX_CONFIG: the unit does not restart on it (`RestartPreventExitStatus=78`).
    static let config: Int32 = 78
}

/// One line on stderr: with a `<N>` priority under journald, plain on a terminal.
struct ServiceOutput {
    enum Priority: Int { case error = 3, warning = 4, notice = 5, info = 6 }
    let journal = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil

    func line(_ text: String, priority: Priority) {
        let flat = text.replacingOccurrences(of: "\n", with: "\\n")
        StandardError.write((journal ? "<\(priority.rawValue)>" : "newsd: ") + flat + "\n")
    }
}
