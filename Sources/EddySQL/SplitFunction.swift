import CSQLite
import Glibc

/// `split(text, sep)`: a table-valued function with one row per piece, in
/// order (`value`, and `ordinal` from 1). Like Java's and Python's split with
/// a separator, empty pieces are kept, so `split('a  b', ' ')` gives 'a', '',
/// 'b'; word counts filter `WHERE value <> ''`. An empty separator splits into
/// characters; a NULL text gives no rows.
enum SplitFunction {
    private struct Cursor {
        // Must stay first: SQLite sees this struct as a sqlite3_vtab_cursor.
        var base = sqlite3_vtab_cursor()
        var text: UnsafeMutablePointer<UInt8>?
        var length = 0
        /// Bytes allocated at `text`: kept across rows, so a cursor that
        /// splits line after line allocates once, not once per line.
        var capacity = 0
        var sep: [UInt8] = []
        var start = 0
        var end = 0
        var ordinal: Int64 = 0
        var eof = true

        mutating func free() {
            if let text { Glibc.free(text) }
            text = nil
            length = 0
            capacity = 0
        }

        /// Copies `n` bytes in (SQLite's argument is only valid during xFilter).
        mutating func take(_ input: UnsafePointer<UInt8>, _ n: Int) -> Bool {
            if text == nil || capacity < max(n, 1) {
                let size = max(n, 64)
                guard let grown = realloc(text, size)?.assumingMemoryBound(to: UInt8.self) else { return false }
                text = grown
                capacity = size
            }
            if let text { memcpy(text, input, n) }
            length = n
            return true
        }

        /// Sets the separator, reusing the array when it is unchanged (it
        /// nearly always is: the same constant on every row).
        mutating func setSeparator(_ p: UnsafePointer<UInt8>, _ n: Int) {
            let bytes = UnsafeBufferPointer(start: p, count: n)
            if !sep.elementsEqual(bytes) { sep = Array(bytes) }
        }

        /// Finds the end of the piece that begins at `start`.
        mutating func findEnd() {
            guard let text else { eof = true; return }
            if sep.isEmpty {
                guard start < length else { eof = true; return }
                // One UTF-8 scalar (or one stray byte).
                var n = 1
                while start + n < length && (text[start + n] & 0xC0) == 0x80 { n += 1 }
                end = start + n
                return
            }
            if sep.count == 1 {
                if let hit = memchr(text + start, Int32(sep[0]), length - start) {
                    end = text.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                } else {
                    end = length
                }
                return
            }
            // Multi-byte separator: find its first byte, then compare the rest.
            var i = start
            let first = Int32(sep[0])
            end = length
            while i + sep.count <= length, let hit = memchr(text + i, first, length - i) {
                let at = text.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                guard at + sep.count <= length else { break }
                if sep.elementsEqual(UnsafeBufferPointer(start: text + at, count: sep.count)) {
                    end = at
                    break
                }
                i = at + 1
            }
        }

        mutating func advance() {
            if sep.isEmpty {
                start = end
            } else {
                if end >= length { eof = true; return }
                start = end + sep.count
            }
            ordinal += 1
            findEnd()
        }
    }

    nonisolated(unsafe) static let module: UnsafeMutablePointer<sqlite3_module> = {
        precondition(MemoryLayout<Cursor>.offset(of: \Cursor.base) == 0)
        let m = UnsafeMutablePointer<sqlite3_module>.allocate(capacity: 1)
        m.initialize(to: sqlite3_module())
        m.pointee.iVersion = 0
        m.pointee.xCreate = nil // eponymous only: used as split(...) without CREATE VIRTUAL TABLE
        m.pointee.xConnect = { db, _, _, _, vtab, _ in
            let rc = sqlite3_declare_vtab(db, "CREATE TABLE x(value TEXT, ordinal INTEGER, input HIDDEN, sep HIDDEN)")
            guard rc == SQLITE_OK else { return rc }
            // split() only reads its arguments: harmless in views and triggers,
            // which eddy's connections (trusted_schema off) otherwise refuse.
            let innocuous = eddy_vtab_config_innocuous(db)
            guard innocuous == SQLITE_OK else { return innocuous }
            guard let mem = sqlite3_malloc(Int32(MemoryLayout<sqlite3_vtab>.size)) else { return SQLITE_NOMEM }
            let table = mem.bindMemory(to: sqlite3_vtab.self, capacity: 1)
            table.initialize(to: sqlite3_vtab())
            vtab?.pointee = table
            return SQLITE_OK
        }
        m.pointee.xDisconnect = { vtab in
            sqlite3_free(vtab)
            return SQLITE_OK
        }
        m.pointee.xBestIndex = { _, info in
            guard let info else { return SQLITE_ERROR }
            var inputArg = -1
            var sepArg = -1
            var inputUnusable = false
            for i in 0..<Int(info.pointee.nConstraint) {
                let c = info.pointee.aConstraint[i]
                guard c.op == UInt8(SQLITE_INDEX_CONSTRAINT_EQ) else { continue }
                if c.iColumn == 2 {
                    if c.usable != 0 { inputArg = i } else { inputUnusable = true }
                } else if c.iColumn == 3 && c.usable != 0 {
                    sepArg = i
                }
            }
            if inputArg < 0 {
                // Without its text, split cannot run: make the planner find an order that supplies it.
                if inputUnusable { return SQLITE_CONSTRAINT }
                info.pointee.estimatedCost = 1e300
                info.pointee.idxNum = 0
                return SQLITE_OK
            }
            info.pointee.aConstraintUsage[inputArg].argvIndex = 1
            info.pointee.aConstraintUsage[inputArg].omit = 1
            var idx: Int32 = 1
            if sepArg >= 0 {
                info.pointee.aConstraintUsage[sepArg].argvIndex = 2
                info.pointee.aConstraintUsage[sepArg].omit = 1
                idx |= 2
            }
            info.pointee.idxNum = idx
            info.pointee.estimatedCost = 10
            info.pointee.estimatedRows = 10
            return SQLITE_OK
        }
        m.pointee.xOpen = { _, cursorOut in
            let c = UnsafeMutablePointer<Cursor>.allocate(capacity: 1)
            c.initialize(to: Cursor())
            cursorOut?.pointee = UnsafeMutableRawPointer(c).assumingMemoryBound(to: sqlite3_vtab_cursor.self)
            return SQLITE_OK
        }
        m.pointee.xClose = { raw in
            guard let raw else { return SQLITE_OK }
            let c = UnsafeMutableRawPointer(raw).assumingMemoryBound(to: Cursor.self)
            c.pointee.free()
            c.deinitialize(count: 1)
            c.deallocate()
            return SQLITE_OK
        }
        m.pointee.xFilter = { raw, idxNum, _, argc, argv in
            guard let raw else { return SQLITE_ERROR }
            let c = UnsafeMutableRawPointer(raw).assumingMemoryBound(to: Cursor.self)
            c.pointee.length = 0
            c.pointee.eof = true
            c.pointee.ordinal = 1
            c.pointee.start = 0
            guard idxNum & 1 != 0, argc >= 1, let argv else {
                let vtab = raw.pointee.pVtab
                vtab?.pointee.zErrMsg = eddy_sqlite_strdup("split() needs the text to split, as in split(line, ' ')")
                return SQLITE_ERROR
            }
            var space = UInt8(ascii: " ")
            if idxNum & 2 != 0, argc >= 2, let s = sqlite3_value_text(argv[1]) {
                c.pointee.setSeparator(s, Int(sqlite3_value_bytes(argv[1])))
            } else {
                c.pointee.setSeparator(&space, 1)
            }
            guard let input = sqlite3_value_text(argv[0]) else { return SQLITE_OK }
            guard c.pointee.take(input, Int(sqlite3_value_bytes(argv[0]))) else { return SQLITE_NOMEM }
            c.pointee.eof = false
            c.pointee.findEnd()
            return SQLITE_OK
        }
        m.pointee.xNext = { raw in
            guard let raw else { return SQLITE_ERROR }
            UnsafeMutableRawPointer(raw).assumingMemoryBound(to: Cursor.self).pointee.advance()
            return SQLITE_OK
        }
        m.pointee.xEof = { raw in
            guard let raw else { return 1 }
            return UnsafeMutableRawPointer(raw).assumingMemoryBound(to: Cursor.self).pointee.eof ? 1 : 0
        }
        m.pointee.xColumn = { raw, ctx, column in
            guard let raw else { return SQLITE_ERROR }
            let c = UnsafeMutableRawPointer(raw).assumingMemoryBound(to: Cursor.self)
            switch column {
            case 0:
                let piece = (c.pointee.text.map { UnsafeRawPointer($0 + c.pointee.start) } ?? UnsafeRawPointer(bitPattern: 1))
                eddy_result_text_transient(ctx, piece?.assumingMemoryBound(to: CChar.self),
                                           Int32(c.pointee.end - c.pointee.start))
            case 1:
                sqlite3_result_int64(ctx, c.pointee.ordinal)
            case 2:
                if let t = c.pointee.text {
                    eddy_result_text_transient(ctx, UnsafeRawPointer(t).assumingMemoryBound(to: CChar.self), Int32(c.pointee.length))
                } else {
                    sqlite3_result_null(ctx)
                }
            default:
                c.pointee.sep.withUnsafeBytes {
                    eddy_result_text_transient(ctx, $0.baseAddress?.assumingMemoryBound(to: CChar.self), Int32($0.count))
                }
            }
            return SQLITE_OK
        }
        m.pointee.xRowid = { raw, rowid in
            guard let raw else { return SQLITE_ERROR }
            rowid?.pointee = UnsafeMutableRawPointer(raw).assumingMemoryBound(to: Cursor.self).pointee.ordinal
            return SQLITE_OK
        }
        return m
    }()
}
