import EddySQL
import Foundation
import Glibc
import Testing

/// A job file is code, like a shell script (README, "Trust model"). Each job
/// here tries something a job must not do, and gets a clear error with its
/// `file:line:col`, or the documented behaviour.
@Suite struct HostileJobTests {
    /// A job file in a fresh directory, with a one-batch replay of `lines`.
    func job(_ sql: String, lines: String = "a b\nc d\n") throws -> (dir: TempDir, path: String) {
        let dir = try TempDir()
        try dir.write("replay/lines/000001.txt", lines)
        return (dir, try dir.write("job.sql", sql))
    }

    func check(_ path: String, _ extra: [String] = []) throws -> EddyProcess.Result {
        try EddyProcess.run(["check", path] + extra, cwd: (path as NSString).deletingLastPathComponent, timeout: 30)
    }

    func replay(_ dir: TempDir, _ path: String, _ extra: [String] = []) throws -> EddyProcess.Result {
        try EddyProcess.run(["run", path, "--replay", dir.path + "/replay", "--quiet"] + extra, cwd: dir.path, timeout: 30)
    }

    static let source = "CREATE SOURCE lines (line TEXT) WITH (connector = 'stdin');\n"

    // MARK: functions that reach under SQL

    @Test func theFts3TokenizerHijackIsAClearErrorInCheckAndRun() throws {
        // The job from issue 12: it crashed both with a general protection fault.
        let (dir, path) = try job("""
            SET batch_interval = '1s';
            CREATE SOURCE lines (line TEXT) WITH (connector = 'generator', rate = 10);
            CREATE TABLE x AS SELECT fts3_tokenizer('simple', x'4141414141414141') AS p;
            CREATE VIRTUAL TABLE v USING fts3(body, tokenize=simple);
            SELECT count(*) FROM lines;
            """)
        // SQLite points at the call itself.
        let expected = "job.sql:3:26: fts3_tokenizer() is not allowed in a job"
        let c = try check(path)
        #expect(c.status == 1, "stderr: \(c.stderr)")
        #expect(c.stderr.contains(expected), "stderr: \(c.stderr)")
        let r = try EddyProcess.run(["run", path, "--duration", "2s"], cwd: dir.path, timeout: 30)
        #expect(r.status == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.contains(expected), "stderr: \(r.stderr)")
        // The one-argument form, which printed a pointer into libsqlite3, too.
        let (_, leak) = try job(Self.source + "SELECT fts3_tokenizer('simple') AS p FROM lines;\n")
        let l = try check(leak)
        #expect(l.status == 1)
        #expect(l.stderr.contains("job.sql:2:8: fts3_tokenizer() is not allowed in a job"), "stderr: \(l.stderr)")
    }

    @Test func loadExtensionStaysDisabled() throws {
        let (dir, path) = try job(Self.source + """
            CREATE TABLE x AS SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0') AS p;
            SELECT count(*) FROM lines;
            """)
        for r in [try check(path), try replay(dir, path)] {
            #expect(r.status == 1, "stderr: \(r.stderr)")
            #expect(r.stderr.contains("job.sql:2:26: load_extension() is not allowed in a job: it would load native code into eddy"),
                    "stderr: \(r.stderr)")
        }
    }

    // MARK: statements that would escape the engine's control

    @Test func statementsThatEscapeTheEngineAreRefusedAtCheckWithTheirPlace() throws {
        let cases: [(sql: String, message: String)] = [
            ("PRAGMA writable_schema = ON;", "PRAGMA writable_schema cannot be set in a job"),
            ("BEGIN;", "eddy runs every batch in one transaction of its own; remove BEGIN"),
            ("BEGIN IMMEDIATE TRANSACTION;", "remove BEGIN"),
            ("COMMIT;", "remove COMMIT"),
            ("END;", "remove COMMIT"),
            ("ROLLBACK;", "remove ROLLBACK"),
            ("SAVEPOINT s;", "remove SAVEPOINT"),
            ("RELEASE s;", "remove RELEASE"),
            ("PRAGMA trusted_schema = 1;", "PRAGMA trusted_schema cannot be set in a job"),
            ("PRAGMA journal_mode = OFF;", "PRAGMA journal_mode on eddy's own databases is eddy's to set"),
            ("CREATE TABLE _eddy_batches (x);", "names starting with _eddy_ are eddy's own"),
            ("DROP TABLE lines;", "lines is a source of the job: eddy made its table, and it cannot be dropped"),
            ("ALTER TABLE lines RENAME TO gone;", "lines is a source of the job: eddy made its table, and it cannot be altered"),
        ]
        for c in cases {
            let (_, path) = try job(Self.source + "\n  " + c.sql + "\nSELECT count(*) FROM lines;\n")
            let r = try check(path)
            #expect(r.status == 1, "\(c.sql): stderr: \(r.stderr)")
            #expect(r.stderr.contains("job.sql:3:3: ") && r.stderr.contains(c.message), "\(c.sql): stderr: \(r.stderr)")
        }
    }

    @Test func writesToEddysOwnTablesAreRefused() throws {
        // A database a SQLite sink wrote holds eddy's marker table.
        let (dir, _) = try job("")
        let sinkDB = dir.path + "/out.db"
        do {
            let db = try Database(path: sinkDB)
            try db.execute("CREATE TABLE _eddy_sink_batches (sink TEXT PRIMARY KEY, batch_time INTEGER NOT NULL); INSERT INTO _eddy_sink_batches VALUES ('s', 1000);")
        }
        let path = try dir.write("job.sql", Self.source + """
            ATTACH 'out.db' AS o;
            UPDATE o._eddy_sink_batches SET batch_time = 0;
            """)
        let r = try check(path)
        #expect(r.status == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("job.sql:3:1: _eddy_sink_batches is eddy's own bookkeeping: a job may read it but not change it"), "stderr: \(r.stderr)")

        // The checkpoint's tables, from a statement and from a trigger that
        // eddy's own INSERT into the source table would fire.
        let ckpt = dir.path + "/ckpt"
        let direct = try dir.write("direct.sql", Self.source + "DELETE FROM ckpt._eddy_batches;\n")
        let d = try EddyProcess.run(["run", direct, "--replay", dir.path + "/replay", "--checkpoint", ckpt], cwd: dir.path, timeout: 30)
        #expect(d.status == 1, "stderr: \(d.stderr)")
        #expect(d.stderr.contains("direct.sql:2:1: _eddy_batches is eddy's own bookkeeping"), "stderr: \(d.stderr)")
        let trigger = try dir.write("trigger.sql", Self.source + """
            CREATE TEMP TRIGGER wipe AFTER INSERT ON lines BEGIN DELETE FROM _eddy_offsets; END;
            SELECT count(*) FROM lines;
            """)
        let t = try EddyProcess.run(["run", trigger, "--replay", dir.path + "/replay", "--checkpoint", dir.path + "/ckpt2"],
                                    cwd: dir.path, timeout: 30)
        #expect(t.status == 1, "stderr: \(t.stderr)")
        #expect(t.stderr.contains("trigger.sql:2:1: trigger on lines: _eddy_offsets is eddy's own bookkeeping"), "stderr: \(t.stderr)")
    }

    // MARK: eddy check writes nothing

    @Test func checkWritesNothing() throws {
        let (dir, path) = try job(Self.source + """
            SET spill_dir = 'spill';
            CREATE SOURCE docs (line TEXT) WITH (connector = 'file', path = 'incoming', errors = 'bad.log');
            ATTACH 'data/new.db' AS a;
            CREATE TABLE a.t (x);
            CREATE INDEX a.t_x ON t (x);
            INSERT INTO a.t VALUES (1), (2);
            ATTACH 'file:data/uri.db?mode=rwc' AS u;
            CREATE TABLE u.t AS SELECT * FROM a.t;
            CREATE SINK out WITH (connector = 'file', path = 'missing/dir/out');
            CREATE SINK db WITH (connector = 'sqlite', path = 'missing/db/out.db', table = 'rows');
            INSERT INTO out SELECT line FROM lines;
            INSERT INTO db SELECT line, (SELECT count(*) FROM a.t) FROM lines;
            """)
        try FileManager.default.createDirectory(atPath: dir.path + "/data", withIntermediateDirectories: true)
        let before = try snapshot(dir.path)
        let r = try check(path)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("eddy check: checked against an empty in-memory database: data/new.db does not exist yet"))
        #expect(try snapshot(dir.path) == before, "eddy check changed the filesystem")
        // The same job runs, and then the files exist.
        let run = try replay(dir, path)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.path + "/data/new.db"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/data/uri.db"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/missing/db/out.db"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/missing/dir/out-1000.csv"))
        // A directory that does not exist is the error the run would hit.
        let (_, bad) = try job(Self.source + "ATTACH 'nowhere/new.db' AS a;\nSELECT count(*) FROM lines;\n")
        let b = try check(bad)
        #expect(b.status == 1)
        #expect(b.stderr.contains("job.sql:2:1: cannot attach nowhere/new.db: directory nowhere does not exist"), "stderr: \(b.stderr)")
    }

    @Test func checkValidatesQueriesAgainstAnAttachedLookupDatabaseWithoutWritingIt() throws {
        let (dir, _) = try job("", lines: "t-01\nt-02\nt-03\n")
        let lookup = dir.path + "/lookup.db"
        do {
            let db = try Database(path: lookup)
            try db.execute("CREATE TABLE places (device TEXT PRIMARY KEY, place TEXT); INSERT INTO places VALUES ('t-01', 'roof'), ('t-02', 'cellar');")
        }
        let good = try dir.write("good.sql", Self.source + """
            ATTACH 'lookup.db' AS l;
            CREATE TABLE l.extra (x);
            SELECT line, place FROM lines LEFT JOIN l.places ON device = line ORDER BY line;
            """)
        let bad = try dir.write("bad.sql", Self.source + """
            ATTACH 'lookup.db' AS l;
            SELECT line, room FROM lines LEFT JOIN l.places ON device = line;
            """)
        let before = try snapshot(dir.path)
        let g = try check(good)
        #expect(g.status == 0, "stderr: \(g.stderr)")
        #expect(g.stdout.contains("eddy check: checked against an in-memory copy of lookup.db"))
        let b = try check(bad)
        #expect(b.status == 1)
        #expect(b.stderr.contains("bad.sql:3:") && b.stderr.contains("no such column: room"), "stderr: \(b.stderr)")
        #expect(try snapshot(dir.path) == before, "eddy check changed the filesystem")
        // In a run, ATTACH is allowed and the lookup works.
        let r = try EddyProcess.run(["run", good, "--replay", dir.path + "/replay", "--quiet", "--format", "csv"], cwd: dir.path, timeout: 30)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdoutLines == ["t-01,roof", "t-02,cellar", "t-03,"])
    }

    // MARK: the job file itself

    @Test func aNulByteIsAnErrorAtItsPlace() throws {
        let dir = try TempDir()
        let path = try dir.write("job.sql", bytes: Array((Self.source + "SELECT count(*) ").utf8) + [0] + Array(" FROM lines;\n".utf8))
        let r = try check(path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("job.sql:2:17: the job file has a NUL byte here"), "stderr: \(r.stderr)")
    }

    @Test func aSecondSetOfTheSameKeyNamesBothPlaces() throws {
        let (_, path) = try job("SET batch_interval = '1s';\n" + Self.source + "SET Batch_Interval = '2s';\nSELECT count(*) FROM lines;\n")
        let r = try check(path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("job.sql:3:5: batch_interval is already set at ") && r.stderr.contains("job.sql:1:5; a job sets each key once"),
                "stderr: \(r.stderr)")
        // --set still overrides a job's single SET.
        let (_, once) = try job("SET batch_interval = '1s';\n" + Self.source + "SELECT count(*) FROM lines;\n")
        let o = try check(once, ["--set", "batch_interval=2s"])
        #expect(o.status == 0, "stderr: \(o.stderr)")
        #expect(o.stdout.contains("batch_interval = 2s"))
    }

    @Test func settingsOutsideTheirBoundsAreErrors() throws {
        let cases: [(String, String)] = [
            ("SET batch_interval = '1000000d';", "job.sql:2:22: batch_interval must be from 10ms to 1d, not '1000000d'"),
            ("SET sqlite_cache = '100TB';", "job.sql:2:20: sqlite_cache must be from 1MB to 1TB, not '100TB'"),
            ("SET statement_timeout = '5ms';", "job.sql:2:25: statement_timeout must be 0 (none) or from 10ms to 1d, not '5ms'"),
            ("SET stop_timeout = '2d';", "stop_timeout must be from 100ms to 1d"),
            ("SET memory_budget = '2TB';", "memory_budget must be from 1B to 1TB"),
            ("CREATE WINDOW w ON lines RANGE '1000000d';", "job.sql:2:32: window w: RANGE must be at most 30d, not 1000000d"),
            ("CREATE WINDOW w ON lines RANGE '10s' SLIDE '31d';", "window w: SLIDE must be at most 30d"),
        ]
        for (statement, message) in cases {
            let (_, path) = try job(Self.source + statement + "\nSELECT count(*) FROM lines;\n")
            let r = try check(path)
            #expect(r.status == 1, "\(statement)")
            #expect(r.stderr.contains(message), "\(statement): stderr: \(r.stderr)")
        }
        let (_, ok) = try job(Self.source + "SELECT count(*) FROM lines;\n")
        let usage = try check(ok, ["--set", "batch_interval=1000000d"])
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("--set batch_interval=1000000d: batch_interval must be from 10ms to 1d"))
        // eddy check lists every setting's range.
        let plan = try check(ok)
        #expect(plan.stdout.contains("statement_timeout = 0"))
        #expect(plan.stdout.contains("0 (none) or from 10ms to 1d"))
        #expect(plan.stdout.contains("from 1MB to 1TB"))
    }

    @Test func aHugeJobIsRefusedWithAClearError() throws {
        var many = Self.source
        for i in 0..<5_000 { many += "CREATE VIEW v\(i) AS SELECT \(i);\n" }
        let (_, path) = try job(many + "SELECT count(*) FROM lines;\n")
        let r = try check(path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("job.sql:5001:1: the job has more than 5000 statements"), "stderr: \(r.stderr.prefix(500))")
        let big = String(repeating: "-- padding to make the file large\n", count: 160_000)
        let (_, huge) = try job(Self.source + big + "SELECT count(*) FROM lines;\n")
        let h = try check(huge)
        #expect(h.status == 1)
        #expect(h.stderr.contains("job.sql:1:1: the job file is 5.2MB; eddy reads job files up to 4MB"), "stderr: \(h.stderr)")
        // Just under the statement limit, all of them schema statements (the
        // costliest kind: SQLite's schema grows with each), the check answers.
        var most = Self.source
        for i in 0..<4_990 { most += "CREATE VIEW v\(i) AS SELECT \(i);\n" }
        let (_, ok) = try job(most + "SELECT count(*) FROM lines;\n")
        let started = Date()
        let o = try check(ok)
        #expect(o.status == 0, "stderr: \(o.stderr.prefix(500))")
        print("eddy check of a job with 4,992 statements took \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
    }

    /// Every file and directory under `root`: size, modification time and
    /// content hash, so any write shows.
    func snapshot(_ root: String) throws -> [String: String] {
        var out: [String: String] = [:]
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: root) else { return out }
        for case let relative as String in walker {
            let full = root + "/" + relative
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            let data = (st.st_mode & S_IFMT) == S_IFREG ? (fm.contents(atPath: full) ?? Data()) : Data()
            var hash: UInt64 = 14_695_981_039_346_656_037
            for b in data { hash = (hash ^ UInt64(b)) &* 1_099_511_628_211 }
            out[relative] = "mode=\(st.st_mode) size=\(st.st_size) mtime=\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) hash=\(hash)"
        }
        return out
    }
}
