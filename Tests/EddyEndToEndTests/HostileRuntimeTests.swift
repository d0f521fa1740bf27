import EddySQL
import Foundation
import Glibc
import Testing

/// Hostile job files at run time: statements that never end, failures inside
/// triggers and sinks, signals. Each ends with a clear message that names
/// the statement's `file:line:col`, within the time the settings promise.
@Suite struct HostileRuntimeTests {
    func job(_ sql: String, lines: String = "a b\nc d\n") throws -> (dir: TempDir, path: String) {
        let dir = try TempDir()
        try dir.write("replay/lines/000001.txt", lines)
        try dir.write("replay/lines/000002.txt", lines)
        return (dir, try dir.write("job.sql", sql))
    }

    static let source = "CREATE SOURCE lines (line TEXT) WITH (connector = 'stdin');\n"
    static let forever = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"

    // MARK: statement_timeout

    @Test func aRunawayPerBatchStatementEndsTheRunAtStatementTimeout() throws {
        let (dir, path) = try job("SET statement_timeout = '300ms';\n" + Self.source + "SELECT count(*) FROM lines;\n" + Self.forever + ";\n")
        let started = Date()
        let r = try EddyProcess.run(["run", path, "--replay", dir.path + "/replay", "--quiet"], cwd: dir.path, timeout: 30)
        let took = Date().timeIntervalSince(started)
        #expect(r.status == 3, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("job.sql:4:1: batch 1000: statement_timeout (300ms) passed: the statement was interrupted"), "stderr: \(r.stderr)")
        #expect(took < 10, "took \(took) s")
        // The batch was rolled back whole: not even the statement before it printed.
        #expect(r.stdout.isEmpty, "stdout: \(r.stdout)")
    }

    @Test func aRunawayStartUpStatementEndsRunAndCheckAtStatementTimeout() throws {
        let (dir, path) = try job(Self.source + "CREATE TABLE t AS " + Self.forever + ";\nSELECT count(*) FROM lines;\n")
        for command in ["run", "check"] {
            var args = [command, path, "--set", "statement_timeout=200ms"]
            if command == "run" { args += ["--replay", dir.path + "/replay"] }
            let r = try EddyProcess.run(args, cwd: dir.path, timeout: 30)
            #expect(r.status == 3, "\(command): stderr: \(r.stderr)")
            #expect(r.stderr.contains("job.sql:2:1: start-up: statement_timeout (200ms) passed: the statement was interrupted"),
                    "\(command): stderr: \(r.stderr)")
        }
    }

    // MARK: stopping a runaway statement

    @Test func aFirstSIGTERMDuringARunawayStatementEndsTheRunWithinStopTimeout() throws {
        let dir = try TempDir()
        let path = try dir.write("job.sql", """
            SET stop_timeout = '1s';
            CREATE SOURCE lines WITH (connector = 'generator', rate = 100);
            SELECT count(*) FROM lines;
            \(Self.forever);
            """)
        for checkpoint in [false, true] {
            let args = ["run", path] + (checkpoint ? ["--checkpoint", dir.path + "/ckpt"] : [])
            let eddy = try EddyProcess(args, cwd: dir.path)
            // The first batch (due within 2 s) enters the statement that never
            // ends; its output waits for the batch to finish, so there is none.
            usleep(2_500_000)
            #expect(eddy.process.isRunning)
            let signalled = Date()
            eddy.signal(SIGTERM)
            let r = try eddy.wait(timeout: 30)
            let took = Date().timeIntervalSince(signalled)
            #expect(took < 1 + 2.5, "took \(took) s")
            #expect(r.status == (checkpoint ? 0 : 3), "stderr: \(r.stderr)")
            #expect(r.stderr.contains("stop_timeout (1s) passed before the last batch finished; interrupting it"), "stderr: \(r.stderr)")
            #expect(r.stderr.contains("job.sql:4:1: batch "), "stderr: \(r.stderr)")
            #expect(r.stderr.contains("was interrupted at stop_timeout and rolled back"), "stderr: \(r.stderr)")
        }
    }

    @Test func aStopDuringARunawayStartUpStatementEndsAtOnce() throws {
        let dir = try TempDir()
        let path = try dir.write("job.sql", Self.source + "CREATE TABLE t AS " + Self.forever + ";\nSELECT count(*) FROM lines;\n")
        for command in ["run", "check"] {
            let eddy = try EddyProcess([command, path], cwd: dir.path)
            usleep(500_000)
            let signalled = Date()
            eddy.signal(SIGTERM)
            let r = try eddy.wait(timeout: 30)
            #expect(Date().timeIntervalSince(signalled) < 3)
            // A run stops cleanly (nothing was received yet); a check did not finish.
            #expect(r.status == (command == "run" ? 0 : 3), "\(command): stderr: \(r.stderr)")
            #expect(r.stderr.contains("job.sql:2:1: stopped during start-up"), "\(command): stderr: \(r.stderr)")
        }
    }

    @Test func sighupStopsGracefullyLikeSIGTERM() throws {
        let eddy = try EddyProcess(["run", "sql/quickstart.sql", "--format", "csv"])
        #expect(eventually { eddy.currentStdout.split(separator: "\n").count >= 5 })
        eddy.signal(SIGHUP)
        let r = try eddy.wait(timeout: 30)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("stopping"))
        #expect(r.stdoutLines.count % 5 == 0, "the batch in flight finished")
    }

    // MARK: every failure names its statement

    @Test func failuresInsideEddysOwnStatementsNameTheJobsPlace() throws {
        // An error raised by a trigger that eddy's load of the source fires.
        let (dir, raising) = try job(Self.source + """
            CREATE TRIGGER no_b AFTER INSERT ON lines WHEN new.line LIKE '%b%' BEGIN SELECT RAISE(ABORT, 'no b allowed'); END;
            SELECT count(*) FROM lines;
            """)
        let r = try EddyProcess.run(["run", raising, "--replay", dir.path + "/replay", "--quiet"], cwd: dir.path, timeout: 30)
        #expect(r.status == 3)
        #expect(r.stderr.contains("job.sql:2:1: batch 1000: trigger no_b on lines: no b allowed"), "stderr: \(r.stderr)")

        // A read-only database written by a per-batch statement.
        do {
            let db = try Database(path: dir.path + "/ro.db")
            try db.execute("CREATE TABLE t (x)")
        }
        let readOnly = try dir.write("ro.sql", Self.source + """
            ATTACH 'file:ro.db?mode=ro' AS r;
            INSERT INTO r.t SELECT line FROM lines;
            """)
        let ro = try EddyProcess.run(["run", readOnly, "--replay", dir.path + "/replay", "--quiet"], cwd: dir.path, timeout: 30)
        #expect(ro.status == 3)
        #expect(ro.stderr.contains("ro.sql:3:1: batch 1000: attempt to write a readonly database"), "stderr: \(ro.stderr)")

        // A SQLite sink whose table refuses the rows.
        do {
            let db = try Database(path: dir.path + "/sink.db")
            try db.execute("CREATE TABLE rows (line TEXT CHECK (length(line) > 10))")
        }
        let sink = try dir.write("sink.sql", Self.source + """
            CREATE SINK out WITH (connector = 'sqlite', path = 'sink.db', table = 'rows');
            INSERT INTO out SELECT line FROM lines;
            """)
        let s = try EddyProcess.run(["run", sink, "--replay", dir.path + "/replay", "--quiet"], cwd: dir.path, timeout: 30)
        #expect(s.status == 3)
        #expect(s.stderr.contains("sink.sql:2:13: batch 1000: sink out: CHECK constraint failed"), "stderr: \(s.stderr)")

        // A trigger on a window's table: the window's upkeep runs it.
        let window = try dir.write("window.sql", Self.source + """
            CREATE WINDOW w ON lines RANGE '2s';
            CREATE TRIGGER guard AFTER INSERT ON w BEGIN SELECT RAISE(FAIL, 'window is full'); END;
            SELECT count(*) FROM w;
            """)
        let w = try EddyProcess.run(["run", window, "--replay", dir.path + "/replay", "--quiet"], cwd: dir.path, timeout: 30)
        #expect(w.status == 3)
        #expect(w.stderr.contains("window.sql:3:1: batch 1000: trigger guard on w: window is full"), "stderr: \(w.stderr)")
    }

    // MARK: bad records over stdin

    @Test func badRecordsReadBeforeTheFirstBatchAreCounted() throws {
        let dir = try TempDir()
        let path = try dir.write("job.sql", """
            CREATE SOURCE ev (id INTEGER) WITH (connector = 'stdin', format = 'jsonl', errors = 'bad.log');
            SELECT count(*) FROM ev;
            """)
        let input = "{\"id\": 1}\n{broken\n{\"id\": 2}\nnot json\n[1]\n{\"id\": \n\"text\"\n{\"id\": 3}\n"
        let r = try EddyProcess.run(["run", path], cwd: dir.path, stdin: input, timeout: 30)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let log = try String(contentsOfFile: dir.path + "/bad.log", encoding: .utf8)
        let logged = log.split(separator: "\n").count
        let counted = metricsLines(r.stderr).compactMap { Int($0["bad_records"] ?? "") }.reduce(0, +)
        #expect(logged == 5)
        #expect(counted == logged, "metrics: \(counted), errors file: \(logged)")
    }
}
