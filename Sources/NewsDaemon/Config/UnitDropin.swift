import Foundation

/// The part of the service's sandbox that follows from the config: the watched folder is the one
/// place outside its own directories the unit lets newsd write, and the group it gives files must
/// be one of its groups. Written by `newsd check-config --unit-dropin` into `newsd.service.d/`.
public enum UnitDropin {
    public static func render(for config: DaemonConfig) -> String {
        let group = config.group ?? config.siteSettings.ownership.group.flatMap(GroupDirectory.name(of:))
        var lines = [
            "# Written by `newsd check-config --unit-dropin` from \(config.configFile ?? "flags"); written again when",
            "# `watch` or `group` change. What the service may write, and the group it gives files.",
            "[Service]",
            // "-": a folder that is not there yet (an unmounted share) does not keep newsd from starting.
            "ReadWritePaths=" + quoted("-" + config.watchDir),
        ]
        // A share mounted there: newsd starts after it, not on the empty mount point.
        lines.insert("[Unit]\nRequiresMountsFor=" + quoted(config.watchDir), at: 2)
        if let group, group != "newsd" { lines.append("SupplementaryGroups=\(group)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A path as a unit file reads it: quoted (spaces), `%` doubled (specifiers), `\` and `"` escaped.
    static func quoted(_ path: String) -> String {
        let escaped = path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "%", with: "%%")
        return escaped.contains(where: { $0 == " " || $0 == "\"" || $0 == "\\" }) ? "\"\(escaped)\"" : escaped
    }
}
