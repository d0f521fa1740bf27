import CSQLite
import EddyCore
@testable import EddySQL
import Foundation
import Testing

/// Every connection is hardened, and the job policy refuses what a job must
/// not do, on real SQLite connections (JobSQLPolicy, StatementWatch).
@Suite("Job SQL policy and statement limits")
struct JobPolicyTests {
    let db: Database

    init() throws {
        db = try Database(path: "")
        try db.execute("CREATE TABLE lines (line TEXT); CREATE TABLE _eddy_marks (x); CREATE TABLE mine (x);")
        db.reserve(table: "lines", as: "a source")
    }

    /// The error `sql` fails with when compiled and run as job SQL.
    func jobError(_ sql: String) -> SQLiteError? {
        do {
            try db.asJob { () throws(SQLiteError) in try db.execute(sql) }
            Issue.record("expected an error from: \(sql)")
            return nil
        } catch {
            return error
        }
    }

    @Test func everyConnectionIsHardened() throws {
        for path in ["", ":memory:"] {
            let c = try Database(path: path)
            for (op, expected) in [(SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, Int32(0)), (SQLITE_DBCONFIG_DEFENSIVE, 1),
                                   (SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0), (SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0)] {
                var now: Int32 = -1
                // -1 reads the option without changing it.
                #expect(eddy_db_config_flag(c.handle, op, -1, &now) == SQLITE_OK)
                #expect(now == expected, "option \(op)")
            }
        }
        // Defensive mode stops even eddy's own SQL from editing the schema table.
        try? db.execute("PRAGMA writable_schema = ON")
        #expect(sqlError(db, "UPDATE sqlite_master SET sql = 'x' WHERE name = 'mine'") != nil)
    }

    @Test func dangerousFunctionsAreRefusedEverywhere() throws {
        for call in ["fts3_tokenizer('simple')", "fts3_tokenizer('simple', x'4141414141414141')",
                     "load_extension('libm.so.6')", "rtreenode(2, x'00')", "rtreedepth(x'00')"] {
            let name = String(call.prefix { $0 != "(" })
            let e = sqlError(db, "SELECT \(call)")
            #expect(e?.message.hasPrefix("\(name)() is not allowed in a job: ") == true, "\(call): \(e?.message ?? "-")")
            #expect(jobError("CREATE TABLE x AS SELECT \(call)")?.message.hasPrefix("\(name)()") == true)
        }
        // The rest of SQLite computes as before.
        #expect(try db.scalar("SELECT json_array(1, upper('a'))") == .text("[1,\"A\"]"))
    }

    @Test func transactionsAreRefusedInJobSQLButNotForEddy() throws {
        for (sql, verb) in [("BEGIN", "BEGIN"), ("COMMIT", "COMMIT"), ("END", "COMMIT"), ("ROLLBACK", "ROLLBACK"),
                            ("SAVEPOINT s", "SAVEPOINT"), ("RELEASE s", "RELEASE"), ("ROLLBACK TO s", "ROLLBACK TO")] {
            #expect(jobError(sql)?.message == "eddy runs every batch in one transaction of its own; remove \(verb)", "\(sql)")
        }
        try db.execute("BEGIN")
        try db.execute("COMMIT")
    }

    @Test func pragmasThatBreakEddyAreRefused() throws {
        #expect(jobError("PRAGMA writable_schema = ON")?.message.hasPrefix("PRAGMA writable_schema cannot be set in a job") == true)
        #expect(jobError("PRAGMA trusted_schema = 1")?.message.hasPrefix("PRAGMA trusted_schema cannot be set") == true)
        #expect(jobError("PRAGMA query_only = 1") != nil)
        #expect(jobError("PRAGMA temp_store_directory = '/tmp'") != nil)
        #expect(jobError("PRAGMA journal_mode = OFF")?.message.hasPrefix("PRAGMA journal_mode on eddy's own databases") == true)
        #expect(jobError("PRAGMA main.synchronous = FULL") != nil)
        // Reading is fine, and so are a job's own databases and harmless pragmas.
        try db.asJob { () throws(SQLiteError) in
            _ = try db.scalar("PRAGMA writable_schema")
            try db.execute("ATTACH ':memory:' AS own; PRAGMA own.journal_mode = OFF; PRAGMA foreign_keys = ON; PRAGMA cache_size = 100;")
        }
    }

    @Test func eddysTablesCannotBeChangedByTheJob() throws {
        #expect(jobError("INSERT INTO _eddy_marks VALUES (1)")?.message == "_eddy_marks is eddy's own bookkeeping: a job may read it but not change it")
        #expect(jobError("DELETE FROM _eddy_marks")?.message.hasSuffix("may read it but not change it") == true)
        #expect(jobError("CREATE TABLE _eddy_new (x)")?.message == "names starting with _eddy_ are eddy's own (_eddy_new)")
        #expect(jobError("CREATE TRIGGER t AFTER INSERT ON _eddy_marks BEGIN SELECT 1; END")?.message.hasPrefix("names starting with _eddy_") == true)
        #expect(jobError("DROP TABLE lines")?.message == "lines is a source of the job: eddy made its table, and it cannot be dropped")
        #expect(jobError("ALTER TABLE lines ADD COLUMN y")?.message.hasSuffix("cannot be altered") == true)
        try db.asJob { () throws(SQLiteError) in
            _ = try db.scalar("SELECT count(*) FROM _eddy_marks")
            try db.execute("INSERT INTO mine VALUES (1); DELETE FROM lines; DROP TABLE mine;")
        }
    }

    @Test func aTriggerIsJobCodeEvenInsideEddysOwnStatement() throws {
        try db.asJob { () throws(SQLiteError) in
            try db.execute("CREATE TRIGGER sneaky AFTER INSERT ON lines BEGIN INSERT INTO _eddy_marks VALUES (new.line); END")
        }
        // eddy's own INSERT into the source table compiles the trigger's body.
        let e = sqlError(db, "INSERT INTO lines VALUES ('x')")
        #expect(e?.message == "_eddy_marks is eddy's own bookkeeping: a job may read it but not change it")
        #expect(try db.scalar("SELECT count(*) FROM _eddy_marks") == .integer(0))
    }

    @Test func splitWorksInViewsWithTrustedSchemaOff() throws {
        try db.asJob { () throws(SQLiteError) in
            try db.execute("CREATE VIEW words AS SELECT s.value AS w FROM lines, split(lines.line, ' ') AS s WHERE regexp('^[a-z]+$', s.value)")
        }
        try db.execute("INSERT INTO lines VALUES ('a b 1')")
        #expect(try rows(db, "SELECT w, batch_id() FROM words") == [[t("a"), i(0)], [t("b"), i(0)]])
    }

    @Test func checkOnlyAttachesOnlyStandIns() throws {
        db.checkOnly = true
        let dir = NSTemporaryDirectory() + "eddy-policy-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(jobError("ATTACH '\(dir)-new.db' AS a")?.message.hasPrefix("eddy check writes nothing") == true)
        #expect(!FileManager.default.fileExists(atPath: dir + "-new.db"))
        try db.attachingStandIn { () throws(SQLiteError) in try db.execute("ATTACH ':memory:' AS a") }
    }

    @Test func statementTimeoutInterruptsARunawayJobStatement() throws {
        db.statementTimeoutMs = 100
        let started = MonotonicTime.now()
        let e = jobError("CREATE TABLE r AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c")
        let ms = MonotonicTime.millisSince(started)
        #expect(e?.interruption == .statementTimeout(100))
        #expect(e?.message == "statement_timeout (100ms) passed: the statement was interrupted")
        #expect(ms >= 100 && ms < 5000, "\(ms) ms")
        // eddy's own statements are not timed; the next job statement gets a fresh deadline.
        try db.execute("CREATE TABLE slow AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300000) SELECT n FROM c")
        try db.asJob { () throws(SQLiteError) in _ = try db.scalar("SELECT count(*) FROM slow") }
    }

    @Test func aStopRequestInterruptsAnyStatement() throws {
        let stop = StopSignal()
        db.interruptStatements(on: stop)
        try startThread(name: "test-stop") {
            usleep(150_000)
            stop.request()
        }
        let e = sqlError(db, "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c")
        #expect(e?.interruption == .stopRequested)
        #expect(e?.message == "interrupted by a stop request")
        db.interruptStatements(on: nil)
        #expect(try db.scalar("SELECT 1") == .integer(1))
    }
}
