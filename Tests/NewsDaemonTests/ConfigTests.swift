import Logging
import SyncProtocol
import Testing
@testable import NewsDaemon

@Suite struct ConfigTests {
    @Test func everyKeyIsRead() throws {
        let config = try ConfigFile.parse("""
            site_name = "hanoi"
            watch = "/srv/news"
            data = "/var/lib/newsd"
            control = "/run/newsd/newsd.sock"
            listen = "0.0.0.0:7420"
            log_level = "debug"
            debounce_ms = 50
            max_file_bytes = 1048576
            ignore = ["*.bak"]
            mass_delete_fraction = 0.25
            mass_delete_minimum = 5
            """)
        #expect(config.siteName == "hanoi" && config.debounceMillis == 50 && config.ignore == ["*.bak"])
        #expect(config.massDeleteFraction == 0.25 && config.massDeleteMinimum == 5 && config.maxFileBytes == 1 << 20)
    }

    @Test func webListenIsReadCheckedAndOverriddenByTheFlag() throws {
        #expect(try ConfigFile.parse(#"web_listen = "127.0.0.1:7480""#).webListen == "127.0.0.1:7480")
        #expect(throws: ConfigFile.Invalid.self) { try ConfigFile.parse(#"web_listen = "no port""#) }
        let flagged = try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: "/w", data: "/d", web: "127.0.0.1:0"), environment: [:])
        #expect(flagged.web == Endpoint(host: "127.0.0.1", port: 0))
        #expect(try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: "/w", data: "/d"), environment: [:]).web == nil, "off unless asked")
    }

    @Test func rejoinTimeoutIsReadAndBoundedBelowTheUnitsStartTimeout() throws {
        #expect(try ConfigFile.parse("rejoin_timeout_s = 0").rejoinTimeoutSeconds == 0)
        #expect(try ConfigFile.parse("rejoin_timeout_s = 600").rejoinTimeoutSeconds == 600)
        #expect(throws: ConfigFile.Invalid.self) { try ConfigFile.parse("rejoin_timeout_s = 601") }
        let resolved = try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: "/w", data: "/d", rejoinTimeoutSeconds: 5), environment: [:])
        #expect(resolved.rejoinTimeout == .seconds(5))
        #expect(try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: "/w", data: "/d"), environment: [:]).rejoinTimeout == .seconds(60))
    }

    @Test func roundTwoKeysAreReadAndChecked() throws {
        let revoked = SiteKey().siteID, kept = SiteKey().siteID
        let config = try ConfigFile.parse("""
            max_clock_skew = "90s"
            mass_delete_window_s = 120
            revoked = ["\(revoked)"]
            peers = ["\(revoked)@127.0.0.1:7421", "\(kept)"]
            """)
        #expect(config.maxClockSkewSeconds == 90 && config.massDeleteWindowSeconds == 120 && config.revoked == [revoked.description])
        #expect(ConfigFile.seconds(from: "10m") == 600 && ConfigFile.seconds(from: "2h") == 7200 && ConfigFile.seconds(from: "45") == 45)
        #expect(ConfigFile.seconds(from: "200000000000000000d") == nil, "an overflow is an error, not a trap")
        #expect(throws: ConfigFile.Invalid.self) { try ConfigFile.parse("revoked = [\"not-a-site\"]") }
        #expect(throws: ConfigFile.Invalid.self) { try ConfigFile.parse("max_clock_skew = \"soon\"") }
        #expect(throws: ConfigFile.Invalid.self) { try ConfigFile.parse("max_file_bytes = 2147483648") }
        let registry = PeerRegistry(local: SiteKey().siteID, peers: [PeerAddress(site: revoked, endpoint: nil), PeerAddress(site: kept, endpoint: nil)],
                                    logger: Logger(label: "test"))
        registry.setRevoked([revoked])
        #expect(!registry.isAllowed(revoked) && registry.isRevoked(revoked) && registry.isAllowed(kept))
    }

    @Test func unknownKeysAndBadValuesAreErrors() {
        #expect(throws: ConfigFile.Invalid.self) { try ConfigFile.parse("mass_delete_fractoin = 0.2") }
        #expect(throws: ConfigFile.Invalid.self) { try ConfigFile.parse("debounce_ms = \"fast\"") }
        #expect(throws: ConfigFile.Invalid.self) { try ConfigFile.parse("mass_delete_fraction = 2.0") }
        #expect(throws: ConfigFile.Invalid.self) { try ConfigFile.parse("this is not toml") }
    }

    @Test func flagsOverrideTheFileAndDefaultsFillTheRest() throws {
        let config = try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: "articles", data: "/tmp/d"), workingDirectory: "/home/editor", environment: [:])
        #expect(config.watchDir == "/home/editor/articles")
        #expect(config.dataDir == "/tmp/d" && config.controlPath == "/tmp/d/newsd.sock")
        #expect(config.listen == Endpoint(host: "127.0.0.1", port: 7420))
        let defaults = try DaemonConfig.resolve(configFile: nil, overrides: .init(), workingDirectory: "/repo", environment: [:])
        #expect(defaults.watchDir == "/repo/seeds" && defaults.dataDir == "/repo/.newsd")
    }

    @Test func ignoreRulesMatchEditorFiles() {
        let rules = IgnoreRules()
        for name in ["a.swp", ".a.txt.swp", "a.txt~", "4913", ".#a.txt", "#a.txt#", ".~lock.a.odt#", "x/.newsd-abc.tmp", "a.tmp"] {
            #expect(rules.ignores(path: name), "\(name)")
        }
        for name in ["a.txt", "2026/11/bai-viet.txt", "Đà Nẵng.txt", "4913.txt"] {
            #expect(!rules.ignores(path: name), "\(name)")
        }
    }
}
