import EddyCore
@testable import EddyJob
import Testing

private func parse(_ text: String) throws -> [JobStatement.Kind] {
    try JobParser.parse(path: "job.sql", text: text).statements.map(\.kind)
}

private func one(_ text: String) throws -> JobStatement.Kind {
    let kinds = try parse(text)
    #expect(kinds.count == 1)
    return try #require(kinds.first)
}

private func errors(_ text: String) -> [JobError] {
    do {
        _ = try JobParser.parse(path: "job.sql", text: text)
        Issue.record("expected errors for: \(text)")
        return []
    } catch {
        return error.errors
    }
}

@Suite("JobParser: SET, SOURCE, SINK")
struct JobParserTests {
    func set(_ text: String) throws -> (String, String, Loc)? {
        guard case .set(let key, let value, let location) = try one(text) else { return nil }
        return (key.value, value, location)
    }

    @Test func setValues() throws {
        #expect(try set("SET batch_interval = '2s';")?.1 == "2s")
        #expect(try set("SET batch_interval = 2s -- two seconds\n;")?.1 == "2s")
        #expect(try set("set memory_budget = 256 MB")?.1 == "256 MB")
        #expect(try set("SET backpressure TO on")?.1 == "on")
        #expect(try set("SET spill_dir = /var/tmp/eddy")?.1 == "/var/tmp/eddy")
        #expect(try set("SET x = 'it''s'")?.1 == "it's")
        #expect(try set("SET x = 'a' || 'b'")?.1 == "'a' || 'b'", "anything else is taken as written")
        let sParsed = try set("SET\n  block_interval = '200ms'")
        let s = try #require(sParsed)
        #expect(s.0 == "block_interval")
        #expect(s.2 == Loc(file: "job.sql", line: 2, column: 20))
    }

    @Test func setErrors() {
        #expect(errors("SET batch_interval '2s'").first?.message == "expected '=' after SET batch_interval")
        #expect(errors("SET batch_interval =").first?.message == "expected a value after SET batch_interval =")
        #expect(errors("SET = 3").first?.message == "expected a setting name after SET, found '='")
    }

    @Test func createSource() throws {
        let text = """
            CREATE SOURCE events (id INTEGER, name TEXT, price DECIMAL(10, 2), "odd name" TEXT)
            WITH (connector = 'socket', address = 'localhost:9999', format = csv, max_rate = 500,
                  block_interval = 200ms, "Header" = on, offset = -5)
            """
        guard case .source(let s) = try one(text) else { Issue.record("not a source"); return }
        #expect(s.name.value == "events")
        #expect(s.columns.map(\.name) == ["id", "name", "price", "odd name"])
        #expect(s.columns.map(\.type) == ["INTEGER", "TEXT", "DECIMAL(10, 2)", "TEXT"])
        #expect(s.options.map(\.key) == ["connector", "address", "format", "max_rate", "block_interval", "header", "offset"])
        #expect(s.options.map(\.value) == ["socket", "localhost:9999", "csv", "500", "200ms", "on", "-5"])
        #expect(s.options[1].keyLocation == Loc(file: "job.sql", line: 2, column: 29))
        #expect(s.options[1].valueLocation == Loc(file: "job.sql", line: 2, column: 39))
        #expect(s.withLocation == Loc(file: "job.sql", line: 2, column: 1))
    }

    @Test func negativeNumberWithUnitIsJoined() throws {
        guard case .sink(let s) = try one("CREATE SINK x WITH (a = -200ms, b = -5, c = 1.5s)") else { Issue.record("not a sink"); return }
        #expect(s.options.map(\.value) == ["-200ms", "-5", "1.5s"])
    }

    @Test func sourceWithoutColumns() throws {
        guard case .source(let s) = try one("CREATE SOURCE lines WITH (connector = 'stdin')") else { Issue.record("not a source"); return }
        #expect(s.columns.isEmpty)
        #expect(s.options.map(\.key) == ["connector"])
        guard case .source(let e) = try one("CREATE SOURCE x (a) WITH ()") else { Issue.record("not a source"); return }
        #expect(e.options.isEmpty)
        #expect(e.columns.map(\.type) == [""])
    }

    @Test func sourceOptionErrors() {
        let dup = errors("CREATE SOURCE s WITH (connector = 'stdin',\n  CONNECTOR = 'socket')")
        #expect(dup.first?.message == "option 'connector' is given twice")
        #expect(dup.first?.location == Loc(file: "job.sql", line: 2, column: 3))
        #expect(errors("CREATE SOURCE s WITH (rate = 200 ms)").first?.message == "expected ',' or ')' in the options, found 'ms'",
                "a unit is joined only when written right after the number")
        #expect(errors("CREATE SOURCE s WITH (connector 'stdin')").first?.message == "expected '=' after option connector, found 'stdin'")
        #expect(errors("CREATE SOURCE s WITH (connector = )").first?.message == "expected a value for option connector, found ')'")
        #expect(errors("CREATE SOURCE s WITH (connector = 'x'").first?.message == "expected ')' to close the options")
        #expect(errors("CREATE SOURCE s (a TEXT)").first?.message == "expected WITH (connector = ...) after CREATE SOURCE s")
        #expect(errors("CREATE SOURCE s WITH (a = 1) extra").first?.message == "unexpected 'extra' after the WITH (...) options")
    }

    @Test func sourceColumnErrors() {
        let reserved = errors("CREATE SOURCE s (a TEXT, _seq INTEGER) WITH (connector = 'stdin')")
        #expect(reserved.first?.message.hasPrefix("column name '_seq' is reserved") == true)
        #expect(reserved.first?.location.column == 26)
        #expect(errors("CREATE SOURCE s (a TEXT, A INT) WITH (connector = 'stdin')").first?.message == "column 'A' is declared twice in source s")
        #expect(errors("CREATE SOURCE s (a TEXT WITH (connector = 'stdin')").first?.message == "expected ')' to close the column list")
    }

    @Test func createSink() throws {
        guard case .sink(let s) = try one("CREATE SINK out WITH (connector = 'stdout', format = 'jsonl')") else { Issue.record("not a sink"); return }
        #expect(s.name.value == "out")
        #expect(s.options.map(\.key) == ["connector", "format"])
        #expect(s.options.map(\.value) == ["stdout", "jsonl"])
        #expect(errors("CREATE SINK out").first?.message == "expected WITH (connector = ...) after CREATE SINK out")
    }

    @Test func statementsKeepTheirTextLocationAndIndex() throws {
        let text = "SET a = '1';\n\n  CREATE STREAM s AS SELECT 1;\nSELECT * FROM s"
        let job = try JobParser.parse(path: "job.sql", text: text)
        #expect(job.statements.map(\.index) == [1, 2, 3])
        #expect(job.statements.map(\.text.text) == ["SET a = '1'", "CREATE STREAM s AS SELECT 1", "SELECT * FROM s"])
        #expect(job.statements[1].location == Loc(file: "job.sql", line: 3, column: 3))
        #expect(job.statements[1].text.offset == 16)
        #expect(job.location(16) == job.statements[1].location)
    }

    @Test func emptyFileIsAnError() {
        for text in ["", "  \n", "-- only a comment\n/* and another */", ";;"] {
            let e = errors(text)
            #expect(e.count == 1)
            #expect(e.first?.message == "the job file has no statements: a job needs at least a CREATE SOURCE and a query")
            #expect(e.first?.location == Loc(file: "job.sql", line: 1, column: 1))
        }
    }

    @Test func lexerErrorsAreReported() {
        let e = errors("SELECT 1;\nSELECT 'oops")
        #expect(e.map(\.description) == ["job.sql:2:8: unterminated string literal"])
    }

    @Test func allStatementErrorsAreCollected() {
        let e = errors("CREATE STATE seen (k);\nSELECT 1;\nCREATE FOO x;\nVACUUM")
        #expect(e.map(\.location.line) == [1, 3, 4])
        let all = JobErrors(e).description
        #expect(all.split(separator: "\n").count == 3)
    }
}

@Suite("JobParser: what a job file may be")
struct JobFileLimitTests {
    @Test func aNulByteIsAnErrorAtItsPlace() {
        let e = errors("SELECT 1;\nSELECT count(*) \u{0} FROM lines;")
        #expect(e.count == 1)
        #expect(e.first?.location == Loc(file: "job.sql", line: 2, column: 17))
        #expect(e.first?.message == "the job file has a NUL byte here; a job file is text")
        // Inside a string literal too: SQLite would cut the statement there.
        #expect(errors("SELECT 'a\u{0}b';").first?.location.column == 10)
    }

    @Test func statementsAreLimited() throws {
        let ok = String(repeating: "SELECT 1;\n", count: JobParser.maxStatements)
        #expect(try JobParser.parse(path: "job.sql", text: ok).statements.count == JobParser.maxStatements)
        let e = errors(ok + "SELECT 2;\nSELECT 3;\n")
        #expect(e.count == 1)
        #expect(e.first?.location == Loc(file: "job.sql", line: JobParser.maxStatements + 1, column: 1))
        #expect(e.first?.message.hasPrefix("the job has more than \(JobParser.maxStatements) statements") == true)
    }

    @Test func bytesAreLimited() {
        let big = String(repeating: "-- a comment line of 32 bytes!!\n", count: Int(JobParser.maxBytes) / 32 + 1)
        let e = errors(big + "SELECT 1;")
        #expect(e.first?.location == Loc(file: "job.sql", line: 1, column: 1))
        #expect(e.first?.message.hasPrefix("the job file is 4.0MB; eddy reads job files up to 4MB") == true)
    }
}
