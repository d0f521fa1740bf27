import EddyCore

/// Reads a job file: splits it into statements, parses eddy's own statements,
/// and classifies the SQLite ones by when they run. It collects every error
/// it can find in one pass, each with its `file:line:col`.
public enum JobParser {
    /// The largest job file eddy reads. A job is hand-written SQL; this is
    /// hundreds of times a large one, and bounds what checking and preparing
    /// it costs (lookup data belongs in an attached database or a source).
    public static let maxBytes: Int64 = 4 << 20
    /// The most statements a job may have. Each is prepared once and kept
    /// for the whole run, so this also bounds the memory a job's SQL holds.
    public static let maxStatements = 5_000

    public static func tooLarge(bytes: Int64) -> String {
        "the job file is \(Units.formatBytes(bytes)); eddy reads job files up to \(Units.formatBytes(maxBytes)) (put lookup data in an attached database or a file source)"
    }

    public static func parse(path: String, text: String) throws(JobErrors) -> Job {
        let map = LineMap(file: path, text: text)
        let utf8 = text.utf8
        if utf8.count > maxBytes {
            throw JobErrors([JobError(map.location(0), tooLarge(bytes: Int64(utf8.count)))])
        }
        // SQLite reads SQL as a C string: a NUL byte would silently end the
        // statement there (`SELECT count(*) \0 FROM t` runs as `SELECT count(*)`).
        if let nul = utf8.firstIndex(of: 0) {
            throw JobErrors([JobError(map.location(utf8.distance(from: utf8.startIndex, to: nul)),
                                      "the job file has a NUL byte here; a job file is text")])
        }
        let tokens: [Token]
        do {
            tokens = try Lexer(text: text, map: map).tokenize()
        } catch {
            throw JobErrors([error])
        }
        let bytes = Array(text.utf8)
        var statements: [JobStatement] = []
        var errors: [JobError] = []
        for group in split(tokens) {
            guard let first = group.first, let last = group.last else { continue }
            if statements.count + errors.count == maxStatements {
                errors.append(JobError(map.location(first.start), "the job has more than \(maxStatements) statements; eddy takes up to \(maxStatements) (put lookup data in an attached database or a file source)"))
                break
            }
            let fragment = SQLFragment(text: String(decoding: bytes[first.start..<last.end], as: UTF8.self), offset: first.start)
            var p = StatementParser(tokens: group, bytes: bytes, map: map)
            do {
                let kind = try p.parse()
                statements.append(JobStatement(kind: kind, text: fragment, location: map.location(first.start),
                                               index: statements.count + 1))
            } catch {
                errors.append(error)
            }
        }
        if statements.isEmpty && errors.isEmpty {
            errors.append(JobError(map.location(0), "the job file has no statements: a job needs at least a CREATE SOURCE and a query"))
        }
        if !errors.isEmpty { throw JobErrors(errors) }
        return Job(path: path, text: text, statements: statements, lines: map)
    }

    /// Groups tokens into statements at `;`. Inside a trigger body (between
    /// BEGIN and its END) semicolons do not end the statement; CASE ... END
    /// pairs inside it are counted so they are not taken for the body's END.
    static func split(_ tokens: [Token]) -> [[Token]] {
        var groups: [[Token]] = []
        var current: [Token] = []
        var isTrigger = false
        var inBody = false
        var caseDepth = 0
        for token in tokens {
            if token.isPunct(";") && !(isTrigger && inBody) {
                if !current.isEmpty { groups.append(current) }
                current = []
                isTrigger = false
                inBody = false
                caseDepth = 0
                continue
            }
            if current.isEmpty {
                isTrigger = false
            }
            current.append(token)
            if current.count <= 3 && token.isKeyword("TRIGGER") && current.first?.isKeyword("CREATE") == true {
                isTrigger = true
            }
            guard isTrigger else { continue }
            if token.isKeyword("BEGIN") && !inBody {
                inBody = true
            } else if inBody && token.isKeyword("CASE") {
                caseDepth += 1
            } else if inBody && token.isKeyword("END") {
                if caseDepth > 0 { caseDepth -= 1 } else { inBody = false }
            }
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }
}

/// Parses one statement's tokens.
struct StatementParser {
    let tokens: [Token]
    let bytes: [UInt8]
    let map: LineMap
    var i = 0

    init(tokens: [Token], bytes: [UInt8], map: LineMap) {
        self.tokens = tokens
        self.bytes = bytes
        self.map = map
    }

    var atEnd: Bool { i >= tokens.count }
    var peek: Token? { i < tokens.count ? tokens[i] : nil }

    func loc(_ t: Token) -> SourceLocation { map.location(t.start) }
    var endLocation: SourceLocation { map.location(tokens.last?.end ?? 0) }

    func text(from start: Int, to end: Int) -> String { String(decoding: bytes[start..<end], as: UTF8.self) }

    /// The rest of the statement from token `k` on.
    func rest(from k: Int) -> SQLFragment? {
        guard k < tokens.count, let last = tokens.last else { return nil }
        return SQLFragment(text: text(from: tokens[k].start, to: last.end), offset: tokens[k].start)
    }

    func error(_ message: String, at token: Token? = nil) -> JobError {
        JobError(token.map(loc) ?? endLocation, message)
    }

    mutating func expectKeyword(_ k: String, _ context: String) throws(JobError) {
        guard let t = peek else { throw error("expected \(k) \(context), found the end of the statement") }
        guard t.isKeyword(k) else { throw error("expected \(k) \(context), found '\(t.value)'", at: t) }
        i += 1
    }

    mutating func expectPunct(_ p: String, _ context: String) throws(JobError) {
        guard let t = peek else { throw error("expected '\(p)' \(context), found the end of the statement") }
        guard t.isPunct(p) else { throw error("expected '\(p)' \(context), found '\(t.value)'", at: t) }
        i += 1
    }

    mutating func name(_ what: String) throws(JobError) -> Name {
        guard let t = peek else { throw error("expected \(what), found the end of the statement") }
        guard t.isName else { throw error("expected \(what), found '\(t.value)'", at: t) }
        i += 1
        return Name(value: t.value, location: loc(t))
    }

    mutating func expectEnd(_ context: String) throws(JobError) {
        if let t = peek { throw error("unexpected '\(t.value)' \(context)", at: t) }
    }

    mutating func parse() throws(JobError) -> JobStatement.Kind {
        guard let first = peek else { throw error("empty statement") }
        if first.isKeyword("SET") { return try parseSet() }
        if first.isKeyword("CREATE"), tokens.count > 1 {
            let second = tokens[1]
            if second.isKeyword("SOURCE") { i = 2; return .source(try parseSource()) }
            if second.isKeyword("STREAM") { i = 2; return .stream(try parseStream()) }
            if second.isKeyword("WINDOW") { i = 2; return .window(try parseWindow()) }
            if second.isKeyword("SINK") { i = 2; return .sink(try parseSink()) }
            if second.isKeyword("STATE") {
                i = 2
                try expectKeyword("TABLE", "after CREATE STATE")
                return .stateTable(try parseStateTable())
            }
        }
        return .sql(try parseSQL())
    }

    // MARK: SET

    mutating func parseSet() throws(JobError) -> JobStatement.Kind {
        i = 1
        let key = try name("a setting name after SET")
        guard let eq = peek, eq.isPunct("=") || eq.isKeyword("TO") else {
            throw error("expected '=' after SET \(key.value)", at: peek)
        }
        i += 1
        guard let valueToken = peek, let last = tokens.last else { throw error("expected a value after SET \(key.value) =") }
        let value: String
        if valueToken.kind == .string && i == tokens.count - 1 {
            value = valueToken.value
        } else {
            value = text(from: valueToken.start, to: last.end)
        }
        return .set(key: key, value: value, valueLocation: loc(valueToken))
    }

    // MARK: CREATE SOURCE

    mutating func parseSource() throws(JobError) -> SourceStatement {
        let n = try name("a source name after CREATE SOURCE")
        var columns: [(String, String)] = []
        if let t = peek, t.isPunct("(") {
            columns = try parseColumns(for: "source \(n.value)")
        }
        guard let w = peek, w.isKeyword("WITH") else {
            throw error("expected WITH (connector = ...) after CREATE SOURCE \(n.value)", at: peek)
        }
        i += 1
        let options = try parseOptions()
        try expectEnd("after the WITH (...) options")
        return SourceStatement(name: n, columns: columns, options: options, withLocation: loc(w))
    }

    /// `(name TYPE, name TYPE, ...)`.
    mutating func parseColumns(for what: String) throws(JobError) -> [(String, String)] {
        try expectPunct("(", "to start the column list")
        var columns: [(String, String)] = []
        var seen: Set<String> = []
        while true {
            let col = try name("a column name")
            if col.key.hasPrefix("_") && ["_shard", "_seq", "_arrival_ms", "_raw"].contains(col.key) {
                throw JobError(col.location, "column name '\(col.value)' is reserved: eddy adds _shard, _seq, _arrival_ms (and _raw for jsonl) itself")
            }
            guard seen.insert(col.key).inserted else { throw JobError(col.location, "column '\(col.value)' is declared twice in \(what)") }
            var depth = 0
            let typeStart = i
            while let t = peek {
                if t.isPunct("(") { depth += 1 }
                if t.isPunct(")") {
                    if depth == 0 { break }
                    depth -= 1
                }
                if t.isPunct(",") && depth == 0 { break }
                i += 1
            }
            let type = typeStart < i ? text(from: tokens[typeStart].start, to: tokens[i - 1].end) : ""
            columns.append((col.value, type))
            guard let t = peek else { throw error("expected ')' to close the column list") }
            i += 1
            if t.isPunct(")") { break }
        }
        return columns
    }

    /// `(key = value, ...)`.
    mutating func parseOptions() throws(JobError) -> [WithOption] {
        try expectPunct("(", "after WITH")
        var options: [WithOption] = []
        if let t = peek, t.isPunct(")") {
            i += 1
            return options
        }
        while true {
            guard let k = peek, k.isName || k.kind == .string else {
                throw error("expected an option name", at: peek)
            }
            i += 1
            try expectPunct("=", "after option \(k.value)")
            guard let v = peek else { throw error("expected a value for option \(k.value)") }
            var value: String
            switch v.kind {
            case .string, .number, .word, .quotedName:
                value = v.value
                i += 1
            case .punctuation where v.value == "-" && i + 1 < tokens.count && tokens[i + 1].kind == .number:
                value = "-" + tokens[i + 1].value
                i += 2
            default:
                throw error("expected a value for option \(k.value), found '\(v.value)'", at: v)
            }
            // A number written with its unit, like 200ms, lexes as two tokens.
            // tokens[i - 1] is the number itself, also after a leading '-'.
            if tokens[i - 1].kind == .number, let u = peek, u.kind == .word, u.start == tokens[i - 1].end {
                value += u.value
                i += 1
            }
            let key = k.value.lowercased()
            if options.contains(where: { $0.key == key }) {
                throw error("option '\(key)' is given twice", at: k)
            }
            options.append(WithOption(key: key, value: value, keyLocation: loc(k), valueLocation: loc(v)))
            guard let sep = peek else { throw error("expected ')' to close the options") }
            i += 1
            if sep.isPunct(")") { break }
            guard sep.isPunct(",") else { throw error("expected ',' or ')' in the options, found '\(sep.value)'", at: sep) }
        }
        return options
    }

    // MARK: CREATE STREAM

    mutating func parseStream() throws(JobError) -> StreamStatement {
        let n = try name("a stream name after CREATE STREAM")
        try expectKeyword("AS", "after CREATE STREAM \(n.value)")
        guard let q = peek, let query = rest(from: i) else { throw error("expected a query after AS") }
        guard q.isKeyword("SELECT") || q.isKeyword("WITH") || q.isKeyword("VALUES") else {
            throw error("a stream is defined by a query: expected SELECT after AS, found '\(q.value)'", at: q)
        }
        return StreamStatement(name: n, query: query)
    }

    // MARK: CREATE WINDOW

    mutating func parseWindow() throws(JobError) -> WindowStatement {
        let n = try name("a window name after CREATE WINDOW")
        try expectKeyword("ON", "after CREATE WINDOW \(n.value)")
        let parent = try name("the stream the window is over")
        try expectKeyword("RANGE", "after CREATE WINDOW \(n.value) ON \(parent.value)")
        let (range, rangeLoc) = try durationValue("RANGE")
        var slide: String?
        var slideLoc: SourceLocation?
        if let t = peek, t.isKeyword("SLIDE") {
            i += 1
            let (s, l) = try durationValue("SLIDE")
            slide = s
            slideLoc = l
        }
        try expectEnd("after the window definition")
        return WindowStatement(name: n, parent: parent, range: range, rangeLocation: rangeLoc, slide: slide, slideLocation: slideLoc)
    }

    /// `'30s'`, or `30s` / `30 s` unquoted.
    mutating func durationValue(_ what: String) throws(JobError) -> (String, SourceLocation) {
        guard let t = peek else { throw error("expected a duration after \(what), like '30s'") }
        if t.kind == .string {
            i += 1
            return (t.value, loc(t))
        }
        if t.kind == .number {
            i += 1
            var value = t.value
            if let u = peek, u.kind == .word, !u.isKeyword("SLIDE") {
                value += u.value
                i += 1
            }
            return (value, loc(t))
        }
        throw error("expected a duration after \(what), like '30s'", at: t)
    }

    // MARK: CREATE STATE TABLE

    mutating func parseStateTable() throws(JobError) -> StateTableStatement {
        let n = try name("a table name after CREATE STATE TABLE")
        guard let open = peek, open.isPunct("(") else {
            throw error("expected a column list after CREATE STATE TABLE \(n.value), like (key TEXT PRIMARY KEY, n INTEGER)", at: peek)
        }
        var depth = 0
        var end = i
        var initialAt: Int?
        while end < tokens.count {
            let t = tokens[end]
            if t.isPunct("(") { depth += 1 }
            if t.isPunct(")") { depth -= 1 }
            if depth == 0 && t.isKeyword("INITIAL") {
                initialAt = end
                break
            }
            end += 1
        }
        let definitionEnd = tokens[(initialAt ?? tokens.count) - 1].end
        let definition = SQLFragment(text: text(from: open.start, to: definitionEnd), offset: open.start)
        var initial: SQLFragment?
        if let initialAt {
            i = initialAt + 1
            try expectKeyword("AS", "after INITIAL")
            guard let q = peek, let query = rest(from: i) else { throw error("expected a query after INITIAL AS") }
            guard q.isKeyword("SELECT") || q.isKeyword("WITH") || q.isKeyword("VALUES") else {
                throw error("expected SELECT after INITIAL AS, found '\(q.value)'", at: q)
            }
            initial = query
        }
        return StateTableStatement(name: n, definition: definition, initial: initial)
    }

    // MARK: CREATE SINK

    mutating func parseSink() throws(JobError) -> SinkStatement {
        let n = try name("a sink name after CREATE SINK")
        guard let w = peek, w.isKeyword("WITH") else {
            throw error("expected WITH (connector = ...) after CREATE SINK \(n.value)", at: peek)
        }
        i += 1
        let options = try parseOptions()
        try expectEnd("after the WITH (...) options")
        return SinkStatement(name: n, options: options, withLocation: loc(w))
    }

    // MARK: SQLite statements

    static let startKeywords: Set<String> = ["CREATE", "DROP", "ALTER", "PRAGMA", "ATTACH", "DETACH", "ANALYZE", "REINDEX", "EXPLAIN"]
    static let batchKeywords: Set<String> = ["SELECT", "VALUES", "INSERT", "REPLACE", "UPDATE", "DELETE", "WITH"]
    mutating func parseSQL() throws(JobError) -> SQLStatement {
        guard let first = peek, let whole = rest(from: 0) else { throw error("empty statement") }
        let keyword = first.value.uppercased()
        // BEGIN, COMMIT, SAVEPOINT and the like are refused by SQLite's
        // authorizer when the statement is compiled (EddySQL's JobSQLPolicy).
        if keyword == "VACUUM" && first.kind == .word {
            throw error("VACUUM cannot run inside eddy's batch transactions; remove it", at: first)
        }
        if keyword == "CREATE", tokens.count > 1 {
            var k = 1
            if tokens[k].isKeyword("TEMP") || tokens[k].isKeyword("TEMPORARY") { k += 1 }
            let known = ["TABLE", "VIEW", "INDEX", "UNIQUE", "TRIGGER", "VIRTUAL"]
            if k >= tokens.count || !known.contains(where: { tokens[k].isKeyword($0) }) {
                let what = k < tokens.count ? tokens[k].value : ""
                throw error("unknown statement CREATE \(what): eddy has CREATE SOURCE, STREAM, WINDOW, STATE TABLE and SINK; SQLite has CREATE TABLE, VIEW, INDEX and TRIGGER",
                            at: k < tokens.count ? tokens[k] : first)
            }
        }
        let phase: SQLStatement.Phase = Self.startKeywords.contains(keyword) ? .start : .perBatch
        var statement = SQLStatement(sql: whole, phase: phase, keyword: keyword, insertTarget: nil)
        if phase == .perBatch { statement.insertTarget = insertTarget() }
        return statement
    }

    /// For INSERT/REPLACE (possibly after a WITH clause): the target table and
    /// the query that makes the rows.
    func insertTarget() -> InsertTarget? {
        guard let first = tokens.first else { return nil }
        var main: Int?
        if first.isKeyword("INSERT") || first.isKeyword("REPLACE") {
            main = 0
        } else if first.isKeyword("WITH") {
            // Skip the common table expressions: the main verb is the first
            // one outside parentheses.
            var depth = 0
            for k in 1..<tokens.count {
                let t = tokens[k]
                if t.isPunct("(") { depth += 1; continue }
                if t.isPunct(")") { depth -= 1; continue }
                guard depth == 0 else { continue }
                if t.isKeyword("INSERT") || t.isKeyword("REPLACE") { main = k; break }
                if t.isKeyword("SELECT") || t.isKeyword("UPDATE") || t.isKeyword("DELETE") || t.isKeyword("VALUES") { return nil }
            }
        }
        guard let main else { return nil }
        var j = main + 1
        while j < tokens.count && !tokens[j].isKeyword("INTO") { j += 1 }
        j += 1
        guard j < tokens.count, tokens[j].isName else { return nil }
        var nameToken = tokens[j]
        j += 1
        if j + 1 < tokens.count && tokens[j].isPunct(".") && tokens[j + 1].isName {
            nameToken = tokens[j + 1]
            j += 2
        }
        if j < tokens.count && tokens[j].isKeyword("AS") { j += 2 }
        var columns: [String]?
        if j < tokens.count && tokens[j].isPunct("(") {
            var names: [String] = []
            j += 1
            while j < tokens.count && !tokens[j].isPunct(")") {
                if tokens[j].isName { names.append(tokens[j].value) }
                j += 1
            }
            j += 1
            columns = names
        }
        guard j < tokens.count, let last = tokens.last else { return nil }
        let prefix = main > 0 ? text(from: tokens[0].start, to: tokens[main - 1].end) + " " : ""
        let query = SQLFragment(text: prefix + text(from: tokens[j].start, to: last.end),
                                offset: main > 0 ? tokens[0].start : tokens[j].start)
        var split: InsertSplit?
        if tokens[j].isKeyword("SELECT") || tokens[j].isKeyword("WITH") {
            // The query ends where, outside parentheses, the upsert clause or
            // RETURNING begins. (SQLite needs a WHERE before an upsert's ON,
            // so a join's ON never stands there.)
            var depth = 0
            var end = tokens.count
            for k in j..<tokens.count {
                let t = tokens[k]
                if t.isPunct("(") { depth += 1; continue }
                if t.isPunct(")") { depth -= 1; continue }
                guard depth == 0 else { continue }
                if t.isKeyword("RETURNING") || (t.isKeyword("ON") && k + 1 < tokens.count && tokens[k + 1].isKeyword("CONFLICT")) {
                    end = k
                    break
                }
            }
            if end > j {
                split = InsertSplit(verb: text(from: tokens[main].start, to: tokens[j - 1].end),
                                    rows: SQLFragment(text: prefix + text(from: tokens[j].start, to: tokens[end - 1].end),
                                                      offset: main > 0 ? tokens[0].start : tokens[j].start),
                                    tail: end < tokens.count ? text(from: tokens[end].start, to: last.end) : "")
            }
        }
        return InsertTarget(name: Name(value: nameToken.value, location: map.location(nameToken.start)),
                            query: query, columns: columns, split: split)
    }
}
