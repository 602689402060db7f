import Foundation
import Glibc
import Logging
import Testing
import TestSupport
@testable import NewsDaemon
import Store
import SyncProtocol

/// What an installed newsd needs from its config: modes and groups, no developer defaults, checks
/// that see what the service sees, and two levels of access on the control socket.
@Suite struct ServiceConfigTests {
    let folder = TemporaryFolder("service-config")

    @Test func modesAndGroupsParseAndNonsenseIsRefused() throws {
        let config = try ConfigFile.parse("file_mode = \"0660\"\nfolder_mode = \"2770\"\ngroup = \"newsroom\"\nadmin_group = \"editors-in-chief\"")
        #expect(config.fileMode == 0o660 && config.folderMode == 0o2770)
        #expect(config.group == "newsroom" && config.adminGroup == "editors-in-chief")
        for bad in ["file_mode = 664", "file_mode = \"4775\"", "file_mode = \"2664\"", "file_mode = \"0999\"", "file_mode = \"17777\"", "file_mode = \"0444\"", "folder_mode = \"0600\"",
                    "group = \"a b\"", "admin_group = \"\""] {
            #expect(throws: ConfigFile.Invalid.self, "\(bad)") { try ConfigFile.parse(bad) }
        }
        let resolved = try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: "/w", data: "/d"), environment: [:])
        #expect(resolved.fileMode == 0o664 && resolved.folderMode == 0o2775 && resolved.adminGroup == "newsd-admin")
    }

    @Test func anInstalledNewsdHasNoDefaultFolders() throws {
        let file = folder.sub("newsd.toml")
        try "data = \"/var/lib/newsd\"\n".write(toFile: file, atomically: true, encoding: .utf8)
        // With a config file: `watch` is named as missing.
        #expect { try DaemonConfig.resolve(configFile: file, overrides: .init(), environment: [:]) } throws: { error in
            "\(error)".contains("'watch' is not set")
        }
        #expect(try DaemonConfig.resolve(configFile: file, overrides: .init(watch: "/srv/a"), environment: [:]).dataDir == "/var/lib/newsd")
        // Under systemd without a file: both.
        #expect { try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: "/srv/a"), environment: ["INVOCATION_ID": "x"], parent: 1) } throws: { error in
            "\(error)".contains("'data' is not set")
        }
        // A shell inside a user service inherits INVOCATION_ID; it is still the repository's newsd.
        #expect(try DaemonConfig.resolve(configFile: nil, overrides: .init(), workingDirectory: "/repo", environment: ["INVOCATION_ID": "x"], parent: 4242).watchDir == "/repo/seeds")
        // In the repository, the developer's defaults.
        let dev = try DaemonConfig.resolve(configFile: nil, overrides: .init(), workingDirectory: "/repo", environment: [:])
        #expect(dev.watchDir == "/repo/seeds" && dev.dataDir == "/repo/.newsd")
    }

    @Test func theCheckNamesWhatTheServiceCannotUse() throws {
        try FileManager.default.createDirectory(atPath: folder.sub("w"), withIntermediateDirectories: true)
        var config = try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: folder.sub("w"), data: folder.sub("d")), environment: [:])
        let me = ConfigCheck.Identity.current
        #expect(ConfigCheck.findings(for: config, site: nil, identity: me).filter { $0.severity == .error }.isEmpty)

        config.watchDir = "/proc/self/status"
        #expect(ConfigCheck.findings(for: config, site: nil).contains { $0.setting == "watch" && $0.text.contains("is not a folder") })
        config.watchDir = folder.sub("nowhere")
        #expect(ConfigCheck.findings(for: config, site: nil).contains { $0.setting == "watch" && $0.severity == .warning })
        config.watchDir = folder.sub("w")
        config.dataDir = "/proc/newsd/data"
        #expect(ConfigCheck.findings(for: config, site: nil).contains { $0.setting == "data" && $0.severity == .error })
        config.dataDir = folder.sub("d")

        // Not root: a low port, and a group this process is not in.
        let nobody = ConfigCheck.Identity(uid: 65534, groups: [65534])
        config.listen = Endpoint(host: "0.0.0.0", port: 80)
        config.group = "root"
        let findings = ConfigCheck.findings(for: config, site: nil, identity: nobody)
        #expect(findings.contains { $0.setting == "listen" && $0.text.contains("below 1024") })
        #expect(findings.contains { $0.setting == "group" && $0.text.contains("SupplementaryGroups=root") })
        config.group = "no-such-group-here"
        #expect(ConfigCheck.findings(for: config, site: nil, identity: nobody).contains { $0.text == "no group named no-such-group-here" })

        // Listing this site as its own peer, and a loopback listener with peers to dial in.
        let key = SiteKey()
        config.group = nil
        config.listen = Endpoint(host: "127.0.0.1", port: 7420)
        config.peers = [PeerAddress(site: key.siteID, endpoint: nil)]
        let own = ConfigCheck.findings(for: config, site: key.siteID, identity: me)
        #expect(own.contains { $0.setting == "peers" && $0.severity == .warning })
        #expect(own.contains { $0.setting == "listen" && $0.severity == .warning })
    }

    @Test func theDropinGrantsTheFolderAndTheGroup() throws {
        var config = try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: "/srv/tin tức/bài 100%", data: "/d"), environment: [:])
        config.group = "newsroom"
        let text = UnitDropin.render(for: config)
        #expect(text.contains("[Service]\n"))
        #expect(text.contains(#"ReadWritePaths="-/srv/tin tức/bài 100%%""#))
        #expect(text.contains("SupplementaryGroups=newsroom\n"))
        #expect(text.contains("[Unit]\nRequiresMountsFor=\"/srv/tin tức/bài 100%%\"\n"))
        // A reason quoting a config line cannot smuggle notify commands past STATUS=.
        #expect(SystemdNotifier.oneLine("bad\nWATCHDOG=trigger\r") == "bad WATCHDOG=trigger ")
        config.group = "newsd"
        #expect(!UnitDropin.render(for: config).contains("SupplementaryGroups"))
    }

    @Test func filesAndFoldersGetTheirGroupAndModeWhateverTheUmask() throws {
        let root = folder.sub("articles")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let previous = umask(0o077)
        defer { umask(previous) }
        let ownership = FileOwnership(group: getegid(), fileMode: 0o664, folderMode: 0o2775)
        let writer = FolderWriter(root: root, ownership: ownership)
        let bytes = Array("Tin mới.\n".utf8)
        _ = writer.apply([.write(path: "the-thao/bong-da.txt", bytes: bytes, hash: ContentHash.of(bytes), expected: nil)])
        var st = stat()
        #expect(stat(root + "/the-thao/bong-da.txt", &st) == 0)
        #expect(st.st_mode & 0o7777 == 0o664 && st.st_gid == getegid())
        #expect(stat(root + "/the-thao", &st) == 0)
        #expect(st.st_mode & 0o7777 == 0o2775)
    }

    @Test func readersMayReadAndOnlyAdminsMayChange() async throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let site = SiteLog(log: log, key: SiteKey(), settings: SiteSettings(siteName: "t", watchDir: folder.path, dataDir: folder.path),
                           logger: Logger(label: "test"))
        let admins: gid_t = 4242
        let access = ControlAccess(adminGroup: "newsd-admin", daemonUID: 998,
                                   groupsOf: { $0 == 1002 ? [100, admins] : [100] }, gidOf: { $0 == "newsd-admin" ? admins : nil })
        let dispatcher = ControlDispatcher(site: site, access: access)
        func kind(_ raw: String, _ caller: ControlAccess.Caller?) async throws -> ControlFailure.Kind? {
            let response = await dispatcher.respond(to: Array(raw.utf8), caller: caller)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(response)) as? [String: Any])
            return (object["error"] as? [String: Any]).flatMap { $0["kind"] as? String }.map { ControlFailure.Kind(rawValue: $0) ?? .other }
        }
        let editor = ControlAccess.Caller(uid: 1001, gid: 100, pid: 1)
        let admin = ControlAccess.Caller(uid: 1002, gid: 100, pid: 2)
        let confirm = #"{"method":"deletes","params":{"action":"confirm"}}"#
        let list = #"{"method":"deletes","params":{"action":"list"}}"#
        let restore = #"{"method":"restore","params":{"article":"a.txt"}}"#
        let sync = #"{"method":"sync","params":{}}"#
        #expect(try await kind(confirm, editor) == .forbidden)
        #expect(try await kind(restore, editor) == .forbidden)
        #expect(try await kind(sync, editor) == .forbidden)
        #expect(try await kind(#"{"method":"deletes","params":{"action":"launch"}}"#, editor) == .forbidden)
        #expect(try await kind(confirm, nil) == .forbidden)
        #expect(try await kind(list, editor) == nil)
        #expect(try await kind(#"{"method":"status","params":{}}"#, editor) == nil)
        #expect(try await kind(confirm, admin) == nil)
        #expect(try await kind(confirm, ControlAccess.Caller(uid: 0, gid: 0, pid: 3)) == nil)
        #expect(try await kind(confirm, ControlAccess.Caller(uid: 998, gid: 998, pid: 4)) == nil)
        // An admin in the group only as primary group counts too.
        #expect(try await kind(confirm, ControlAccess.Caller(uid: 1003, gid: admins, pid: 5)) == nil)
        let message = access.refusal(for: editor, method: "restore").message
        #expect(message.contains("newsd-admin") && message.contains("uid 1001"))
    }

    @Test func anUnknownFailureKindStillReads() throws {
        let text = #"{"error":{"kind":"rate_limited","message":"slow down"}}"#
        let envelope = try ControlJSON.decoder().decode(ResponseEnvelope<Bool>.self, from: Data(text.utf8))
        #expect(envelope.error == ControlFailure(.other, "slow down"))
    }
}
