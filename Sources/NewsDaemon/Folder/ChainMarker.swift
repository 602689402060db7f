import Foundation
import Glibc
import SyncProtocol

/// `.newsd-site` in the watched folder: which site last ran on this folder and how far its own
/// chain had reached. The data folder can be put back from an older copy while the articles
/// folder stays (the measured way a site forked itself); the marker, kept outside the data
/// folder, then says more than the log does, and the start treats the log as behind: it waits for
/// its peers, and signs anew if they cannot be reached (see `SiteLog.signAnewAfterRestore`).
/// Syncthing's `.stfolder` is the precedent for a marker of newsd's own in the user's folder; the
/// name is in the default ignore rules (`.newsd-*`), so it is never versioned.
public struct ChainMarker: Sendable, Equatable {
    public static let fileName = ".newsd-site"

    public var site: SiteID
    /// The origin this site signs as, and the last sequence of it this site recorded.
    public var origin: SiteID
    public var sequence: UInt64

    public init(site: SiteID, origin: SiteID, sequence: UInt64) {
        self.site = site
        self.origin = origin
        self.sequence = sequence
    }

    public static func path(watchDir: String) -> String { watchDir + "/" + fileName }

    public var text: String {
        """
        # newsd: the site that runs on this folder and how far its own history reached.
        # Leave it here; it tells newsd when its data folder was put back from an older copy.
        site \(site.rawValue)
        origin \(origin.rawValue)
        sequence \(sequence)

        """
    }

    /// The marker in `watchDir`, nil when there is none or it does not read as one.
    public static func read(watchDir: String) -> ChainMarker? {
        guard let data = FileManager.default.contents(atPath: path(watchDir: watchDir)), data.count < 4096 else { return nil }
        var fields: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard let site = fields["site"].flatMap(SiteID.init), let origin = fields["origin"].flatMap(SiteID.init),
              let sequence = fields["sequence"].flatMap(UInt64.init) else { return nil }
        return ChainMarker(site: site, origin: origin, sequence: sequence)
    }

    /// Writes the marker in place (no rename, no fsync: it guards against a folder put back by
    /// hand, not against power loss). Failures are the caller's to ignore: the marker is advice.
    @discardableResult
    public func write(watchDir: String) -> Bool {
        let fd = open(Self.path(watchDir: watchDir), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return written == bytes.count && ftruncate(fd, off_t(bytes.count)) == 0
    }

    /// Whether `log`'s own chain is behind what this marker says this site had recorded.
    public func showsLogBehind(site: SiteID, tip: (SiteID) -> UInt64) -> Bool {
        self.site == site && tip(origin) < sequence
    }
}
