/// Numbered schema migrations, each applied once, in its own transaction, in order.
///
/// The applied count lives in `PRAGMA user_version`, so a data folder opened by an older newsd
/// than the one that wrote it is refused rather than misread.
public struct Migrator {
    public let migrations: [String]

    public init(_ migrations: [String]) { self.migrations = migrations }

    public struct TooNew: Error, CustomStringConvertible {
        public let found: Int
        public let known: Int
        public var description: String {
            "the log's schema is version \(found); this newsd knows up to \(known): upgrade newsd"
        }
    }

    public func migrate(_ db: Database) throws {
        let current = Int(try db.scalar("PRAGMA user_version") ?? 0)
        guard current <= migrations.count else { throw TooNew(found: current, known: migrations.count) }
        for (index, sql) in migrations.enumerated() where index >= current {
            try db.transaction {
                try db.execute(sql)
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }
}
