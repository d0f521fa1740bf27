import CSQLite

/// What the SQL of a job file may do on eddy's connections, enforced by
/// SQLite's authorizer as it compiles each statement (never by matching text).
///
/// A job file is code, like a shell script: it may read and write its own
/// tables, attach databases and write them, create views, indexes and
/// triggers. It may not take over eddy's own bookkeeping or the process:
///
/// - functions that reach under SQL (`deniedFunctions`), on every connection;
/// - transactions (`BEGIN`, `COMMIT`, `SAVEPOINT`, ...): eddy runs each batch
///   in one transaction of its own, and a job that ended it would commit half
///   a batch;
/// - pragmas that corrupt a database (`writable_schema`), undo this policy
///   (`trusted_schema`), change the whole process (`temp_store_directory`,
///   heap limits) or eddy's durability (`journal_mode` and friends on eddy's
///   databases, anything on the checkpoint);
/// - changes to eddy's own tables: `_eddy_*` anywhere, and the tables eddy
///   made for the job's sources, streams, windows, sinks and state tables
///   (dropping or renaming them would break the next batch);
/// - detaching the checkpoint;
/// - in `eddy check`, any ATTACH but the planner's own in-memory stand-ins,
///   so that a check writes nothing.
///
/// The rules apply to the job's statements and to whatever a trigger or a
/// view does, even when eddy's own statement fires it.
struct JobSQLPolicy {
    /// Functions no statement may call, with the reason. Each exists in
    /// Debian's libsqlite3; the rest of SQLite's functions only compute.
    static let deniedFunctions: [String: String] = [
        "fts3_tokenizer": "it reads and writes raw pointers inside SQLite, so a job could take over the process with it",
        "load_extension": "it would load native code into eddy; eddy loads no extensions",
        "rtreenode": "it is an R*Tree debugging function that decodes raw node bytes it is given",
        "rtreedepth": "it is an R*Tree debugging function that decodes raw node bytes it is given",
    ]

    /// Pragmas a job may read but never set.
    static let deniedPragmas: [String: String] = [
        "writable_schema": "it lets SQL edit the schema table directly and corrupt the database",
        "trusted_schema": "eddy keeps it off, so that views and triggers call only harmless functions",
        "schema_version": "it corrupts the database's schema cache",
        "query_only": "eddy must write each batch's tables and its checkpoint",
        "temp_store_directory": "it changes where the whole process writes temporary files",
        "data_store_directory": "it changes where the whole process writes files",
        "soft_heap_limit": "it limits the memory of the whole process",
        "hard_heap_limit": "it limits the memory of the whole process",
    ]

    /// Pragmas that set how a database is written, which a job may set only
    /// on a database it attached itself.
    static let durabilityPragmas: Set<String> = ["journal_mode", "synchronous", "locking_mode"]

    /// The tables eddy made for the job: lowercased name → what it is.
    var reserved: [String: String] = [:]
    /// Schemas that are eddy's: batch tables (`main`), `temp`, and the
    /// checkpoint when one is attached.
    var eddySchemas: Set<String> = ["main", "temp"]
    /// The checkpoint's schema, whose settings and bookkeeping are eddy's.
    var checkpointSchema: String?
    /// `eddy check`: no ATTACH except through `allowAttach`.
    var checkOnly = false
    /// Set while the planner attaches an in-memory stand-in during a check.
    var allowAttach = false

    /// Why the request is refused, or nil when it is allowed. `fromJob`: the
    /// job's own SQL, or a trigger or view, asks.
    func refusal(for r: AuthorizerRequest, fromJob: Bool) -> String? {
        if r.action == SQLITE_FUNCTION, let fn = r.arg2, let why = Self.deniedFunctions[fn] {
            return "\(fn)() is not allowed in a job: \(why)"
        }
        if r.action == SQLITE_ATTACH && checkOnly && !allowAttach {
            return "eddy check writes nothing, so it attaches databases only as in-memory copies"
        }
        guard fromJob else { return nil }
        let schema = r.schema ?? "main"
        switch r.action {
        case SQLITE_TRANSACTION:
            return "eddy runs every batch in one transaction of its own; remove \((r.arg1 ?? "BEGIN").uppercased())"
        case SQLITE_SAVEPOINT:
            let verb: String
            switch r.arg1 {
            case "release": verb = "RELEASE"
            case "rollback": verb = "ROLLBACK TO"
            default: verb = "SAVEPOINT"
            }
            return "eddy runs every batch in one transaction of its own; remove \(verb)"
        case SQLITE_PRAGMA:
            guard let pragma = r.arg1, r.arg2 != nil else { return nil }
            if let why = Self.deniedPragmas[pragma] { return "PRAGMA \(pragma) cannot be set in a job: \(why)" }
            if let checkpoint = checkpointSchema, r.schema == checkpoint {
                return "PRAGMA \(checkpoint).\(pragma): the checkpoint's settings are eddy's"
            }
            if Self.durabilityPragmas.contains(pragma) && (r.schema == nil || eddySchemas.contains(schema)) {
                return "PRAGMA \(pragma) on eddy's own databases is eddy's to set; name a database the job attached (PRAGMA name.\(pragma) = ...)"
            }
            return nil
        case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE:
            if let table = r.arg1, table.hasPrefix("_eddy_") {
                return "\(table) is eddy's own bookkeeping: a job may read it but not change it"
            }
            return nil
        case SQLITE_CREATE_TABLE, SQLITE_CREATE_TEMP_TABLE, SQLITE_CREATE_VIEW, SQLITE_CREATE_TEMP_VIEW,
             SQLITE_CREATE_INDEX, SQLITE_CREATE_TEMP_INDEX, SQLITE_CREATE_TRIGGER, SQLITE_CREATE_TEMP_TRIGGER,
             SQLITE_CREATE_VTABLE, SQLITE_DROP_INDEX, SQLITE_DROP_TEMP_INDEX, SQLITE_DROP_TRIGGER,
             SQLITE_DROP_TEMP_TRIGGER, SQLITE_DROP_VIEW, SQLITE_DROP_TEMP_VIEW, SQLITE_DROP_VTABLE:
            for name in [r.arg1, r.arg2].compactMap({ $0 }) where name.hasPrefix("_eddy_") {
                return "names starting with _eddy_ are eddy's own (\(name))"
            }
            return nil
        case SQLITE_DROP_TABLE, SQLITE_DROP_TEMP_TABLE, SQLITE_ALTER_TABLE:
            guard let table = r.action == SQLITE_ALTER_TABLE ? r.arg2 : r.arg1 else { return nil }
            let verb = r.action == SQLITE_ALTER_TABLE ? "altered" : "dropped"
            if table.hasPrefix("_eddy_") { return "\(table) is eddy's own bookkeeping and cannot be \(verb)" }
            let db = r.action == SQLITE_ALTER_TABLE ? (r.arg1 ?? "main") : schema
            if let what = reserved[table], eddySchemas.contains(db) {
                return "\(table) is \(what) of the job: eddy made its table, and it cannot be \(verb)"
            }
            return nil
        case SQLITE_DETACH:
            if let db = r.arg1, eddySchemas.contains(db) {
                return db == checkpointSchema ? "\(db) is eddy's checkpoint and cannot be detached"
                                              : "\(db) is eddy's own database and cannot be detached"
            }
            return nil
        default:
            return nil
        }
    }
}
