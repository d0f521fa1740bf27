import Foundation
import Testing

/// Bad input gets a clear error and loses nothing; a bad record is counted
/// and logged and the job goes on.
@Suite struct BadInputTests {
    func job(_ sql: String) throws -> (TempDir, String) {
        let dir = try TempDir()
        return (dir, try dir.write("job.sql", sql))
    }

    @Test func malformedCSVRecordsAreCountedLoggedAndSkipped() throws {
        let (_, path) = try job("""
            CREATE SOURCE rows (id INTEGER, name TEXT, v REAL) WITH (connector = 'stdin', format = 'csv');
            SELECT id, name, v FROM rows ORDER BY id;
            """)
        // Line 5's stray quote must not swallow the lines after it; the
        // unterminated quote is last, since RFC 4180 lets a quoted field run
        // across newlines until the input ends.
        let input = #"""
            1,alpha,1.5
            3,"quoted, with comma",3
            4,too,many,fields
            5,ba"d,5
            6,"say ""hi""",6
            7,short
            8,"closed"x,8
            9,"never closed,9
            """#
        let r = try EddyProcess.run(["run", path, "--format", "csv"], stdin: input, timeout: 30)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdoutLines == ["1,alpha,1.5", "3,\"quoted, with comma\",3.0", "6,\"say \"\"hi\"\"\",6.0"])
        let bad = metricsLines(r.stderr).compactMap { Int($0["bad_records"] ?? "") }.reduce(0, +)
        #expect(bad == 5)
        #expect(r.stderr.contains("bad record skipped"))
        #expect(r.stderr.contains("unterminated quoted field"))
        #expect(r.stderr.contains("quote inside unquoted field"))
        #expect(r.stderr.contains("expected 3 fields"))
    }

    @Test func malformedJSONLinesAreCountedAndTheJobGoesOn() throws {
        let (dir, path) = try job("""
            CREATE SOURCE ev (id INTEGER, name TEXT) WITH (connector = 'stdin', format = 'jsonl', errors = 'bad.log');
            SELECT id, name FROM ev ORDER BY id;
            """)
        let input = """
            {"id": 1, "name": "one"}
            {"id": 2, "name": "two"
            not json at all
            [1, 2, 3]
            {"id": 3, "name": "three", "extra": {"nested": [1, 2]}}
            {"id": 4, "name": "bad \\x escape"}

            """
        let r = try EddyProcess.run(["run", path, "--format", "csv"], cwd: dir.path, stdin: input, timeout: 30)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdoutLines == ["1,one", "3,three"])
        // errors = 'path' takes every bad record, one line each.
        let log = try String(contentsOfFile: dir.path + "/bad.log", encoding: .utf8)
        #expect(log.split(separator: "\n").count == 4)
        #expect(log.contains("source=ev"))
    }

    @Test func aTenMegabyteLineAndInvalidUTF8DoNotCrash() throws {
        let (_, path) = try job("""
            CREATE SOURCE lines WITH (connector = 'stdin');
            SELECT length(CAST(line AS BLOB)) AS bytes, substr(hex(line), 1, 8) AS head FROM lines ORDER BY _seq;
            """)
        var input: [UInt8] = Array("short\n".utf8)
        input += [UInt8](repeating: UInt8(ascii: "x"), count: 10 << 20)
        input += Array("\n".utf8)
        input += [0xFF, 0xFE, 0x41, 0xC3, 0x28, 0x0A] // invalid UTF-8, then a newline
        input += Array("after\n".utf8)
        let r = try EddyProcess.run(["run", path, "--format", "jsonl", "--quiet"], stdinBytes: input, timeout: 60)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let rows = try r.stdoutLines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(rows.map { $0["bytes"] as? Int } == [5, 10 << 20, 5, 5])
        #expect(rows.count == 4 && rows[2]["head"] as? String == "FFFE41C3")
    }

    @Test func invalidUTF8IsPrintedAsValidJSON() throws {
        let (_, path) = try job("""
            CREATE SOURCE lines WITH (connector = 'stdin');
            SELECT line FROM lines;
            """)
        let input: [UInt8] = [0x61, 0xFF, 0x62, 0x0A, 0xE2, 0x82, 0xAC, 0x0A]
        let r = try EddyProcess.run(["run", path, "--format", "jsonl", "--quiet"], stdinBytes: input, timeout: 30)
        #expect(r.status == 0)
        let values = try r.stdoutLines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["line"] as? String }
        #expect(values == ["a\u{FFFD}b", "€"])
    }

    @Test func anEmptyJobFileIsAClearError() throws {
        let (_, path) = try job("-- nothing here yet\n")
        for command in ["check", "run"] {
            let r = try EddyProcess.run([command, path])
            #expect(r.status == 1)
            #expect(r.stderr.contains("\(path):1:1: the job file has no statements"))
        }
    }

    /// Each kind of job error, from `check` and from `run` alike, with its
    /// place in the file and before any batch runs.
    @Test(arguments: [
        ("CREATE SOURCE s WITH (connector = 'sockett');\nSELECT * FROM s;", "1:35", "unknown connector 'sockett'"),
        ("CREATE SOURCE s WITH (connector = 'socket');\nSELECT * FROM s;", "1:17", "needs option 'address'"),
        ("CREATE SOURCE s WITH (connector = 'socket', adress = 'h:1');\nSELECT * FROM s;", "1:45", "unknown option 'adress'"),
        ("SET batch_interval = '10 parsecs';\nCREATE SOURCE s WITH (connector = 'stdin');\nSELECT * FROM s;", "1:22", "bad duration"),
        ("CREATE SOURCE s WITH (connector = 'stdin');\nCREATE WINDOW w ON s RANGE '1.5s' SLIDE '1s';\nSELECT * FROM w;", "2:28", "RANGE 1500ms must be a multiple of the batch interval"),
        ("CREATE SOURCE s WITH (connector = 'stdin');\n\nSELECT line, count(*)\n  FROM s GROUPBY line;", "4:18", "near \"line\": syntax error"),
        ("CREATE SOURCE s WITH (connector = 'stdin');\nSELECT * FROM nosuch;", "2:15", "unknown table, source or stream 'nosuch'"),
        ("CREATE SOURCE s WITH (connector = 'stdin');\nCREATE STREAM x AS SELECT * FROM s, words;", "2:37", "unknown table, source or stream 'words'"),
    ])
    func jobErrorsPointAtTheirPlace(sql: String, place: String, message: String) throws {
        let (_, path) = try job(sql)
        for command in ["check", "run"] {
            let r = try EddyProcess.run([command, path], timeout: 30)
            #expect(r.status == 1, "\(command): \(r.stderr)")
            #expect(r.stderr.contains("\(path):\(place): "), "\(command): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(command): \(r.stderr)")
            #expect(r.stdout.isEmpty || command == "check")
        }
    }

    @Test func badCommandLineOptionsAreUsageErrorsThatNameTheOption() throws {
        let cases: [([String], String)] = [
            (["run", "sql/quickstart.sql", "--format", "xml"], "--format xml"),
            (["run", "sql/quickstart.sql", "--set", "batch_interval"], "--set batch_interval"),
            (["run", "sql/quickstart.sql", "--set", "batch_interval=fast"], "--set batch_interval=fast"),
            (["run", "sql/quickstart.sql", "--duration", "soon"], "--duration soon"),
            (["run", "sql/quickstart.sql", "--bogus"], "--bogus"),
            (["run"], "<job>"),
        ]
        for (args, named) in cases {
            let r = try EddyProcess.run(args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(named), "\(args): \(r.stderr)")
        }
    }
}
