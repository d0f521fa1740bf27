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
    raw, action, arg1, arg2, _, _ in
    guard let raw else { return SQLITE_OK }
    let state = Unmanaged<AuthorizerState>.fromOpaque(raw).takeUnretainedValue()
    guard state.active else { return SQLITE_OK }
    func name(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0).lowercased() } }
    switch action {
    case SQLITE_READ:
        if let table = name(arg1) { state.access.reads.insert(table) }
    case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE:
        if let table = name(arg1) { state.access.writes.insert(table) }
    case SQLITE_FUNCTION:
        if let fn = name(arg2) { state.access.functions.insert(fn) }
    default:
        break
    }
    return SQLITE_OK
}
