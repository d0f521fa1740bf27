import CSQLite
import Glibc

/// eddy's functions on every connection: `batch_time()`, `batch_id()`,
/// `window_start()`, `window_end()`, `regexp(pattern, text)` (which also makes
/// `x REGEXP p` work) and the table-valued `split(text, sep)`.
enum EddyFunctions {
    static func register(on db: Database) throws(SQLiteError) {
        let ctx = Unmanaged.passUnretained(db.context).toOpaque()
        // Innocuous: none of them has side effects or reveals anything beyond
        // the batch, so views and triggers may call them with trusted_schema off.
        let utf8 = SQLITE_UTF8 | SQLITE_INNOCUOUS
        var rc = sqlite3_create_function_v2(db.handle, "batch_time", 0, utf8, ctx, { c, _, _ in
            sqlite3_result_int64(c, sqlContext(c).batchTime)
        }, nil, nil, nil)
        if rc == SQLITE_OK {
            rc = sqlite3_create_function_v2(db.handle, "batch_id", 0, utf8, ctx, { c, _, _ in
                sqlite3_result_int64(c, sqlContext(c).batchID)
            }, nil, nil, nil)
        }
        if rc == SQLITE_OK {
            rc = sqlite3_create_function_v2(db.handle, "window_start", 0, utf8, ctx, { c, _, _ in
                guard let w = sqlContext(c).window else {
                    sqlite3_result_error(c, "window_start() works only in statements that read a window", -1)
                    return
                }
                sqlite3_result_int64(c, w.start)
            }, nil, nil, nil)
        }
        if rc == SQLITE_OK {
            rc = sqlite3_create_function_v2(db.handle, "window_end", 0, utf8, ctx, { c, _, _ in
                guard let w = sqlContext(c).window else {
                    sqlite3_result_error(c, "window_end() works only in statements that read a window", -1)
                    return
                }
                sqlite3_result_int64(c, w.end)
            }, nil, nil, nil)
        }
        if rc == SQLITE_OK {
            rc = sqlite3_create_function_v2(db.handle, "regexp", 2, utf8 | SQLITE_DETERMINISTIC, nil,
                                            regexpFunction, nil, nil, nil)
        }
        if rc == SQLITE_OK {
            rc = sqlite3_create_module_v2(db.handle, "split", SplitFunction.module, nil, nil)
        }
        guard rc == SQLITE_OK else { throw SQLiteError(db: db.handle, code: rc) }
    }

}

private func sqlContext(_ c: OpaquePointer?) -> SQLContext {
    Unmanaged<SQLContext>.fromOpaque(sqlite3_user_data(c)).takeUnretainedValue()
}

/// POSIX extended regular expressions; the compiled pattern is cached on the
/// statement (auxdata), so a constant pattern compiles once per statement.
private let regexpFunction: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = {
    c, _, argv in
    guard let argv else { return }
    guard let patternText = sqlite3_value_text(argv[0]), let subject = sqlite3_value_text(argv[1]) else {
        sqlite3_result_null(c)
        return
    }
    var regex = sqlite3_get_auxdata(c, 0)?.assumingMemoryBound(to: regex_t.self)
    if regex == nil {
        let compiled = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        let rc = UnsafeRawPointer(patternText).withMemoryRebound(to: CChar.self, capacity: 1) {
            regcomp(compiled, $0, REG_EXTENDED | REG_NOSUB)
        }
        guard rc == 0 else {
            var message = [CChar](repeating: 0, count: 256)
            regerror(rc, compiled, &message, message.count)
            compiled.deallocate()
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            sqlite3_result_error(c, "regexp: bad pattern: \(text)", -1)
            return
        }
        sqlite3_set_auxdata(c, 0, compiled) { p in
            guard let p else { return }
            let r = p.assumingMemoryBound(to: regex_t.self)
            regfree(r)
            r.deallocate()
        }
        // SQLite may have freed it already if it could not keep it.
        regex = sqlite3_get_auxdata(c, 0)?.assumingMemoryBound(to: regex_t.self)
        if regex == nil {
            sqlite3_result_error(c, "regexp: out of memory", -1)
            return
        }
    }
    guard let regex else { return }
    let matched = UnsafeRawPointer(subject).withMemoryRebound(to: CChar.self, capacity: 1) {
        regexec(regex, $0, 0, nil, 0) == 0
    }
    sqlite3_result_int(c, matched ? 1 : 0)
}
