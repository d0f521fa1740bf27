import EddyCore
@testable import EddyEngine
import EddyJob
import EddySQL
import Foundation
import Testing

/// The planner against hostile job files: settings set twice, start-up
/// statements that never end or are stopped, triggers that break the rules,
/// and `eddy check`'s stand-ins for attached databases.
@Suite struct HostilePlanTests {
    let source = "CREATE SOURCE s (v TEXT) WITH (connector = 'stdin');\n"
    let forever = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"

    func prepare(_ sql: String, _ configure: (inout PlanOptions) -> Void = { _ in }) throws -> PreparedJob {
        var options = PlanOptions()
        configure(&options)
        return try Planner.prepare(try JobParser.parse(path: "job.sql", text: sql), options: options)
    }

    @Test func aSecondSetNamesBothPlacesAndTheCommandLineStillWins() throws {
        let e = Replay.planErrors("SET batch_interval = '1s';\n" + source + "SET batch_interval = '2s';\nSELECT 1 FROM s;")
        #expect(e == "job.sql:3:5: batch_interval is already set at job.sql:1:5; a job sets each key once (--set on the command line overrides the job)")
        let plan = try prepare("SET batch_interval = '1s';\n" + source + "SELECT 1 FROM s;") { $0.overrides = [("batch_interval", "2s")] }.plan
        #expect(plan.settings.batchInterval == 2000)
    }

    @Test func windowsHaveAnUpperBound() {
        let e = Replay.planErrors(source + "CREATE WINDOW w ON s RANGE '31d';")
        #expect(e == "job.sql:2:28: window w: RANGE must be at most 30d, not 31d")
    }

    @Test func aRunawayStartUpStatementIsCutShortAtStatementTimeout() throws {
        let started = MonotonicTime.now()
        do {
            _ = try prepare(source + "CREATE TABLE t AS \(forever);\nSELECT 1 FROM s;") { $0.overrides = [("statement_timeout", "100ms")] }
            Issue.record("expected the statement to be interrupted")
        } catch let e as StartupInterrupted {
            #expect(e.description == "job.sql:2:1: start-up: statement_timeout (100ms) passed: the statement was interrupted")
            #expect(e.exitStatus == .runtime)
            #expect(!e.isStop)
        }
        #expect(MonotonicTime.millisSince(started) < 5000)
        // An INITIAL seed is a start-up statement too.
        #expect(throws: StartupInterrupted.self) {
            _ = try prepare(source + "CREATE STATE TABLE st (n INTEGER) INITIAL AS \(forever);\nSELECT 1 FROM s;") {
                $0.overrides = [("statement_timeout", "100ms")]
            }
        }
    }

    @Test func aStopRequestCutsAStartUpStatementShort() throws {
        let stop = StopSignal()
        try startThread(name: "test-stop") {
            usleep(200_000)
            stop.request()
        }
        do {
            _ = try prepare(source + "CREATE TABLE t AS \(forever);\nSELECT 1 FROM s;") { $0.stop = stop }
            Issue.record("expected the statement to be interrupted")
        } catch let e as StartupInterrupted {
            #expect(e.isStop)
            #expect(e.description.hasPrefix("job.sql:2:1: stopped during start-up"))
        }
    }

    @Test func triggersThatBreakTheRulesAreFoundAtPlanTime() {
        let e = Replay.planErrors(source + """
            CREATE TABLE _log (v);
            CREATE TRIGGER t1 AFTER INSERT ON s BEGIN INSERT INTO _log VALUES (new.v); END;
            CREATE TRIGGER t2 AFTER INSERT ON s BEGIN SELECT fts3_tokenizer('simple'); END;
            SELECT 1 FROM s;
            """)
        #expect(e?.hasPrefix("job.sql:3:1: trigger on s: fts3_tokenizer() is not allowed in a job") == true, "\(e ?? "-")")
        #expect(e?.contains("(triggers on s: t1 (job.sql:3:1), t2 (job.sql:4:1))") == true, "\(e ?? "-")")
        // A trigger that only writes the job's own tables plans, and records where it is.
        let ok = try? prepare(source + "CREATE TABLE log (v);\nCREATE TRIGGER t1 AFTER INSERT ON s BEGIN INSERT INTO log VALUES (new.v); END;\nSELECT 1 FROM s;")
        #expect(ok?.plan.triggers["s"]?.map(\.name) == ["t1"])
        #expect(ok?.plan.triggers["s"]?.first?.location == SourceLocation(file: "job.sql", line: 3, column: 1))
    }

    @Test func aStateTableAndItsSeedCommitTogether() throws {
        // A seed that fails leaves no unseeded table behind.
        let e = Replay.planErrors(source + "CREATE STATE TABLE st (n INTEGER NOT NULL) INITIAL AS SELECT NULL;\nSELECT 1 FROM s;")
        #expect(e?.contains("NOT NULL constraint failed") == true, "\(e ?? "-")")
        let prepared = try prepare(source + "CREATE STATE TABLE st (n INTEGER) INITIAL AS SELECT 7;\nSELECT n FROM st;")
        #expect(try prepared.database.scalar("SELECT n FROM st") == .integer(7))
        #expect(!prepared.database.inTransaction)
    }

    @Test func checkAttachesStandInsAndWritesNothing() throws {
        let dir = try Scratch()
        let existing = dir.path + "/lookup.db"
        do {
            let db = try Database(path: existing)
            try db.execute("CREATE TABLE names (k TEXT, v TEXT); INSERT INTO names VALUES ('a', 'alpha');")
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: existing))
        let fresh = dir.path + "/fresh.db"
        let prepared = try prepare(source + """
            ATTACH '\(existing)' AS l;
            ATTACH DATABASE 'file:\(fresh)?mode=rwc' AS f;
            CREATE TABLE f.t AS SELECT * FROM l.names;
            CREATE TABLE l.extra AS SELECT k FROM l.names;
            SELECT s.v, n.v FROM s JOIN l.names n ON n.k = s.v;
            """) { $0.checkOnly = true }
        #expect(try prepared.database.scalar("SELECT count(*) FROM f.t") == .integer(1))
        #expect(try prepared.database.scalar("SELECT count(*) FROM l.extra") == .integer(1), "the copy takes writes")
        #expect(!FileManager.default.fileExists(atPath: fresh))
        #expect(try Data(contentsOf: URL(fileURLWithPath: existing)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["lookup.db"])
        let notes = prepared.plan.startStatements.compactMap(\.note)
        #expect(notes == ["checked against an in-memory copy of \(existing)",
                          "checked against an empty in-memory database: \(fresh) does not exist yet, and eddy check does not create it"])
    }

    @Test func attachNamesAreReadAsSQLiteReadsThem() {
        #expect(Planner.filePath(ofAttached: ":memory:") == nil)
        #expect(Planner.filePath(ofAttached: "") == nil)
        #expect(Planner.filePath(ofAttached: "file::memory:?cache=shared") == nil)
        #expect(Planner.filePath(ofAttached: "file:x.db?mode=memory&cache=shared") == nil)
        #expect(Planner.filePath(ofAttached: "data/a.db") == "data/a.db")
        #expect(Planner.filePath(ofAttached: "file:data/a%20b.db?mode=ro") == "data/a b.db")
        #expect(Planner.filePath(ofAttached: "file:///tmp/x.db") == "/tmp/x.db")
        #expect(Planner.filePath(ofAttached: "file://localhost/tmp/x.db#frag") == "/tmp/x.db")
        #expect(Planner.readOnlyURI("/tmp/a b?.db").hasPrefix("file:/tmp/a%20b%3F.db?mode=ro"))
    }
}
