import EddyCore
import EddyJob
import EddySQL

/// A start-up statement was cut short, by `statement_timeout` or by a stop
/// request; planning ends there, since what follows may depend on it.
public struct StartupInterrupted: EddyError {
    public var location: SourceLocation
    public var interruption: Interruption
    /// A timeout is a runtime failure. A stop asked for is not a failure; the
    /// command decides how it ends (`run` stops cleanly).
    public var exitStatus: ExitStatus { .runtime }
    /// A stop request, rather than statement_timeout, cut it short.
    public var isStop: Bool { interruption == .stopRequested }
    public var description: String {
        switch interruption {
        case .stopRequested: return "\(location): stopped during start-up, while this statement ran (nothing was received yet)"
        case .statementTimeout: return "\(location): start-up: \(interruption.message)"
        }
    }
}

extension Planner {
    /// Runs a start-up statement as job SQL. In `eddy check`, an ATTACH gets
    /// an in-memory stand-in, and a write into a database too large to copy
    /// is compiled but not run.
    mutating func runStartStatement(_ s: SQLStatement, _ statement: JobStatement, _ db: Database) throws(JobError) {
        var note: String?
        if options.checkOnly && s.keyword == "ATTACH" {
            note = try attachStandIn(s, statement, db)
        } else {
            do {
                let (prepared, access) = try db.asJob { () throws(SQLiteError) in try db.prepareTracingAccess(s.sql.text) }
                for (trigger, table) in access.createdTriggers {
                    plan.triggers[table, default: []].append(PlannedTrigger(name: trigger, location: statement.location))
                }
                do {
                    try db.asJob { () throws(SQLiteError) in try prepared.run() }
                } catch let error where error.isReadOnly && !access.writtenSchemas.isDisjoint(with: readOnlyStandIns) {
                    // A write to a read-only stand-in: compiled, which is all a check can do.
                    note = "compiled, not run: it writes to a database eddy check attached read-only"
                }
            } catch {
                noteInterruption(error, at: statement.location)
                throw mapError(error, s.sql)
            }
        }
        plan.startStatements.append(StartStatement(sql: s.sql, location: statement.location, note: note))
    }

    /// Remembers that a statement was interrupted, so planning stops and
    /// reports it as such rather than as a mistake in the job.
    mutating func noteInterruption(_ error: SQLiteError, at location: SourceLocation) {
        if let interruption = error.interruption, interrupted == nil {
            interrupted = StartupInterrupted(location: location, interruption: interruption)
        }
    }

    // MARK: eddy check's ATTACH

    /// The largest database `eddy check` copies into memory; a larger one is
    /// attached read-only instead.
    static let standInCopyLimit: Int64 = 256 << 20

    /// `eddy check` writes nothing, but an ATTACH creates its file, and a
    /// CREATE TABLE in it writes it. So a check attaches a stand-in under the
    /// same name: an in-memory copy of the database when the file exists
    /// (queries are checked against its real tables; the file is only read),
    /// an empty in-memory database when it does not yet. Returns the note
    /// the plan shows.
    mutating func attachStandIn(_ s: SQLStatement, _ statement: JobStatement, _ db: Database) throws(JobError) -> String? {
        let target = try attachTarget(s, db)
        let schema = quoteIdentifier(target.schema)
        func attach(_ file: String) throws(JobError) {
            do {
                try db.attachingStandIn { () throws(SQLiteError) in
                    try db.execute("ATTACH DATABASE \(quoteLiteral(file)) AS \(schema)")
                }
            } catch {
                throw JobError(statement.location, error.message)
            }
        }
        guard let path = target.path else {
            try attach(":memory:")
            return nil
        }
        guard let status = Files.status(path) else {
            let dir = Files.parent(of: path)
            guard Files.isDirectory(dir) else {
                throw JobError(statement.location, "cannot attach \(path): directory \(dir) does not exist")
            }
            try attach(":memory:")
            return "checked against an empty in-memory database: \(path) does not exist yet, and eddy check does not create it"
        }
        guard status.isRegular else { throw JobError(statement.location, "cannot attach \(path): not a regular file") }
        let uri = Self.readOnlyURI(path)
        if status.size > Self.standInCopyLimit {
            try attach(uri)
            readOnlyStandIns.insert(target.schema.lowercased())
            return "attached read-only for the check (\(Units.formatBytes(status.size)) is too large to copy into memory)"
        }
        try attach(":memory:")
        do {
            let source = try Database(path: uri, readOnly: true)
            try db.copy(from: source, into: target.schema)
        } catch {
            throw JobError(statement.location, "cannot read \(path) to check against it: \(error.message)")
        }
        return "checked against an in-memory copy of \(path)"
    }

    /// Where `ATTACH [DATABASE] file AS schema` points: the file (nil for an
    /// in-memory database) and the schema name, each a literal, a name, or an
    /// expression SQLite evaluates.
    func attachTarget(_ s: SQLStatement, _ db: Database) throws(JobError) -> (path: String?, schema: String) {
        let text = s.sql.text
        let at = job.location(s.sql.offset)
        let tokens: [Token]
        do {
            tokens = try Lexer(text: text, map: LineMap(file: job.path, text: text)).tokenize()
        } catch {
            throw JobError(at, error.message)
        }
        var start = 1
        if start < tokens.count && tokens[start].isKeyword("DATABASE") { start += 1 }
        var depth = 0
        var asIndex: Int?
        var keyIndex: Int?
        for k in start..<tokens.count {
            if tokens[k].isPunct("(") { depth += 1 }
            if tokens[k].isPunct(")") { depth -= 1 }
            if depth == 0 && tokens[k].isKeyword("AS") { asIndex = k }
            if depth == 0 && tokens[k].isKeyword("KEY") && asIndex != nil { keyIndex = k }
        }
        guard let asIndex, asIndex > start, asIndex + 1 < (keyIndex ?? tokens.count) else {
            throw JobError(at, "expected ATTACH 'file' AS name")
        }
        func value(_ range: Range<Int>) throws(JobError) -> String {
            let part = tokens[range]
            if part.count == 1, let t = part.first, t.kind == .string || t.isName { return t.value }
            guard let first = part.first, let last = part.last else { throw JobError(at, "expected ATTACH 'file' AS name") }
            let expression = String(decoding: Array(text.utf8)[first.start..<last.end], as: UTF8.self)
            do {
                let result = try db.asJob { () throws(SQLiteError) in try db.scalar("SELECT (\(expression))") }
                guard case .text(let v)? = result else { throw JobError(at, "ATTACH needs a file name and a schema name as text") }
                return v
            } catch let e as SQLiteError {
                throw JobError(at, e.message)
            } catch let e as JobError {
                throw e
            } catch {
                throw JobError(at, "\(error)")
            }
        }
        let file = try value(start..<asIndex)
        let schema = try value((asIndex + 1)..<(keyIndex ?? tokens.count))
        return (Self.filePath(ofAttached: file), schema)
    }

    /// The file an ATTACH names, as SQLite reads it (a `file:` URI is
    /// decoded); nil for an in-memory or private temporary database.
    static func filePath(ofAttached name: String) -> String? {
        if name.isEmpty || name == ":memory:" { return nil }
        guard name.hasPrefix("file:") else { return name }
        var rest = Substring(name.dropFirst("file:".count))
        var query = Substring("")
        if let q = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            query = rest[q...]
            rest = rest[..<q]
        }
        if query.split(whereSeparator: { $0 == "?" || $0 == "&" }).contains("mode=memory") { return nil }
        if rest.hasPrefix("//") {
            // An authority: empty or "localhost", then the absolute path.
            let afterSlashes = rest.dropFirst(2)
            rest = afterSlashes.firstIndex(of: "/").map { afterSlashes[$0...] } ?? ""
        }
        let path = percentDecoded(String(rest))
        return path.isEmpty || path == ":memory:" ? nil : path
    }

    static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        while let c = utf8.popFirst() {
            if c == UInt8(ascii: "%"), utf8.count >= 2, let hi = hex(utf8[utf8.startIndex]),
               let lo = hex(utf8[utf8.startIndex + 1]) {
                bytes.append(hi << 4 | lo)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A URI that opens `path` without writing anything: read-only, and
    /// `immutable` unless the database's WAL files are already there (a
    /// read-only open would create them otherwise).
    static func readOnlyURI(_ path: String) -> String {
        var encoded = ""
        for b in path.utf8 {
            let c = Character(Unicode.Scalar(b))
            if b < 0x80 && (c.isLetter || c.isNumber || "/-_.~".contains(c)) {
                encoded.append(c)
            } else {
                encoded += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        let walReady = Files.exists(path + "-wal") && Files.exists(path + "-shm")
        return "file:\(encoded)?mode=ro" + (walReady ? "" : "&immutable=1")
    }

    // MARK: triggers

    /// A trigger on a table eddy writes (a source's, a stream's, a window's,
    /// a sink's) runs inside eddy's own statements, where the job policy
    /// applies to it too. Compiling those statements here finds a trigger
    /// that breaks the rules, or that does not compile, before a batch runs,
    /// and names the trigger.
    mutating func probeTriggers(_ db: Database) {
        let tables = plan.sources.map(\.name) + plan.streams.map(\.name) + plan.windows.map(\.name)
            + plan.sinks.filter { !$0.columns.isEmpty }.map(\.name)
        for table in tables {
            guard let triggers = plan.triggers[table.lowercased()], let first = triggers.first else { continue }
            let name = "main.\(quoteIdentifier(table))"
            for sql in ["INSERT INTO \(name) SELECT * FROM \(name)", "DELETE FROM \(name)"] {
                do {
                    _ = try db.prepare(sql, persistent: false)
                } catch {
                    let names = triggers.map { "\($0.name) (\($0.location))" }.joined(separator: ", ")
                    errors.append(JobError(first.location, "trigger on \(table): \(error.message) (triggers on \(table): \(names))"))
                    break
                }
            }
        }
    }
}
