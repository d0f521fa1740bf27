import CSQLite

/// A value as SQLite holds it, for rows eddy keeps beyond one step (sinks,
/// tables printed after all rows are in, tests).
public enum SQLValue: Sendable, Equatable, Hashable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var description: String {
        switch self {
        case .null: return "NULL"
        case .integer(let v): return String(v)
        case .real(let v): return String(v)
        case .text(let s): return s
        case .blob(let b): return "x'" + b.map { String($0, radix: 16) }.joined() + "'"
        }
    }
}

/// A prepared statement, prepared once and reused every batch
/// (`SQLITE_PREPARE_PERSISTENT`), as GRDB and SQLite's docs advise.
public final class Statement {
    public let handle: OpaquePointer
    public let sql: String
    /// Kept alive by its statements, and asked why a statement failed.
    private let database: Database

    init(database: Database, sql: String, persistent: Bool) throws(SQLiteError) {
        database.authorizer.denial = nil
        var stmt: OpaquePointer?
        var tail: UnsafePointer<CChar>?
        let flags: UInt32 = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let rc = sql.withCString { cSQL -> Int32 in
            let r = sqlite3_prepare_v3(database.handle, cSQL, -1, flags, &stmt, &tail)
            if r == SQLITE_OK, let tail, tail.pointee != 0 {
                // Something follows the first statement: only comments and spaces may.
                let rest = String(cString: tail)
                if !Statement.isBlank(rest) {
                    sqlite3_finalize(stmt)
                    stmt = nil
                    return SQLITE_MISUSE
                }
            }
            return r
        }
        if rc == SQLITE_MISUSE {
            throw SQLiteError(code: rc, message: "expected one statement, found more", offset: nil, sql: sql)
        }
        guard rc == SQLITE_OK else { throw database.explained(SQLiteError(db: database.handle, code: rc, sql: sql)) }
        guard let stmt else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "empty statement", offset: 0, sql: sql)
        }
        self.handle = stmt
        self.sql = sql
        self.database = database
    }

    deinit { sqlite3_finalize(handle) }

    static func isBlank(_ text: String) -> Bool {
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c.isWhitespace || c == ";" {
                i = text.index(after: i)
            } else if text[i...].hasPrefix("--") {
                guard let nl = text[i...].firstIndex(of: "\n") else { return true }
                i = nl
            } else if text[i...].hasPrefix("/*") {
                var j = text.index(i, offsetBy: 2)
                while j < text.endIndex, !text[j...].hasPrefix("*/") { j = text.index(after: j) }
                if j == text.endIndex { return true }
                i = text.index(j, offsetBy: 2)
            } else {
                return false
            }
        }
        return true
    }

    /// Steps once: true when a row is ready, false when done.
    @inline(__always)
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let error = database.explained(SQLiteError(db: database.handle, code: rc, sql: sql))
        sqlite3_reset(handle)
        throw error
    }

    /// Steps to the end, discarding rows.
    public func run() throws(SQLiteError) {
        defer { sqlite3_reset(handle) }
        while try step() {}
    }

    @inline(__always) public func reset() { sqlite3_reset(handle) }
    public func clearBindings() { sqlite3_clear_bindings(handle) }

    public var isReadOnly: Bool { sqlite3_stmt_readonly(handle) != 0 }
    public var columnCount: Int { Int(sqlite3_column_count(handle)) }
    public var parameterCount: Int { Int(sqlite3_bind_parameter_count(handle)) }

    public func columnName(_ i: Int) -> String {
        sqlite3_column_name(handle, Int32(i)).map { String(cString: $0) } ?? "column\(i + 1)"
    }

    public var columnNames: [String] { (0..<columnCount).map(columnName) }

    /// The declared type of a result column that comes straight from a table.
    public func columnDeclaredType(_ i: Int) -> String? {
        sqlite3_column_decltype(handle, Int32(i)).map { String(cString: $0) }
    }

    // MARK: binding
    //
    // Every bind checks SQLite's answer: a value too big for SQLite's limits
    // or a parameter out of range is an error with SQLite's message, never a
    // statement run with a parameter silently left as it was.

    @inline(__always) public func bind(_ i: Int32, _ v: Int64) throws(SQLiteError) { try check(sqlite3_bind_int64(handle, i, v), i) }
    @inline(__always) public func bind(_ i: Int32, _ v: Double) throws(SQLiteError) { try check(sqlite3_bind_double(handle, i, v), i) }
    @inline(__always) public func bindNull(_ i: Int32) throws(SQLiteError) { try check(sqlite3_bind_null(handle, i), i) }

    public func bind(_ i: Int32, _ v: String) throws(SQLiteError) {
        var s = v
        let rc = s.withUTF8 { buf -> Int32 in
            guard let base = buf.baseAddress, buf.count > 0 else { return eddy_bind_empty_text(handle, i) }
            guard buf.count <= Int(Int32.max) else { return SQLITE_TOOBIG }
            return eddy_bind_text_transient(handle, i, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(buf.count))
        }
        try check(rc, i)
    }

    /// Binds text without copying. The bytes must stay alive and unchanged
    /// until the statement is reset: the loader points into the decoded block.
    @inline(__always)
    public func bindStaticText(_ i: Int32, _ p: UnsafePointer<UInt8>, _ n: Int) throws(SQLiteError) {
        guard n <= Int(Int32.max) else { throw bindError(SQLITE_TOOBIG, i) }
        // A zero length with a valid pointer is '' (not NULL), as wanted.
        try check(eddy_bind_text_static(handle, i, UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self), Int32(n)), i)
    }

    public func bindBlob(_ i: Int32, _ p: UnsafeRawPointer?, _ n: Int) throws(SQLiteError) {
        guard n <= Int(Int32.max) else { throw bindError(SQLITE_TOOBIG, i) }
        try check(eddy_bind_blob_transient(handle, i, p, Int32(n)), i)
    }

    public func bind(_ i: Int32, _ v: SQLValue) throws(SQLiteError) {
        switch v {
        case .null: try bindNull(i)
        case .integer(let x): try bind(i, x)
        case .real(let x): try bind(i, x)
        case .text(let s): try bind(i, s)
        case .blob(let b):
            guard b.count <= Int(Int32.max) else { throw bindError(SQLITE_TOOBIG, i) }
            try check(b.withUnsafeBytes { eddy_bind_blob_transient(handle, i, $0.baseAddress, Int32($0.count)) }, i)
        }
    }

    @inline(__always)
    private func check(_ rc: Int32, _ i: Int32) throws(SQLiteError) {
        if rc != SQLITE_OK { throw bindError(rc, i) }
    }

    private func bindError(_ rc: Int32, _ i: Int32) -> SQLiteError {
        // SQLite records a failed bind on the connection ("string or blob
        // too big", "column index out of range"); a size eddy refuses before
        // calling it has only the code's text.
        let name = sqlite3_bind_parameter_name(handle, i).map { " \(String(cString: $0))" } ?? ""
        let message = sqlite3_errcode(database.handle) == rc ? sqlite3_errmsg(database.handle) : sqlite3_errstr(rc)
        return SQLiteError(code: rc, message: "cannot bind parameter \(i)\(name): \(message.map { String(cString: $0) } ?? "error \(rc)")",
                           sql: sql)
    }

    // MARK: reading the current row

    @inline(__always) public func type(_ i: Int) -> Int32 { sqlite3_column_type(handle, Int32(i)) }
    @inline(__always) public func int64(_ i: Int) -> Int64 { sqlite3_column_int64(handle, Int32(i)) }
    @inline(__always) public func double(_ i: Int) -> Double { sqlite3_column_double(handle, Int32(i)) }

    /// The column as UTF-8 bytes (SQLite's own text form for numbers), valid
    /// until the next step or reset.
    @inline(__always)
    public func textBytes(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        let p = sqlite3_column_text(handle, Int32(i))
        let n = Int(sqlite3_column_bytes(handle, Int32(i)))
        guard let p else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: p, count: n)
    }

    public func string(_ i: Int) -> String? {
        if type(i) == SQLITE_NULL { return nil }
        return String(decoding: textBytes(i), as: UTF8.self)
    }

    public func blobBytes(_ i: Int) -> UnsafeRawBufferPointer {
        let p = sqlite3_column_blob(handle, Int32(i))
        let n = Int(sqlite3_column_bytes(handle, Int32(i)))
        return UnsafeRawBufferPointer(start: p, count: n)
    }

    /// Whether SQLite marks the value as JSON (a json function's result, such
    /// as `json_group_array`): `--format jsonl` embeds those as JSON.
    public func isJSON(_ i: Int) -> Bool {
        guard let v = sqlite3_column_value(handle, Int32(i)) else { return false }
        return sqlite3_value_subtype(v) == 74 // 'J', SQLite's JSON subtype
    }

    public func value(_ i: Int) -> SQLValue {
        switch type(i) {
        case SQLITE_INTEGER: return .integer(int64(i))
        case SQLITE_FLOAT: return .real(double(i))
        case SQLITE_TEXT: return .text(String(decoding: textBytes(i), as: UTF8.self))
        case SQLITE_BLOB: return .blob(Array(blobBytes(i)))
        default: return .null
        }
    }

    public var row: [SQLValue] { (0..<columnCount).map(value) }
}
