import Foundation
import TOMLKit

/// Where newsctl finds newsd's control socket. Given places are used as given: `--control`, then
/// `--data DIR` (DIR/newsd.sock), then `$NEWSD_CONTROL`. Otherwise the first that exists of
/// `./.newsd/newsd.sock` (`swift run newsd` in the repository), the socket named by
/// `/etc/newsd/newsd.toml` (`control`, else `data`/newsd.sock), and `/run/newsd/newsd.sock` (the
/// service's); when none exists, the last one, so the error names where the service would be.
/// The socket in the working folder counts only when the caller owns it and its folder: in a
/// shared folder (the articles, /tmp) anyone could plant one and answer an admin's requests.
public enum SocketLocator {
    public static let serviceConfig = "/etc/newsd/newsd.toml"
    public static let serviceSocket = "/run/newsd/newsd.sock"
    public static let repositorySocket = ".newsd/newsd.sock"

    public static func path(control: String?, data: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                            exists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) },
                            owned: (String) -> Bool = ownedByCaller,
                            readConfig: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) }) -> String {
        if let control { return control }
        if let data { return (data as NSString).appendingPathComponent("newsd.sock") }
        if let fromEnvironment = environment["NEWSD_CONTROL"], !fromEnvironment.isEmpty { return fromEnvironment }
        return searched(exists: exists, readConfig: readConfig).first { $0 == repositorySocket ? owned($0) : exists($0) } ?? serviceSocket
    }

    /// A socket, and the folder holding it, both owned by this process's user.
    public static func ownedByCaller(_ path: String) -> Bool {
        var socketStat = stat(), folderStat = stat()
        let folder = (path as NSString).deletingLastPathComponent
        guard lstat(path, &socketStat) == 0, socketStat.st_mode & S_IFMT == S_IFSOCK,
              lstat(folder.isEmpty ? "." : folder, &folderStat) == 0, folderStat.st_mode & S_IFMT == S_IFDIR else { return false }
        return socketStat.st_uid == geteuid() && folderStat.st_uid == geteuid()
    }

    /// The places looked at when none is given, in order.
    public static func searched(exists: (String) -> Bool, readConfig: (String) -> String?) -> [String] {
        var places = [repositorySocket]
        if let text = readConfig(serviceConfig), let named = socket(namedBy: text), !places.contains(named) { places.append(named) }
        if !places.contains(serviceSocket) { places.append(serviceSocket) }
        return places
    }

    /// The socket a newsd config names: `control`, else `data`/newsd.sock; nil if neither or unreadable.
    static func socket(namedBy text: String) -> String? {
        guard let table = try? TOMLTable(string: text) else { return nil }
        if let control = table["control"]?.string, control.hasPrefix("/") { return control }
        if let data = table["data"]?.string, data.hasPrefix("/") { return (data as NSString).appendingPathComponent("newsd.sock") }
        return nil
    }
}
