import CSQLite

/// The tables a statement reads and writes, as SQLite's authorizer reported
/// them while compiling it. Reads through views and triggers count: SQLite
/// reports the underlying tables.
public struct TableAccess: Sendable, Equatable {
    /// Lowercased table names read.
    public var reads: Set<String> = []
    /// Lowercased table names inserted into, updated or deleted from.
    public var writes: Set<String> = []
    /// Lowercased names of functions called.
    public var functions: Set<String> = []
    /// The schema (`main`, `temp`, an attached name) of each table read or
    /// written, lowercased: whether a table is private to one connection or
    /// shared through a file decides where a step may run.
    public var schemas: [String: String] = [:]
    /// Schemas in which the statement creates or drops a table, view, index
    /// or trigger, lowercased (`temp` for TEMP objects).
    public var ddlSchemas: Set<String> = []
    /// Triggers the statement creates: lowercased trigger name → the table it is on.
    public var createdTriggers: [String: String] = [:]
    /// Schemas (lowercased) the statement writes to, the main one as `main`.
    public var writtenSchemas: Set<String> = []

    public init() {}
}

/// The per-connection state the authorizer callback works with. Tracing
/// (collecting a statement's `TableAccess`) is on only while eddy prepares a
/// statement to learn what it reads; the job policy applies to job SQL and to
/// anything a trigger or view does, whenever SQLite compiles it.
///
/// Owned by one connection, and so by one thread.
final class AuthorizerState {
    /// The names SQLite's schema table goes by, in `main` and in `temp`.
    static let schemaTables: Set<String> = ["sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"]

    var tracing = false
    var access = TableAccess()
    /// The job's own SQL is being compiled or run (see `Database.asJob`).
    var jobSQL = false
    var policy = JobSQLPolicy()
    /// Why the last statement was refused, for the error SQLite reports as
    /// "not authorized".
    var denial: String?

    func begin() {
        access = TableAccess()
        tracing = true
    }
}

let authorizerCallback: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?,
                                        UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32 = {
    raw, action, arg1, arg2, arg3, inner in
    guard let raw else { return SQLITE_OK }
    let state = Unmanaged<AuthorizerState>.fromOpaque(raw).takeUnretainedValue()
    func name(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0).lowercased() } }
    let request = AuthorizerRequest(action: action, arg1: name(arg1), arg2: name(arg2), schema: name(arg3),
                                    inner: inner.map { String(cString: $0) })
    // eddy's own statements run unchecked; but what a trigger or a view does
    // is the job's code, even inside eddy's INSERT into a source table.
    if let refusal = state.policy.refusal(for: request, fromJob: state.jobSQL || request.inner != nil) {
        state.denial = refusal
        return SQLITE_DENY
    }
    guard state.tracing else { return SQLITE_OK }
    switch action {
    case SQLITE_READ:
        if let table = request.arg1 {
            state.access.reads.insert(table)
            if let schema = request.schema { state.access.schemas[table] = schema }
        }
    case SQLITE_UPDATE where request.arg1.map(AuthorizerState.schemaTables.contains) == true:
        // A virtual table declaring its columns (split(), at its first use in
        // a statement) shows as an UPDATE of the schema table. It is not the
        // statement's write: schema changes come with their own CREATE and
        // DROP codes (below), and the policy refuses a job's own UPDATE of
        // it (writable_schema is off). Recorded, it kept word counts off lanes.
        break
    case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE:
        if let table = request.arg1 {
            state.access.writes.insert(table)
            if let schema = request.schema { state.access.schemas[table] = schema }
        }
        state.access.writtenSchemas.insert(request.schema ?? "main")
    case SQLITE_CREATE_TRIGGER, SQLITE_CREATE_TEMP_TRIGGER:
        if let trigger = request.arg1, let table = request.arg2 { state.access.createdTriggers[trigger] = table }
        state.access.writtenSchemas.insert(request.schema ?? "main")
        state.access.ddlSchemas.insert(action == SQLITE_CREATE_TEMP_TRIGGER ? "temp" : request.schema ?? "main")
    case SQLITE_CREATE_TABLE, SQLITE_CREATE_VIEW, SQLITE_CREATE_INDEX, SQLITE_CREATE_VTABLE,
         SQLITE_DROP_TABLE, SQLITE_DROP_VIEW, SQLITE_DROP_INDEX, SQLITE_DROP_TRIGGER, SQLITE_DROP_VTABLE:
        state.access.writtenSchemas.insert(request.schema ?? "main")
        state.access.ddlSchemas.insert(request.schema ?? "main")
    case SQLITE_ALTER_TABLE:
        // Here the schema comes first and the table second.
        state.access.writtenSchemas.insert(request.arg1 ?? "main")
        state.access.ddlSchemas.insert(request.arg1 ?? "main")
    case SQLITE_CREATE_TEMP_TABLE, SQLITE_CREATE_TEMP_INDEX, SQLITE_CREATE_TEMP_VIEW,
         SQLITE_DROP_TEMP_TABLE, SQLITE_DROP_TEMP_INDEX, SQLITE_DROP_TEMP_VIEW, SQLITE_DROP_TEMP_TRIGGER:
        state.access.ddlSchemas.insert("temp")
    case SQLITE_FUNCTION:
        if let fn = request.arg2 { state.access.functions.insert(fn) }
    default:
        break
    }
    return SQLITE_OK
}

/// One call of SQLite's authorizer, its names lowercased.
struct AuthorizerRequest {
    var action: Int32
    var arg1: String?
    var arg2: String?
    /// The database (schema) name, where the action has one.
    var schema: String?
    /// The trigger or view whose code asks, nil for top-level SQL.
    var inner: String?
}
