import CSQLite
import EddyCore

/// One SQLite connection, owned by one thread (it is opened NOMUTEX: SQLite's
/// own mutexes cost real speed on Debian's build, and eddy never shares it).
public final class Database {
    public let handle: OpaquePointer
    public let path: String
    /// Batch context for eddy's SQL functions; lives as long as the connection.
    public let context = SQLContext()
    let authorizer = AuthorizerState()

    /// Turns off SQLite's memory statistics once per process, before any
    /// connection exists: Debian enables them, and they serialize every malloc.
    private static let configured: Bool = {
        _ = eddy_sqlite_disable_memstatus()
        return sqlite3_initialize() == SQLITE_OK
    }()

    /// Opens `path` (`""` for a private temp database that spills to disk,
    /// `":memory:"` for one that never does).
    public init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        _ = Database.configured
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let error = SQLiteError(db: db, code: rc)
            sqlite3_close_v2(db)
            throw error
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
        try EddyFunctions.register(on: self)
        sqlite3_set_authorizer(db, authorizerCallback, Unmanaged.passUnretained(authorizer).toOpaque())
    }

    deinit {
        sqlite3_set_authorizer(handle, nil, nil)
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(SQLiteError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(error)
            throw SQLiteError(code: rc, message: message, offset: nil, sql: sql)
        }
    }

    public func prepare(_ sql: String, persistent: Bool = true) throws(SQLiteError) -> Statement {
        try Statement(database: self, sql: sql, persistent: persistent)
    }

    /// Prepares `sql` and records every table it reads and writes, as SQLite's
    /// authorizer reports them. This is how eddy knows which sources, streams
    /// and windows a statement depends on, without guessing from the text.
    public func prepareTracingAccess(_ sql: String) throws(SQLiteError) -> (Statement, TableAccess) {
        authorizer.begin()
        defer { authorizer.active = false }
        let statement = try prepare(sql)
        return (statement, authorizer.access)
    }

    /// The first value of the first row, for small queries.
    public func scalar(_ sql: String) throws(SQLiteError) -> SQLValue? {
        let s = try prepare(sql, persistent: false)
        guard try s.step() else { return nil }
        return s.value(0)
    }

    public var changes: Int { Int(sqlite3_changes64(handle)) }
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    public var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Whether a table, view or virtual table of that name exists in `schema`.
    public func tableExists(_ name: String, schema: String = "main") throws(SQLiteError) -> Bool {
        let master = schema == "temp" ? "sqlite_temp_master" : "\(quoteIdentifier(schema)).sqlite_master"
        let s = try prepare("SELECT 1 FROM \(master) WHERE type IN ('table','view') AND name = ?1 COLLATE NOCASE", persistent: false)
        try s.bind(1, name)
        return try s.step()
    }

    /// Column names and declared types of a table.
    public func columns(of table: String, schema: String = "main") throws(SQLiteError) -> [(name: String, type: String)] {
        let s = try prepare("SELECT name, type FROM pragma_table_info(?1, ?2)", persistent: false)
        try s.bind(1, table)
        try s.bind(2, schema)
        var out: [(String, String)] = []
        while try s.step() { out.append((s.string(0) ?? "", s.string(1) ?? "")) }
        return out
    }
}

/// Quotes an identifier for SQL: `"name"` with inner quotes doubled.
public func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingAll("\"", with: "\"\"") + "\""
}

/// Quotes a string literal for SQL.
public func quoteLiteral(_ text: String) -> String {
    "'" + text.replacingAll("'", with: "''") + "'"
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(count)
        for ch in self {
            if ch == target { out += replacement } else { out.append(ch) }
        }
        return out
    }
}
