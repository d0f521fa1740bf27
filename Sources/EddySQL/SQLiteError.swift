import CSQLite
import EddyCore

/// An error from SQLite, with its result code, its message, and where in the
/// statement text it points (SQLite's `sqlite3_error_offset`), so the planner
/// can map it back to a line and column of the job file.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String
    /// Byte offset into the statement's SQL, when SQLite knows one.
    public var offset: Int?
    public var sql: String?
    /// Set when eddy cut the statement short (statement_timeout, a stop).
    public var interruption: Interruption?

    public init(code: Int32, message: String, offset: Int? = nil, sql: String? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
        self.sql = sql
    }

    init(db: OpaquePointer?, code: Int32, sql: String? = nil) {
        self.code = code
        if let db, let m = sqlite3_errmsg(db) {
            message = String(cString: m)
            let off = sqlite3_error_offset(db)
            offset = off >= 0 ? Int(off) : nil
        } else {
            message = String(cString: sqlite3_errstr(code))
            offset = nil
        }
        self.sql = sql
    }

    public var description: String { message }

    /// SQLITE_READONLY: a write to a database opened read-only.
    public var isReadOnly: Bool { code & 0xFF == SQLITE_READONLY }

    /// SQLITE_FULL, or an I/O error caused by a full disk.
    public var isDiskFull: Bool { code & 0xFF == SQLITE_FULL }
}

extension SQLiteError: EddyError {
    public var exitStatus: ExitStatus { .runtime }
}
