import NewsWeb
import SyncProtocol

/// What a config resolves to, as `newsd check-config` prints it: every setting newsd will run with.
public enum ConfigReport {
    public static func render(_ config: DaemonConfig, site: SiteID?) -> String {
        let ownership = config.siteSettings.ownership
        let group = config.group ?? ownership.group.flatMap(GroupDirectory.name(of:)).map { "\($0) (the watched folder's)" } ?? "as made"
        let added = Set(config.addedPeers.map(\.site)).subtracting(config.peers.map(\.site))
        let all = DaemonConfig.merge(configured: config.peers, added: config.addedPeers)
        let peers = all.isEmpty ? "none" : all.map { peer in
            (peer.endpoint.map { "\(peer.site)@\($0)" } ?? "\(peer.site) (accept only)")
                + (peer.name.map { " \"\($0)\"" } ?? "") + (added.contains(peer.site) ? " [peers add]" : "")
        }.joined(separator: ", ")
        let rows: [(String, String)] = [
            ("config", config.configFile ?? "none (flags and defaults)"),
            ("site", site.map { "\($0) (\(config.siteName))" } ?? "no key yet in \(config.dataDir) (made at first start); name \(config.siteName)"),
            ("watch", config.watchDir),
            ("data", config.dataDir),
            ("control", config.controlPath),
            ("listen", config.listen.description),
            ("peers", peers),
            ("revoked", config.revoked.isEmpty ? "none" : config.revoked.map(\.rawValue).joined(separator: ", ")),
            ("files", "group \(group), files \(octal(config.fileMode)), folders \(octal(config.folderMode))"),
            ("admin group", config.adminGroup),
            ("metrics", config.metrics?.description ?? "off"),
            ("web", config.web.map { "\(config.webTLS == nil ? "http" : "https")://\($0)/" }.map { url in
                url + (config.webTLS.map { " (certificate \($0.certificate))" } ?? "")
                    + (config.webTrustedProxies.isEmpty ? "" : "; accounts named by \(config.webProxyUserHeader ?? WebSecurity.defaultProxyUserHeader) from \(config.webTrustedProxies.joined(separator: ", "))")
            } ?? "off"),
            ("log level", config.logLevel.rawValue),
            ("limits", "files up to \(config.maximumFileBytes) bytes; deletes held over \(Int(config.massDeleteFraction * 100))% and \(config.massDeleteMinimum) articles in \(config.massDeleteWindowMillis / 1000) s"),
        ]
        return rows.map { $0.0.padding(toLength: 12, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
    }

    static func octal(_ mode: UInt32) -> String {
        let text = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }
}
