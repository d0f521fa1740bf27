import EddyCore
import EddyJob
import EddySQL

/// A word count, the first query a user writes, is `SELECT word, count(*)
/// FROM ... GROUP BY word`, and SQLite answers it by sorting every row: two
/// thirds of a lane's time go to that sort. For a per-batch query of that
/// shape, eddy counts the rows per key in a hash table (EddySQL's
/// `HashGroupCount`) and runs, instead of the query, one that reads the
/// groups from a table in key order:
///
///     SELECT batch_time() AS t, s.value AS word, count(*) AS n
///       FROM lines, split(lines.line, ' ') AS s GROUP BY s.value
///   becomes, after `SELECT s.value FROM lines, split(lines.line, ' ') AS s`
///   is counted into eddy_hash_line_N (k, n):
///     SELECT batch_time() AS "t", eddy_g.k AS "word", eddy_g.n AS "n"
///       FROM main.eddy_hash_line_N AS eddy_g ORDER BY eddy_g.k
///
/// The rows are the same, in the same order:
/// - the groups are SQLite's: the key is evaluated over the same FROM and
///   WHERE, and grouped as `GROUP BY` groups values with the BINARY
///   collation (a batch with a key that hashing could not group the same
///   way, a REAL or a BLOB, runs the query as written);
/// - SQLite's `GROUP BY` emits its groups in its sorter's order, and
///   `ORDER BY` over the groups sorts them with the same comparison;
/// - every column is the group's key, its `count(*)`, or an expression
///   that reads no column and no aggregate, which means the same in both;
/// - the columns keep the names SQLite gave them.
///
/// A query is rewritten only when all of this can be checked:
/// - a plain `SELECT ... FROM ... [WHERE ...] GROUP BY <one term> [ORDER BY
///   ...] [LIMIT ...]`: no WITH, DISTINCT, HAVING, WINDOW or compound, and
///   an ORDER BY only of result columns, one of them the key (see
///   `ordersTotally`);
/// - the term is not a column number, and the key query compiles (a term
///   that names a result alias does not: SQLite resolves a name to a column
///   of the FROM before an alias, and the query is left alone);
/// - SQLite's own program for the query opens one sorter, on one BINARY
///   key (`EXPLAIN`): the term's collation, and that nothing else sorts;
/// - it calls neither random() nor randomblob().
/// `SET hash_count = off` turns it off (tests compare both answers).
struct HashCounted {
    let counter: HashGroupCount
    /// The step's statement over the groups.
    let statement: Statement
}

extension Planner {
    /// The statement that reads `query`'s groups from a hash count, with
    /// `prefix` before it (`INSERT INTO main.s ` for a stream) and `suffix`
    /// after it (an upsert's `ON CONFLICT ...`), or nil when the query is not
    /// of the shape above.
    func hashCounted(_ query: SQLFragment, prefix: String = "", suffix: String = "", access: TableAccess,
                     location: SourceLocation, _ db: Database) -> HashCounted? {
        guard plan.settings.hashCount, access.functions.isDisjoint(with: ["random", "randomblob"]),
              let names = try? db.asJob({ () throws(SQLiteError) in try db.prepare(query.text, persistent: false) }).columnNames,
              let shape = GroupCountShape(query.text, columnNames: names), Self.sortsOnOneBinaryKey(shape.grouped, db) else { return nil }
        var columns: [String] = []
        for (item, name) in zip(shape.items, names) {
            let expression: String
            switch item {
            case .key: expression = "eddy_g.k"
            case .count: expression = "eddy_g.n"
            case .other(let text):
                // Compiles with no FROM, and in a WHERE: reads no column, and is no aggregate.
                let probe = "SELECT 1 WHERE (\(text)) IS NULL OR 1"
                guard (try? db.asJob({ () throws(SQLiteError) in try db.prepare(probe, persistent: false) })) != nil else { return nil }
                expression = "(\(text))"
            }
            columns.append("\(expression) AS \(quoteIdentifier(name))")
        }
        var table = "eddy_hash_line_\(location.line)"
        while true {
            // A name the job does not use; a failing lookup leaves the query as written.
            guard let taken = try? db.tableExists(table) else { return nil }
            if plan.relations[table] == nil && !taken { break }
            table += "_"
        }
        let qualified = "main.\(quoteIdentifier(table))"
        do {
            try db.execute("CREATE TABLE \(qualified) (k, n)")
        } catch {
            return nil
        }
        do {
            let counter = try HashGroupCount(keysSQL: shape.keysSQL, table: qualified, memoryLimit: Self.hashCountMemory(plan.settings),
                                             database: db)
            let sql = prefix + "SELECT " + columns.joined(separator: ", ") + " FROM \(qualified) AS eddy_g " + shape.orderBy
                + (shape.limit.isEmpty ? "" : " " + shape.limit) + suffix
            let statement = try db.asJob { () throws(SQLiteError) in try db.prepare(sql) }
            db.reserve(table: table, as: "eddy's hash count of line \(location.line)")
            return HashCounted(counter: counter, statement: statement)
        } catch {
            try? db.execute("DROP TABLE \(qualified)")
            return nil
        }
    }

    /// The most a lane's hash count may hold before a batch is left to
    /// SQLite's sort, which spills to disk instead: 32 × `sort_memory`,
    /// 64MB by default (half a million distinct ten-byte keys take about 32MB).
    static func hashCountMemory(_ settings: Settings) -> Int {
        Int(clamping: settings.sortMemory * 32)
    }

    /// Whether SQLite's program for `query` opens exactly one sorter, on one
    /// key with the BINARY collation (`k(1,B)`; a descending or NOCASE key
    /// reads otherwise).
    static func sortsOnOneBinaryKey(_ query: String, _ db: Database) -> Bool {
        guard let program = program(query, db) else { return false }
        let sorters = program.filter { ["SorterOpen", "OpenEphemeral", "OpenAutoindex"].contains($0.opcode) }
            .map { $0.opcode == "SorterOpen" ? $0.p4 : $0.opcode }
        return sorters == ["k(1,B)"]
    }

    /// SQLite's program for `sql` (`EXPLAIN`): each instruction's opcode and
    /// P4, where a sort's key reads `k(2,B,NOCASE)`; nil when it does not
    /// compile. What SQLite decided, rather than eddy's guess from the text.
    static func program(_ sql: String, _ db: Database) -> [(opcode: String, p4: String)]? {
        guard let explain = try? db.asJob({ () throws(SQLiteError) in try db.prepare("EXPLAIN " + sql, persistent: false) }) else {
            return nil
        }
        defer { explain.reset() }
        var instructions: [(opcode: String, p4: String)] = []
        do {
            while try explain.step() { instructions.append((explain.string(1) ?? "", explain.string(5) ?? "")) }
        } catch {
            return nil
        }
        return instructions
    }
}

/// The parts of `SELECT items FROM ... [WHERE ...] GROUP BY term` that a hash
/// count needs, from the query's tokens; nil for any other shape.
struct GroupCountShape {
    enum Item: Equatable {
        case key
        case count
        /// An expression that must read no column (checked by compiling it).
        case other(String)
    }

    var items: [Item]
    /// `SELECT term FROM ... [WHERE ...]`.
    var keysSQL: String
    /// The query without its `ORDER BY` and `LIMIT`: what SQLite groups.
    var grouped: String
    /// The query's `ORDER BY` (the key's order when it has none), and its
    /// `LIMIT ...` or "", for the query over the groups.
    var orderBy: String
    var limit: String

    /// `columnNames`: SQLite's names of the query's columns, which tell an
    /// alias without AS (`s.value word`) from an expression's last word
    /// (`x NOTNULL`).
    init?(_ text: String, columnNames: [String]) {
        guard let tokens = try? Lexer(text: text, map: LineMap(file: "", text: text)).tokenize(),
              let first = tokens.first, first.isKeyword("SELECT") else { return nil }
        let bytes = Array(text.utf8)
        func source(_ range: Range<Int>) -> String {
            guard let a = range.first, let b = range.last else { return "" }
            return String(decoding: bytes[tokens[a].start..<tokens[b].end], as: UTF8.self)
        }
        // Top-level clause keywords, by token index.
        var depth = 0
        var from: Int?
        var group: Int?
        var order: Int?
        var limit: Int?
        for (i, t) in tokens.enumerated() {
            if t.isPunct("(") { depth += 1; continue }
            if t.isPunct(")") { depth -= 1; continue }
            guard depth == 0, t.kind == .word else { continue }
            switch t.value.uppercased() {
            case "SELECT" where i > 0: return nil
            case "DISTINCT" where i == 1, "ALL" where i == 1: return nil
            case "FROM":
                // `a IS DISTINCT FROM b` is an operator, not the clause.
                if from != nil || (i > 0 && tokens[i - 1].isKeyword("DISTINCT")) { return nil }
                from = i
            case "GROUP":
                guard group == nil, i + 1 < tokens.count, tokens[i + 1].isKeyword("BY") else { return nil }
                group = i
            case "ORDER":
                guard group != nil, order == nil, limit == nil, i + 1 < tokens.count, tokens[i + 1].isKeyword("BY") else { return nil }
                order = i
            case "LIMIT":
                guard group != nil, limit == nil else { return nil }
                limit = i
            case "HAVING", "WINDOW", "UNION", "INTERSECT", "EXCEPT", "VALUES", "OVER", "FILTER":
                return nil
            default: break
            }
        }
        guard depth == 0, let from, let group, from > 1, group > from + 1 else { return nil }
        let termEnd = order ?? limit ?? tokens.count
        let term = Array(tokens[(group + 2)..<termEnd])
        guard !term.isEmpty, !(term.count == 1 && term[0].kind == .number),
              !Self.hasTopLevelComma(term[...]) else { return nil }

        var items: [Item] = []
        // Which columns an ORDER BY may name: see `ordersTotally`.
        var nameable: [Bool] = []
        var start = 1
        var d = 0
        for i in 1...from {
            let t = tokens[i]
            if t.isPunct("(") { d += 1 } else if t.isPunct(")") { d -= 1 }
            guard i == from || (d == 0 && t.isPunct(",")) else { continue }
            let item = Array(tokens[start..<i])
            guard !item.isEmpty, items.count < columnNames.count else { return nil }
            let expression = Self.withoutAlias(item, name: columnNames[items.count])
            guard !expression.isEmpty else { return nil }
            let columnReference = expression.enumerated().allSatisfy { j, t in j % 2 == 0 ? t.isName : t.isPunct(".") }
                && expression.count % 2 == 1 && expression.count <= 5
            nameable.append(expression.count < item.count || (columnReference && Self.same(expression, term)))
            if Self.same(expression, term) {
                items.append(.key)
            } else if Self.isCountStar(expression) {
                items.append(.count)
            } else {
                items.append(.other(String(decoding: bytes[expression[0].start..<expression[expression.count - 1].end], as: UTF8.self)))
            }
            start = i + 1
        }
        guard items.count == columnNames.count, items.contains(.count) else { return nil }
        self.items = items
        keysSQL = "SELECT " + source((group + 2)..<termEnd) + " " + source(from..<group)
        grouped = source(0..<termEnd)
        if let order {
            guard let key = items.firstIndex(of: .key),
                  Self.ordersTotally(Array(tokens[(order + 2)..<(limit ?? tokens.count)]), key: key, columnNames: columnNames,
                                     nameable: nameable)
            else { return nil }
            orderBy = source(order..<(limit ?? tokens.count))
        } else {
            orderBy = "ORDER BY eddy_g.k"
        }
        self.limit = limit.map { source($0..<tokens.count) } ?? ""
    }

    /// Whether an `ORDER BY` list sorts the groups the same over the groups
    /// table as over the query's own: each term is a column of the result,
    /// by its number or by a name that is one column's alone, with ASC, DESC
    /// and NULLS FIRST or LAST at most; and one term is the key, so that no
    /// two groups tie (on the groups table, ties would come out in another
    /// order). In the query over the groups every column has its name as an
    /// alias, so a name picks that column. In the query as written, SQLite
    /// reads a name as an alias first, then as a column of the FROM: so a
    /// name must be an alias there (`nameable`), or the key written as a
    /// column (`ORDER BY word` for `SELECT word, ...`). Any other name could
    /// mean something else there (`"count(*)"` would be a string).
    static func ordersTotally(_ tokens: [Token], key: Int, columnNames: [String], nameable: [Bool]) -> Bool {
        let lowered = columnNames.map { $0.lowercased() }
        guard Set(lowered).count == lowered.count, !tokens.isEmpty else { return false }
        var terms: [[Token]] = [[]]
        for t in tokens {
            if t.isPunct(",") { terms.append([]) } else { terms[terms.count - 1].append(t) }
        }
        var columns: [Int] = []
        for term in terms {
            guard let first = term.first else { return false }
            var rest = term.dropFirst().map { $0.kind == .word ? $0.value.uppercased() : "(\($0.value))" }
            if rest.first == "ASC" || rest.first == "DESC" { rest.removeFirst() }
            if rest == ["NULLS", "FIRST"] || rest == ["NULLS", "LAST"] { rest = [] }
            guard rest.isEmpty else { return false }
            if first.kind == .number, let n = Int(first.value), n >= 1, n <= columnNames.count {
                columns.append(n - 1)
            } else if first.isName, let i = lowered.firstIndex(of: first.value.lowercased()), nameable[i] {
                columns.append(i)
            } else {
                return false
            }
        }
        return columns.contains(key)
    }

    /// `count(*)`, in any case.
    static func isCountStar(_ e: [Token]) -> Bool {
        e.count == 4 && e[0].kind == .word && e[0].value.lowercased() == "count" && e[1].isPunct("(")
            && e[2].isPunct("*") && e[3].isPunct(")")
    }

    /// An item's expression: without `AS name`, or without a trailing bare
    /// name that SQLite named the column after (`s.value word`; the column
    /// of `1 NOTNULL` is named "1 NOTNULL", and NOTNULL is no alias).
    static func withoutAlias(_ item: [Token], name: String) -> [Token] {
        let n = item.count
        if n >= 3, item[n - 2].isKeyword("AS"), item[n - 1].isName { return Array(item[..<(n - 2)]) }
        if n >= 2, item[n - 1].isName, item[n - 1].value == name, !item[n - 2].isPunct(".") {
            return Array(item[..<(n - 1)])
        }
        return item
    }

    /// Token by token; names without regard to case, as SQLite reads them.
    static func same(_ a: [Token], _ b: [Token]) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) {
            guard x.kind == y.kind else { return false }
            if x.kind == .word || x.kind == .quotedName {
                guard x.value.lowercased() == y.value.lowercased() else { return false }
            } else if x.value != y.value {
                return false
            }
        }
        return true
    }

    static func hasTopLevelComma(_ tokens: ArraySlice<Token>) -> Bool {
        var depth = 0
        for t in tokens {
            if t.isPunct("(") { depth += 1 } else if t.isPunct(")") { depth -= 1 } else if depth == 0 && t.isPunct(",") { return true }
        }
        return false
    }
}
