import EddyCore
@testable import EddyJob
import Testing

private func one(_ text: String) throws -> JobStatement.Kind {
    let kinds = try JobParser.parse(path: "job.sql", text: text).statements.map(\.kind)
    #expect(kinds.count == 1)
    return try #require(kinds.first)
}

private func sql(_ text: String) throws -> SQLStatement? {
    if case .sql(let s) = try one(text) { return s }
    Issue.record("not a SQLite statement: \(text)")
    return nil
}

private func firstError(_ text: String) -> JobError? {
    do {
        _ = try JobParser.parse(path: "job.sql", text: text)
        Issue.record("expected an error for: \(text)")
        return nil
    } catch {
        return error.errors.first
    }
}

@Suite("JobParser: STREAM, WINDOW, STATE TABLE and SQLite statements")
struct QueryStatementTests {
    @Test func createStream() throws {
        let text = "CREATE STREAM words AS\n  SELECT value AS word FROM lines, split(lines.line, ' ')"
        guard case .stream(let s) = try one(text) else { Issue.record("not a stream"); return }
        #expect(s.name.value == "words")
        #expect(s.query.text == "SELECT value AS word FROM lines, split(lines.line, ' ')")
        #expect(s.query.offset == 25)
        guard case .stream(let w) = try one("CREATE STREAM x AS WITH a AS (SELECT 1) SELECT * FROM a") else { Issue.record("not a stream"); return }
        #expect(w.query.text == "WITH a AS (SELECT 1) SELECT * FROM a")
        #expect(firstError("CREATE STREAM x AS INSERT INTO y SELECT 1")?.message
                == "a stream is defined by a query: expected SELECT after AS, found 'INSERT'")
        #expect(firstError("CREATE STREAM x SELECT 1")?.message == "expected AS after CREATE STREAM x, found 'SELECT'")
        #expect(firstError("CREATE STREAM x AS")?.message == "expected a query after AS")
    }

    func window(_ text: String) throws -> WindowStatement? {
        if case .window(let w) = try one(text) { return w }
        Issue.record("not a window: \(text)")
        return nil
    }

    @Test func createWindow() throws {
        let quotedParsed = try window("CREATE WINDOW w ON words RANGE '30s' SLIDE '10s'")
        let quoted = try #require(quotedParsed)
        #expect(quoted.name.value == "w")
        #expect(quoted.parent.value == "words")
        #expect(quoted.range == "30s")
        #expect(quoted.slide == "10s")
        #expect(quoted.rangeLocation.column == 32)
        #expect(quoted.slideLocation?.column == 44)

        let unquotedParsed = try window("CREATE WINDOW w ON words RANGE 30s SLIDE 10 s")
        let unquoted = try #require(unquotedParsed)
        #expect(unquoted.range == "30s")
        #expect(unquoted.slide == "10s")

        let noSlideParsed = try window("create window w on words range 1m")
        let noSlide = try #require(noSlideParsed)
        #expect(noSlide.range == "1m")
        #expect(noSlide.slide == nil)
        #expect(noSlide.slideLocation == nil)

        let bareParsed = try window("CREATE WINDOW w ON words RANGE 30 SLIDE '5s'")
        let bare = try #require(bareParsed)
        #expect(bare.range == "30", "a missing unit is left for the planner to report")
        #expect(bare.slide == "5s")
    }

    @Test func windowErrors() {
        #expect(firstError("CREATE WINDOW w ON words")?.message == "expected RANGE after CREATE WINDOW w ON words, found the end of the statement")
        #expect(firstError("CREATE WINDOW w ON words RANGE")?.message == "expected a duration after RANGE, like '30s'")
        #expect(firstError("CREATE WINDOW w ON words RANGE '1m' SLIDE")?.message == "expected a duration after SLIDE, like '30s'")
        #expect(firstError("CREATE WINDOW w ON words RANGE x")?.message == "expected a duration after RANGE, like '30s'")
        #expect(firstError("CREATE WINDOW w ON words RANGE '1m' EVERY '1s'")?.message == "unexpected 'EVERY' after the window definition")
    }

    @Test func createStateTable() throws {
        let text = "CREATE STATE TABLE totals (word TEXT PRIMARY KEY, n INTEGER CHECK (n >= 0)) INITIAL AS SELECT 'a', 0"
        guard case .stateTable(let s) = try one(text) else { Issue.record("not a state table"); return }
        #expect(s.name.value == "totals")
        #expect(s.definition.text == "(word TEXT PRIMARY KEY, n INTEGER CHECK (n >= 0))")
        #expect(s.definition.offset == 26)
        #expect(s.initial?.text == "SELECT 'a', 0")

        guard case .stateTable(let plain) = try one("CREATE STATE TABLE seen (k TEXT PRIMARY KEY) WITHOUT ROWID") else {
            Issue.record("not a state table"); return
        }
        #expect(plain.definition.text == "(k TEXT PRIMARY KEY) WITHOUT ROWID")
        #expect(plain.initial == nil)

        #expect(firstError("CREATE STATE seen (k)")?.message == "expected TABLE after CREATE STATE, found 'seen'")
        #expect(firstError("CREATE STATE TABLE seen AS SELECT 1")?.message.hasPrefix("expected a column list after CREATE STATE TABLE seen") == true)
        #expect(firstError("CREATE STATE TABLE seen (k) INITIAL SELECT 1")?.message == "expected AS after INITIAL, found 'SELECT'")
        #expect(firstError("CREATE STATE TABLE seen (k) INITIAL AS DELETE FROM x")?.message == "expected SELECT after INITIAL AS, found 'DELETE'")
    }

    @Test("start-phase statements", arguments: [
        "CREATE TABLE t(a)", "CREATE TEMP TABLE t(a)", "CREATE INDEX i ON t(a)", "CREATE UNIQUE INDEX i ON t(a)",
        "CREATE VIEW v AS SELECT 1", "CREATE VIRTUAL TABLE f USING fts5(x)", "DROP TABLE t", "ALTER TABLE t ADD b",
        "PRAGMA cache_size = 10", "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END",
    ])
    func startPhase(text: String) throws {
        let sParsed = try sql(text)
        let s = try #require(sParsed)
        #expect(s.phase == .start)
        #expect(s.insertTarget == nil)
        #expect(s.sql.text == text)
    }

    @Test("per-batch statements", arguments: [
        ("SELECT 1", "SELECT"), ("select 1", "SELECT"), ("VALUES (1)", "VALUES"), ("INSERT INTO t SELECT 1", "INSERT"),
        ("REPLACE INTO t VALUES (1)", "REPLACE"), ("UPDATE t SET a = 1", "UPDATE"), ("DELETE FROM t", "DELETE"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH"),
    ])
    func perBatch(text: String, keyword: String) throws {
        let sParsed = try sql(text)
        let s = try #require(sParsed)
        #expect(s.phase == .perBatch)
        #expect(s.keyword == keyword)
    }

    /// BEGIN, COMMIT and the like are SQL the parser passes on: SQLite's
    /// authorizer refuses them when the planner compiles them (JobPolicyTests,
    /// HostileJobTests), by what SQLite parsed rather than by their text.
    @Test func transactionsAreLeftToTheAuthorizer() throws {
        for keyword in ["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT x", "RELEASE x", "begin transaction"] {
            let parsed = try sql(keyword)
            #expect(try #require(parsed).phase == .perBatch, "\(keyword)")
        }
        #expect(firstError("VACUUM")?.message == "VACUUM cannot run inside eddy's batch transactions; remove it")
    }

    @Test func unknownCreateIsAnError() throws {
        let e = firstError("CREATE  FOO bar AS SELECT 1")
        #expect(e?.message.hasPrefix("unknown statement CREATE FOO: eddy has CREATE SOURCE, STREAM, WINDOW, STATE TABLE and SINK") == true)
        #expect(e?.location.column == 9)
        #expect(firstError("CREATE TEMP STREAM s AS SELECT 1")?.message.hasPrefix("unknown statement CREATE STREAM") == true)
        let lone = try sql("CREATE")
        #expect(lone?.phase == .start, "a lone CREATE is left to SQLite to report")
    }

    func target(_ text: String) throws -> InsertTarget? {
        try sql(text)?.insertTarget
    }

    @Test func insertTargets() throws {
        let plainParsed = try target("INSERT INTO totals SELECT word, count(*) FROM words GROUP BY word")
        let plain = try #require(plainParsed)
        #expect(plain.name.value == "totals")
        #expect(plain.name.location.column == 13)
        #expect(plain.query.text == "SELECT word, count(*) FROM words GROUP BY word")
        #expect(plain.query.offset == 19)
        #expect(plain.columns == nil)

        let listedParsed = try target("INSERT INTO out(a, \"b c\") SELECT 1, 2")
        let listed = try #require(listedParsed)
        #expect(listed.name.value == "out")
        #expect(listed.columns == ["a", "b c"])
        #expect(listed.query.text == "SELECT 1, 2")

        let withParsed = try target("WITH c AS (SELECT 1 AS a, (SELECT 2) AS b) INSERT INTO x SELECT a FROM c")
        let with = try #require(withParsed)
        #expect(with.name.value == "x")
        #expect(with.query.text == "WITH c AS (SELECT 1 AS a, (SELECT 2) AS b) SELECT a FROM c")
        #expect(with.query.offset == 0)

        let orReplaceParsed = try target("INSERT OR REPLACE INTO main.kv VALUES ('k', 1)")
        let orReplace = try #require(orReplaceParsed)
        #expect(orReplace.name.value == "kv")
        #expect(orReplace.query.text == "VALUES ('k', 1)")

        let replaceParsed = try target("REPLACE INTO kv (k, v) VALUES (1, 2)")
        let replace = try #require(replaceParsed)
        #expect(replace.name.value == "kv")
        #expect(replace.columns == ["k", "v"])

        let quotedParsed = try target("INSERT INTO \"my sink\" AS s SELECT 1")
        let quoted = try #require(quotedParsed)
        #expect(quoted.name.value == "my sink")
        #expect(quoted.query.text == "SELECT 1")
    }

    @Test func noInsertTarget() throws {
        #expect(try target("SELECT replace(a, 'b', 'c') FROM t") == nil)
        #expect(try target("WITH c AS (SELECT 1) SELECT * FROM c") == nil)
        #expect(try target("WITH c AS (INSERT INTO x SELECT 1) SELECT 1") == nil, "only the main verb counts")
        #expect(try target("UPDATE t SET a = replace(a, 'x', 'y')") == nil)
        #expect(try target("DELETE FROM t") == nil)
        #expect(try target("INSERT INTO t DEFAULT VALUES")?.name.value == "t")
    }
}
