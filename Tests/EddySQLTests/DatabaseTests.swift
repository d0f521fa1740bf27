import CSQLite
@testable import EddySQL
import Testing

@Suite("Database, Statement and access tracing")
struct DatabaseTests {
    let db: Database

    init() throws {
        db = try Database(path: "")
        try db.execute("""
            CREATE TABLE t(id INTEGER, a TEXT);
            CREATE TABLE u(id INTEGER, b TEXT);
            CREATE TABLE w(x);
            CREATE VIEW v AS SELECT id, a FROM t WHERE id > 0;
            INSERT INTO t VALUES (1, 'one'), (2, 'two');
            INSERT INTO u VALUES (1, 'uno');
            """)
    }

    func access(_ sql: String) throws -> TableAccess {
        try db.prepareTracingAccess(sql).1
    }

    @Test func plainSelectReads() throws {
        let a = try access("SELECT a FROM t")
        #expect(a.reads == ["t"])
        #expect(a.writes.isEmpty)
    }

    /// split() is a virtual table that declares its columns when a statement
    /// first uses it; that declaration is not a write by the statement (it
    /// once read as a write to sqlite_master, and kept word counts off lanes).
    @Test func splitReadsItsInputAndWritesNothing() throws {
        let a = try access("SELECT s.value, count(*) FROM t, split(t.a, ' ') AS s GROUP BY s.value")
        #expect(a.reads.contains("t"), "\(a)")
        #expect(a.writes.isEmpty, "\(a)")
        #expect(a.writtenSchemas.isEmpty && a.ddlSchemas.isEmpty, "\(a)")
    }

    @Test func joinReadsBoth() throws {
        #expect(try access("SELECT t.a, u.b FROM t JOIN u ON t.id = u.id").reads == ["t", "u"])
        #expect(try access("SELECT * FROM T, U").reads == ["t", "u"], "names are lowercased")
    }

    @Test func subqueryReads() throws {
        #expect(try access("SELECT a FROM t WHERE id IN (SELECT id FROM u)").reads == ["t", "u"])
        #expect(try access("SELECT (SELECT count(*) FROM w), a FROM t").reads == ["t", "w"])
        #expect(try access("WITH c AS (SELECT b FROM u) SELECT * FROM c").reads == ["u"])
    }

    @Test func viewReadsItsTables() throws {
        let a = try access("SELECT * FROM v")
        #expect(a.reads.contains("t"))
        #expect(!a.reads.contains("u"))
    }

    @Test func countStarReadsTheTable() throws {
        // SQLite reports a table that is read for no column with an empty column name.
        #expect(try access("SELECT count(*) FROM t").reads == ["t"])
        #expect(try access("SELECT 1 FROM u").reads == ["u"])
    }

    @Test func constantSelectReadsNothing() throws {
        let a = try access("SELECT 1 + 2, upper('x')")
        #expect(a.reads.isEmpty)
        #expect(a.functions.contains("upper"))
    }

    @Test func writes() throws {
        let insert = try access("INSERT INTO w SELECT a FROM t")
        #expect(insert.writes == ["w"])
        #expect(insert.reads == ["t"])
        #expect(try access("INSERT INTO w VALUES (1)").writes == ["w"])
        let update = try access("UPDATE t SET a = 'x' WHERE id = 1")
        #expect(update.writes == ["t"])
        #expect(try access("DELETE FROM u WHERE id > 5").writes == ["u"])
        #expect(try access("DELETE FROM u").writes == ["u"])
    }

    @Test func functionsAreReported() throws {
        #expect(try access("SELECT batch_time(), lower(a) FROM t WHERE a REGEXP 'o'").functions.isSuperset(of: ["batch_time", "lower", "regexp"]))
    }

    @Test func eachTraceStartsFresh() throws {
        _ = try access("SELECT * FROM t")
        #expect(try access("SELECT * FROM u").reads == ["u"])
        _ = try db.prepare("SELECT * FROM w") // not traced
        #expect(try access("SELECT 1").reads.isEmpty)
    }

    @Test func syntaxErrorOffsetPointsAtTheBadToken() throws {
        let sql = "SELECT * FORM t"
        let error = try #require(sqlError(db, sql))
        #expect(error.message == "near \"FORM\": syntax error")
        #expect(error.offset == 9, "'FORM' starts at byte 9")
        #expect(error.sql == sql)
        let other = try #require(sqlError(db, "SELECT id,\n  nope FROM t"))
        #expect(other.message == "no such column: nope")
        #expect(other.offset == 13)
        let multiByte = try #require(sqlError(db, "SELECT 'é' FROM t WHERE )"))
        #expect(multiByte.offset == 25, "SQLite's offsets are in bytes")
    }

    @Test func oneStatementAtATime() throws {
        let error = try #require(sqlError(db, "SELECT 1; SELECT 2"))
        #expect(error.message == "expected one statement, found more")
        #expect(try rows(db, "SELECT 1; -- trailing comment\n /* and block */ ;") == [[i(1)]])
    }

    @Test func missingTableFailsAtPrepare() throws {
        let error = try #require(sqlError(db, "INSERT INTO nope VALUES (1)"))
        #expect(error.message == "no such table: nope")
    }

    @Test func constraintErrorsComeFromStep() throws {
        try db.execute("CREATE TABLE k(id INTEGER PRIMARY KEY)")
        let s = try db.prepare("INSERT INTO k VALUES (1)")
        try s.run()
        do {
            try s.run()
            Issue.record("a duplicate key must fail")
        } catch {
            #expect(error.code & 0xFF == SQLITE_CONSTRAINT)
            #expect(error.message.contains("UNIQUE constraint failed: k.id"))
        }
        #expect(try rows(db, "SELECT count(*) FROM k") == [[i(1)]])
    }

    @Test func isJSON() throws {
        let s = try db.prepare("SELECT json_group_array(a), group_concat(a), json_object('k', 1), json('[1]'), '[1]' FROM t")
        #expect(try s.step())
        #expect(s.isJSON(0))
        #expect(!s.isJSON(1))
        #expect(s.isJSON(2))
        #expect(s.isJSON(3))
        #expect(!s.isJSON(4), "text that looks like JSON is still text")
        #expect(s.string(0) == #"["one","two"]"#)
        s.reset()
    }

    @Test func valuesAndColumns() throws {
        let s = try db.prepare("SELECT 1, 2.5, 'x', x'00ff', NULL, id FROM t LIMIT 1")
        #expect(try s.step())
        #expect(s.row == [i(1), .real(2.5), t("x"), .blob([0, 255]), .null, i(1)])
        #expect(s.columnCount == 6)
        #expect(s.columnDeclaredType(5) == "INTEGER")
        #expect(s.isReadOnly)
        s.reset()
        #expect(try db.columns(of: "u").map(\.name) == ["id", "b"])
        #expect(try db.tableExists("T"))
        #expect(try db.tableExists("v"))
        #expect(try !db.tableExists("nope"))
        #expect(try db.scalar("SELECT count(*) FROM t") == i(2))
    }

    @Test func bindingRoundTrips() throws {
        let s = try db.prepare("SELECT ?1, ?2, ?3, ?4, ?5, typeof(?4)")
        try s.bind(1, Int64.min)
        try s.bind(2, -0.5)
        try s.bind(3, "ünï")
        try s.bind(4, "")
        try s.bind(5, SQLValue.blob([1, 2]))
        #expect(try s.step())
        #expect(s.row == [i(Int64.min), .real(-0.5), t("ünï"), t(""), .blob([1, 2]), t("text")], "'' is text, not NULL")
        s.reset()
    }

    /// A bind SQLite refuses is an error with SQLite's message and the
    /// parameter, never a statement run with the parameter left unset.
    @Test func aRefusedBindIsAnErrorWithSQLitesMessage() throws {
        let s = try db.prepare("SELECT ?1, :name")
        #expect(throws: SQLiteError.self) { try s.bind(3, Int64(1)) }
        do {
            try s.bind(3, "x")
            Issue.record("binding parameter 3 of 2 succeeded")
        } catch {
            #expect(error.code == SQLITE_RANGE)
            #expect(error.message == "cannot bind parameter 3: column index out of range")
        }
        // Longer than the connection's length limit: too big.
        let previous = sqlite3_limit(db.handle, SQLITE_LIMIT_LENGTH, 10)
        defer { sqlite3_limit(db.handle, SQLITE_LIMIT_LENGTH, previous) }
        do {
            try s.bind(2, String(repeating: "y", count: 11))
            Issue.record("an 11-byte text bound under a 10-byte limit")
        } catch {
            #expect(error.code == SQLITE_TOOBIG)
            #expect(error.message == "cannot bind parameter 2 :name: string or blob too big")
        }
        #expect(throws: SQLiteError.self) { try s.bind(2, SQLValue.blob([UInt8](repeating: 0, count: 11))) }
        // Within the limit, the same statement binds and runs.
        try s.bind(1, Int64(7))
        try s.bind(2, "short")
        #expect(try s.step())
        #expect(s.row == [i(7), t("short")])
        s.reset()
    }

    @Test func quoting() {
        #expect(quoteIdentifier("a\"b") == "\"a\"\"b\"")
        #expect(quoteLiteral("it's") == "'it''s'")
    }
}
