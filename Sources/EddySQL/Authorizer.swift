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

    public init() {}
}

/// Collects access reports while a statement is being prepared. Outside of
/// that, the callback allows everything and records nothing (SQLite calls it
/// again when it re-prepares a statement after a schema change).
final class AuthorizerState {
    var active = false
    var access = TableAccess()

    func begin() {
        access = TableAccess()
        active = true
    }
}

let authorizerCallback: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?,
                                        UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32 = {
    raw, action, arg1, arg2, database, _ in
    guard let raw else { return SQLITE_OK }
    let state = Unmanaged<AuthorizerState>.fromOpaque(raw).takeUnretainedValue()
    guard state.active else { return SQLITE_OK }
    func name(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0).lowercased() } }
    switch action {
    case SQLITE_READ:
        if let table = name(arg1) {
            state.access.reads.insert(table)
            if let schema = name(database) { state.access.schemas[table] = schema }
        }
    case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE:
        if let table = name(arg1) {
            state.access.writes.insert(table)
            if let schema = name(database) { state.access.schemas[table] = schema }
        }
    case SQLITE_FUNCTION:
        if let fn = name(arg2) { state.access.functions.insert(fn) }
    case SQLITE_CREATE_TABLE, SQLITE_CREATE_INDEX, SQLITE_CREATE_VIEW, SQLITE_CREATE_TRIGGER,
         SQLITE_DROP_TABLE, SQLITE_DROP_INDEX, SQLITE_DROP_VIEW, SQLITE_DROP_TRIGGER,
         SQLITE_CREATE_VTABLE, SQLITE_DROP_VTABLE:
        state.access.ddlSchemas.insert(name(database) ?? "main")
    case SQLITE_ALTER_TABLE:
        // Here the schema comes first and the table second.
        state.access.ddlSchemas.insert(name(arg1) ?? "main")
    case SQLITE_CREATE_TEMP_TABLE, SQLITE_CREATE_TEMP_INDEX, SQLITE_CREATE_TEMP_VIEW, SQLITE_CREATE_TEMP_TRIGGER,
         SQLITE_DROP_TEMP_TABLE, SQLITE_DROP_TEMP_INDEX, SQLITE_DROP_TEMP_VIEW, SQLITE_DROP_TEMP_TRIGGER:
        state.access.ddlSchemas.insert("temp")
    default:
        break
    }
    return SQLITE_OK
}
