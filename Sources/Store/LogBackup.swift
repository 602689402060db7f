import CSQLite
import Foundation
import SyncProtocol

/// A backup of a site's log: one self-contained SQLite file (rollback journal, no -wal beside it)
/// holding the log as of one transaction, which site it is of, and the site key when asked for.
///
/// Made with `VACUUM INTO` on a read-only connection of its own, so the daemon's writer goes on
/// while it runs (WAL lets one reader and the writer work at once).
public enum LogBackup {
    public struct Contents: Sendable, Equatable {
        public var site: SiteID
        public var madeMillis: UInt64
        public var newsdVersion: String
        /// The site's private key in PEM form, when the backup was made `--with-key`.
        public var keyPEM: String?

        public init(site: SiteID, madeMillis: UInt64, newsdVersion: String, keyPEM: String?) {
            self.site = site
            self.madeMillis = madeMillis
            self.newsdVersion = newsdVersion
            self.keyPEM = keyPEM
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Writes a verified copy of the log at `source` to `destination` (which must not exist).
    /// Returns the copy's entry and live-article counts; throws if the copy does not verify.
    public static func make(log source: String, to destination: String, contents: Contents) throws -> (entries: Int, articles: Int) {
        do {
            let reader = try Database(path: source, readOnly: true)
            try reader.execute("VACUUM INTO '\(destination.replacingOccurrences(of: "'", with: "''"))'")
        }
        let stats: ArticleLog.Stats
        do {
            let copy = try ArticleLog(path: destination)
            let report = try copy.verify()
            guard report.problems.isEmpty else {
                throw Failure("the copy does not verify: \(report.problems.prefix(3).joined(separator: "; "))")
            }
            stats = copy.stats
        }
        do {
            let copy = try Database(path: destination)
            try copy.execute("PRAGMA journal_mode=DELETE")
            try copy.execute("""
                CREATE TABLE backup_info (site_id TEXT NOT NULL, made_ms INTEGER NOT NULL, newsd_version TEXT NOT NULL);
                CREATE TABLE backup_key (pem TEXT NOT NULL);
                """)
            try copy.statement("INSERT INTO backup_info VALUES (?, ?, ?)")
                .run(.text(contents.site.rawValue), .uint(contents.madeMillis), .text(contents.newsdVersion))
            if let pem = contents.keyPEM { try copy.statement("INSERT INTO backup_key VALUES (?)").run(.text(pem)) }
        }
        try syncFile(destination)
        return (stats.entries, stats.liveArticles)
    }

    /// Reads what a backup says of itself; a file that is not a backup is an error saying so.
    public static func contents(of path: String) throws -> Contents {
        let db: Database
        do { db = try Database(path: path, readOnly: true) } catch {
            throw Failure("\(path) cannot be opened as SQLite: \(error)")
        }
        let hasInfo = (try? db.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'backup_info'")) ?? 0
        guard hasInfo == 1 else { throw Failure("\(path) is not a newsd backup (made by `newsctl backup`): it has no backup_info table") }
        var found: Contents?
        try db.statement("SELECT site_id, made_ms, newsd_version FROM backup_info LIMIT 1").query([]) { row in
            if let site = SiteID(row.text(0)) { found = Contents(site: site, madeMillis: row.uint64(1), newsdVersion: row.text(2), keyPEM: nil) }
        }
        guard var contents = found else { throw Failure("\(path): its backup_info names no site") }
        try db.statement("SELECT pem FROM backup_key LIMIT 1").query([]) { contents.keyPEM = $0.text(0) }
        return contents
    }

    /// Turns a copy of a backup into a log file: the backup's own tables dropped (the key is not
    /// left in the log), write-ahead logging as newsd runs it, then verified.
    public static func prepareForUse(_ path: String) throws -> VerifyReport {
        do {
            let db = try Database(path: path)
            // The file cache described the folder as it was at the backup; the folder now may be
            // older, newer or gone. Without it every file is read and compared with the log, and a
            // missing one is owed to the folder, not a delete.
            try db.execute("DROP TABLE IF EXISTS backup_key; DROP TABLE IF EXISTS backup_info; DELETE FROM file_state; VACUUM")
        }
        let report = try ArticleLog(path: path).verify()
        try syncFile(path)
        return report
    }

    /// Folds a log's write-ahead log into it and closes it, so the file alone is the whole log.
    /// False if a `-wal` remains (another process has it open).
    public static func checkpointAndClose(_ path: String) throws -> Bool {
        do {
            let db = try Database(path: path)
            try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        return access(path + "-wal", F_OK) != 0
    }

    static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("cannot open \(path) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }
}
