import CSQLite
import Foundation

/// A value bound to a statement parameter.
public enum SQLiteValue: Sendable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])
}

extension SQLiteValue {
    public static func optionalBlob(_ bytes: [UInt8]?) -> SQLiteValue { bytes.map(SQLiteValue.blob) ?? .null }
    public static func int(_ value: Int) -> SQLiteValue { .integer(Int64(value)) }
    public static func uint(_ value: UInt64) -> SQLiteValue { .integer(Int64(bitPattern: value)) }
}

/// A prepared statement owned by one `Database`.
public final class Statement {
    let handle: OpaquePointer
    unowned let database: Database
    let sql: String

    init(database: Database, sql: String) throws {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw database.error(rc, sql: sql) }
        self.handle = stmt
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// SQLite's own destructor constant: copy the bytes before `bind` returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    public func bind(_ values: [SQLiteValue]) throws {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(handle, index)
            case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .text(let s): rc = sqlite3_bind_text(handle, index, s, -1, Self.transient)
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes { raw in
                    // A zero-length blob must still be a blob, not NULL: give SQLite a valid pointer.
                    sqlite3_bind_blob(handle, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count), Self.transient)
                }
            }
            guard rc == SQLITE_OK else { throw database.error(rc, sql: sql) }
        }
    }

    /// Advances to the next row; false when done.
    @discardableResult
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(rc, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Binds and runs a statement that returns no rows.
    public func run(_ values: SQLiteValue...) throws {
        defer { sqlite3_reset(handle) }
        try bind(values)
        try step()
    }

    /// Binds, then calls `row` for every result row. The statement is reset however it ends: a
    /// statement left mid-result holds a read snapshot, and no checkpoint can pass it (the WAL then
    /// grows for the life of the process).
    public func query(_ values: [SQLiteValue], _ row: (Statement) throws -> Void) throws {
        defer { sqlite3_reset(handle) }
        try bind(values)
        while try step() { try row(self) }
    }

    /// Binds, reads the first result row with `read`, and resets: nil when there is none.
    public func first<T>(_ values: [SQLiteValue], _ read: (Statement) throws -> T?) throws -> T? {
        defer { sqlite3_reset(handle) }
        try bind(values)
        guard try step() else { return nil }
        return try read(self)
    }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    public func uint64(_ column: Int32) -> UInt64 { UInt64(bitPattern: int64(column)) }
    public func int(_ column: Int32) -> Int { Int(int64(column)) }

    public func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: pointer)
    }

    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let pointer = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    public func optionalBlob(_ column: Int32) -> [UInt8]? { isNull(column) ? nil : blob(column) }
    public func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
}
