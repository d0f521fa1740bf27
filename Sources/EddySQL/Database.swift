import CSQLite
import EddyCore

/// One SQLite connection, owned by one thread (it is opened NOMUTEX: SQLite's
/// own mutexes cost real speed on Debian's build, and eddy never shares it).
///
/// A job file is code, and every connection eddy opens runs some of it (the
/// engine's, a SQLite sink's, a check's read-only copy), so each is hardened
/// before any SQL runs on it (`harden`), and its authorizer applies the job
/// policy (`JobSQLPolicy`) to the job's SQL and to every trigger and view.
public final class Database {
    /// The SQLite linked in (`eddy --version` reports it: the release binary
    /// carries its own copy, so the box's libsqlite3 says nothing).
    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }

    public let handle: OpaquePointer
    public let path: String
    /// Batch context for eddy's SQL functions; lives as long as the connection.
    public let context = SQLContext()
    let authorizer = AuthorizerState()
    let watch = StatementWatch()

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
        do {
            try Self.harden(db)
        } catch {
            sqlite3_close_v2(db)
            throw error
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
        try EddyFunctions.register(on: self)
        sqlite3_set_authorizer(db, authorizerCallback, Unmanaged.passUnretained(authorizer).toOpaque())
        sqlite3_progress_handler(db, StatementWatch.checkEvery, progressCallback, Unmanaged.passUnretained(watch).toOpaque())
    }

    deinit {
        sqlite3_progress_handler(handle, 0, nil, nil)
        sqlite3_set_authorizer(handle, nil, nil)
        sqlite3_close_v2(handle)
    }

    /// The connection options that keep hostile SQL inside SQL. Debian builds
    /// SQLite with `SQLITE_ENABLE_FTS3_TOKENIZER`, whose two-argument
    /// `fts3_tokenizer(name, pointer)` installs a C function pointer taken
    /// from a blob: a job could jump anywhere with it. So:
    /// - the two-argument form off (the authorizer refuses the function too);
    /// - defensive mode on: no `writable_schema` edits, no journal_mode=OFF,
    ///   nothing else that lets SQL corrupt a database file on purpose;
    /// - trusted_schema off: views, triggers, CHECK constraints and the like,
    ///   including those inside a database a job attaches, may call only
    ///   functions marked harmless;
    /// - extension loading off, through both the C API and `load_extension()`.
    /// Each option is read back: an SQLite that ignored one is refused.
    static func harden(_ db: OpaquePointer) throws(SQLiteError) {
        let options: [(op: Int32, on: Int32, name: String)] = [
            (SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, "SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER"),
            (SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, "SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION"),
            (SQLITE_DBCONFIG_DEFENSIVE, 1, "SQLITE_DBCONFIG_DEFENSIVE"),
            (SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, "SQLITE_DBCONFIG_TRUSTED_SCHEMA"),
        ]
        for option in options {
            var now: Int32 = -1
            let rc = eddy_db_config_flag(db, option.op, option.on, &now)
            guard rc == SQLITE_OK, now == option.on else {
                throw SQLiteError(code: rc == SQLITE_OK ? SQLITE_ERROR : rc,
                                  message: "this SQLite does not support \(option.name) = \(option.on), which eddy needs to run job SQL safely")
            }
        }
        let rc = sqlite3_enable_load_extension(db, 0)
        guard rc == SQLITE_OK else { throw SQLiteError(db: db, code: rc) }
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(SQLiteError) {
        var error: UnsafeMutablePointer<CChar>?
        authorizer.denial = nil
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(error)
            throw explained(SQLiteError(code: rc, message: message, offset: nil, sql: sql))
        }
    }

    public func prepare(_ sql: String, persistent: Bool = true) throws(SQLiteError) -> Statement {
        try Statement(database: self, sql: sql, persistent: persistent)
    }

    /// Prepares `sql` and records every table it reads and writes, as SQLite's
    /// authorizer reports them. This is how eddy knows which sources, streams
    /// and windows a statement depends on, without guessing from the text.
    public func prepareTracingAccess(_ sql: String, persistent: Bool = true) throws(SQLiteError) -> (Statement, TableAccess) {
        authorizer.begin()
        defer { authorizer.tracing = false }
        let statement = try prepare(sql, persistent: persistent)
        return (statement, authorizer.access)
    }

    // MARK: the job's SQL

    /// Runs `body`, which compiles or runs SQL of the job file: the job policy
    /// applies to it, and its `statement_timeout` is armed. Nested calls keep
    /// the outer deadline.
    public func asJob<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let wasJob = authorizer.jobSQL
        let outerDeadline = watch.deadline
        authorizer.jobSQL = true
        if outerDeadline == 0 && watch.timeoutMs > 0 {
            watch.deadline = MonotonicTime.now() + watch.timeoutMs * 1_000_000
        }
        defer {
            authorizer.jobSQL = wasJob
            watch.deadline = outerDeadline
        }
        return try body()
    }

    /// How long one statement of the job may run (`asJob`), in ms; 0 = no limit.
    public var statementTimeoutMs: Int64 {
        get { watch.timeoutMs }
        set { watch.timeoutMs = newValue }
    }

    /// A request on `signal` interrupts whatever statement runs on this
    /// connection (eddy's own too): a stop during start-up, or the stop
    /// watchdog giving up on a batch. nil: nothing interrupts.
    public func interruptStatements(on signal: StopSignal?) {
        watch.stop = signal
    }

    /// Marks a table eddy made for the job (a source's, a stream's, ...), so
    /// the job cannot drop or alter it. `what` reads "a source", "a stream".
    public func reserve(table: String, as what: String) {
        authorizer.policy.reserved[table.lowercased()] = what
    }

    /// An attached database eddy keeps for itself (the lanes' shared one):
    /// the job may read and write the tables eddy made in it, but not detach
    /// it or change how it is journaled.
    public func protectSchema(_ schema: String) {
        authorizer.policy.eddySchemas.insert(schema.lowercased())
    }

    /// The attached checkpoint's schema: eddy's, like `main`.
    public func protectCheckpoint(schema: String) {
        authorizer.policy.checkpointSchema = schema.lowercased()
        authorizer.policy.eddySchemas.insert(schema.lowercased())
    }

    /// `eddy check`: the job may ATTACH only through `attachingStandIn`.
    public var checkOnly: Bool {
        get { authorizer.policy.checkOnly }
        set { authorizer.policy.checkOnly = newValue }
    }

    /// Lets `body` ATTACH during a check: the planner's in-memory stand-ins
    /// for the databases a job attaches.
    public func attachingStandIn<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        authorizer.policy.allowAttach = true
        defer { authorizer.policy.allowAttach = false }
        return try body()
    }

    /// Copies `source`'s main database into `schema` of this connection, an
    /// attached in-memory database (SQLite's online backup).
    public func copy(from source: Database, into schema: String) throws(SQLiteError) {
        if case .integer(let pageSize)? = try source.scalar("PRAGMA main.page_size") {
            try execute("PRAGMA \(quoteIdentifier(schema)).page_size = \(pageSize)")
        }
        guard let backup = sqlite3_backup_init(handle, schema, source.handle, "main") else {
            throw SQLiteError(db: handle, code: sqlite3_errcode(handle))
        }
        let rc = sqlite3_backup_step(backup, -1)
        let finished = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE, finished == SQLITE_OK else {
            throw SQLiteError(db: handle, code: rc == SQLITE_DONE ? finished : rc)
        }
    }

    /// Gives an error SQLite reports only as "not authorized" or "interrupted"
    /// the reason eddy knows: which rule refused the statement, or which
    /// limit cut it short.
    func explained(_ error: SQLiteError) -> SQLiteError {
        var e = error
        // A refusal fails the statement, as SQLITE_AUTH or, for a function,
        // as SQLITE_ERROR "not authorized to use function".
        if let denial = authorizer.denial {
            e.message = denial
            authorizer.denial = nil
            return e
        }
        switch e.code & 0xFF {
        case SQLITE_INTERRUPT:
            if let interruption = watch.interruption {
                e.message = interruption.message
                e.interruption = interruption
                watch.interruption = nil
            }
        default:
            break
        }
        return e
    }

    /// The first value of the first row, for small queries.
    public func scalar(_ sql: String) throws(SQLiteError) -> SQLValue? {
        let s = try prepare(sql, persistent: false)
        guard try s.step() else { return nil }
        return s.value(0)
    }

    /// How long a statement waits for another connection's lock on the same
    /// file before it fails with SQLITE_BUSY (5 s unless set).
    public func waitWhenBusy(milliseconds: Int32) { sqlite3_busy_timeout(handle, milliseconds) }

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
