import CSQLite

/// A failed SQLite call: the extended result code, SQLite's message, and the statement that failed.
///
/// `primaryCode` folds extended codes (SQLITE_CONSTRAINT_TRIGGER, SQLITE_IOERR_FSYNC, …) onto their
/// primary code, so callers switch on the kind without listing every variant.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let sql: String?

    public init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    public var primaryCode: Int32 { code & 0xff }

    public var isConstraint: Bool { primaryCode == SQLITE_CONSTRAINT }
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    /// The disk is full (or a quota hit); the transaction was rolled back.
    public var isDiskFull: Bool { primaryCode == SQLITE_FULL }

    public var description: String {
        let base = "SQLite error \(code): \(message)"
        guard let sql else { return base }
        return base + " (in: \(sql.prefix(120)))"
    }
}
