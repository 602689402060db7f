import Foundation
import Logging
import SyncProtocol
import NewsWeb
import Testing
import TestSupport
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

    /// HTTPS needs both files; a trusted proxy is an IP address (never a name to look up), and
    /// its header means nothing without it.
    @Test func webTLSAndTrustedProxyAreReadAndChecked() throws {
        let both = try ConfigFile.parse("""
            web_tls_cert = "/etc/newsd/web.crt"
            web_tls_key = "/etc/newsd/web.key"
            web_trusted_proxy = ["127.0.0.1", "::1"]
            web_proxy_user_header = "X-Remote-User"
            web_proxy_secret_file = "/etc/newsd/proxy.secret"
            """)
        #expect(both.webTLSCert == "/etc/newsd/web.crt" && both.webTLSKey == "/etc/newsd/web.key")
        #expect(both.webTrustedProxy == ["127.0.0.1", "::1"] && both.webProxyUserHeader == "X-Remote-User")
        #expect(try ConfigFile.parse("web_trusted_proxy = \"10.0.0.5\"\nweb_proxy_secret_file = \"/s\"").webTrustedProxy == ["10.0.0.5"])
        for bad in [#"web_tls_cert = "/c""#, #"web_tls_key = "/k""#, #"web_trusted_proxy = "proxy.example""#,
                    #"web_trusted_proxy = ["127.0.0.1", 3]"#, #"web_trusted_proxy = []"#, #"web_proxy_user_header = "X-User""#,
                    "web_trusted_proxy = \"127.0.0.1\"\nweb_proxy_secret_file = \"/s\"\nweb_proxy_user_header = \"X User: x\"",
                    // A proxy's address alone is not enough: any program on its machine shares it.
                    "web_trusted_proxy = \"127.0.0.1\"", #"web_proxy_secret_file = "/s""#] {
            #expect(throws: ConfigFile.Invalid.self, "\(bad)") { try ConfigFile.parse(bad) }
        }
        #expect(WebSecurity.canonicalIP("::ffff:127.0.0.1") == "127.0.0.1" && WebSecurity.canonicalIP("0:0::1") == "::1")
        #expect(WebSecurity.canonicalIP("localhost") == nil)
        // A certificate that cannot be read stops the start with the file named.
        var config = try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: "/w", data: "/d", web: "127.0.0.1:0"), environment: [:])
        config.webTLS = .init(certificate: "/nonexistent/web.crt", key: "/nonexistent/web.key")
        let findings = ConfigCheck.findings(for: config, site: nil).filter { $0.setting == "web_tls_cert" }
        #expect(findings.count == 1 && findings[0].stopsStart && findings[0].text.contains("/nonexistent/web.crt"), "\(findings)")
        // A secret too short, or one every account may read, stops the start too.
        let folder = TemporaryFolder("proxy-secret")
        folder.write("short", "ngan\n")
        folder.write("open", String(repeating: "a", count: 40))
        #expect(chmod(folder.sub("open"), 0o644) == 0)
        for file in ["short", "open", "missing"] {
            var proxied = try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: "/w", data: "/d", web: "127.0.0.1:0"), environment: [:])
            proxied.webTrustedProxies = ["127.0.0.1"]
            proxied.webProxySecretFile = folder.sub(file)
            let found = ConfigCheck.findings(for: proxied, site: nil).filter { $0.setting == "web_proxy_secret_file" }
            #expect(found.count == 1 && found[0].stopsStart, "\(file): \(found)")
        }
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
