import EddyCore
@testable import EddyEngine
import EddySinks
import Testing

@Suite struct PlannerTests {
    let source = "CREATE SOURCE s (v TEXT) WITH (connector = 'stdin', format = 'csv');\n"

    @Test func windowRangeAndSlideMustBeMultiplesOfTheBatchInterval() {
        let range = Replay.planErrors(source + "CREATE WINDOW w ON s RANGE '2500ms' SLIDE '1s';")
        #expect(range == "job.sql:2:28: window w: RANGE 2500ms must be a multiple of the batch interval (1s)")
        let slide = Replay.planErrors(source + "CREATE WINDOW w ON s RANGE '3s' SLIDE '1500ms';")
        #expect(slide == "job.sql:2:39: window w: SLIDE 1500ms must be a multiple of the batch interval (1s)")
        let zero = Replay.planErrors(source + "CREATE WINDOW w ON s RANGE '0s';")
        #expect(zero?.contains("RANGE must be greater than 0") == true)
    }

    @Test func aWindowOverAWindowUsesTheParentsSlide() throws {
        let bad = Replay.planErrors(source + "CREATE WINDOW w1 ON s RANGE '4s' SLIDE '2s';\nCREATE WINDOW w2 ON w1 RANGE '6s' SLIDE '3s';")
        #expect(bad == "job.sql:3:41: window w2: SLIDE 3s must be a multiple of the slide of w1 (2s)")
        let plan = try Replay.plan(source + "CREATE WINDOW w1 ON s RANGE '4s' SLIDE '2s';\nCREATE WINDOW w2 ON w1 RANGE '6s' SLIDE '4s';")
        #expect(plan.windows[1].parentSlide == 2000)
        #expect(plan.windows[1].slide == 4000)
    }

    @Test func statementsRunWhereEveryWindowTheyReadIsDue() throws {
        let plan = try Replay.plan(source + """
            CREATE WINDOW two ON s RANGE '4s' SLIDE '2s';
            CREATE WINDOW three ON s RANGE '6s' SLIDE '3s';
            SELECT count(*) FROM s;
            SELECT count(*) FROM two;
            SELECT count(*) FROM two, three;
            SELECT count(*) FROM two JOIN s ON two.v = s.v;
            CREATE VIEW recent AS SELECT * FROM three;
            SELECT count(*) FROM recent;
            """)
        #expect(plan.statements.map(\.slide) == [1000, 2000, 6000, 2000, 3000])
        #expect(plan.statements[2].windows == [0, 1])
    }

    @Test func namesMustBeUniqueAndDefinedBeforeUse() {
        let dup = Replay.planErrors(source + "CREATE SOURCE S WITH (connector = 'stdin');")
        #expect(dup?.contains("job.sql:2:15: 'S' is already defined as a source (job.sql:1:15)") == true)
        let later = Replay.planErrors(source + "SELECT * FROM st;\nCREATE STREAM st AS SELECT v FROM s;")
        #expect(later?.contains("reads 'st', which is defined after it") == true)
        let unknownParent = Replay.planErrors(source + "CREATE WINDOW w ON nope RANGE '2s';")
        #expect(unknownParent?.contains("job.sql:2:20: window w: unknown stream 'nope'") == true)
        let noSource = Replay.planErrors("SELECT 1;")
        #expect(noSource?.contains("the job has no CREATE SOURCE") == true)
    }

    @Test func startStatementsRunOnceAndPerBatchOnesArePrepared() throws {
        let plan = try Replay.plan(source + """
            CREATE TABLE lookup AS SELECT 'a' AS v, 1 AS k UNION ALL SELECT 'b', 2;
            CREATE TEMP VIEW joined AS SELECT s.v, lookup.k FROM s JOIN lookup USING (v);
            SELECT * FROM joined;
            """)
        #expect(plan.startStatements.count == 2)
        #expect(plan.statements.count == 1)
        #expect(plan.statements[0].access.reads.contains("s"))
        #expect(plan.statements[0].isOutput)
    }

    @Test func aSinkTakesItsColumnsFromTheFirstQueryThatWritesIt() throws {
        let plan = try Replay.plan(source + """
            CREATE SINK out WITH (connector = 'stdout');
            INSERT INTO out SELECT v AS value, length(v) AS len, length(v) AS len FROM s;
            """)
        #expect(plan.sinks[0].columns == ["value", "len", "len_2"])
        #expect(plan.statements[0].sink == 0)
        #expect(!plan.statements[0].isOutput)
    }

    /// The planner parses a sink's options once and the engine runs exactly
    /// that config; options it cannot parse are a job error pointing into
    /// the CREATE SINK, never a quiet stdout sink.
    @Test func aSinkIsParsedOnceAndBadOptionsAreJobErrors() throws {
        let plan = try Replay.plan(source + """
            CREATE SINK out WITH (connector = 'file', path = 'out/v', format = 'jsonl');
            INSERT INTO out SELECT v FROM s;
            """)
        #expect(plan.sinks[0].config == .file(prefix: "out/v", format: .jsonl, emptyFiles: false))
        #expect(Replay.planErrors(source + "CREATE SINK out WITH (connector = 'file');")
                == "job.sql:2:17: sink out: sink connector 'file' needs option 'path' (a file name prefix, like 'out/counts')")
        #expect(Replay.planErrors(source + "CREATE SINK out WITH (connector = 'file', path = 'x', format = 'table');")
                == "job.sql:2:55: sink out: file sinks write csv, tsv or jsonl")
        #expect(Replay.planErrors(source + "CREATE SINK out WITH (connector = 'kafka');")
                == "job.sql:2:23: sink out: unknown sink connector 'kafka' (known: stdout, file, sqlite, kinesis)")
    }

    @Test func badLeaseOptionsPointAtTheOption() {
        #expect(Replay.planErrors("""
            CREATE SOURCE k WITH (connector = 'kinesis', stream = 's',
              coordination = 'dynamodb', failover_time = '10ms');
            """) == "job.sql:2:30: source k: failover_time must be at least 1s")
        #expect(Replay.planErrors("""
            CREATE SOURCE k WITH (connector = 'kinesis', stream = 's', max_leases_per_worker = '2');
            """) == "job.sql:1:60: source k: max_leases_per_worker needs coordination = 'dynamodb'")
    }

    @Test func stateTableInitialSeedsAtPlanTime() throws {
        let prepared = try Planner.prepare(try EddyJob.JobParser.parse(path: "job.sql", text: source + """
            CREATE STATE TABLE totals (v TEXT PRIMARY KEY, n INTEGER NOT NULL) INITIAL AS SELECT 'seed', 5;
            """))
        #expect(try prepared.database.scalar("SELECT n FROM totals WHERE v = 'seed'") == .integer(5))
    }
}

import EddyJob

@Suite struct ScheduleTests {
    func plan(_ windows: String) throws -> Plan {
        try Replay.plan("CREATE SOURCE s WITH (connector = 'stdin');\n" + windows)
    }

    @Test func dueTimesFollowSparksRule() throws {
        let schedule = Schedule(plan: try plan(""), zeroTime: 5000)
        #expect(!schedule.isDue(slide: 2000, at: 5000)) // never at zero time itself
        #expect(schedule.isDue(slide: 2000, at: 7000))
        #expect(!schedule.isDue(slide: 2000, at: 8000))
        #expect(schedule.isDue(slide: 1000, at: 8000))
    }

    /// The last window that holds any input, for input ending at t = 8 s.
    @Test func replayDrainsUntilTheLastWindowWithInput() throws {
        #expect(Schedule(plan: try plan("CREATE WINDOW w ON s RANGE '3s' SLIDE '2s';"), zeroTime: 0).drainEnd(lastInput: 8000) == 10000)
        #expect(Schedule(plan: try plan("CREATE WINDOW w ON s RANGE '2s' SLIDE '3s';"), zeroTime: 0).drainEnd(lastInput: 8000) == 9000)
        #expect(Schedule(plan: try plan("CREATE WINDOW w1 ON s RANGE '2s' SLIDE '1s';\nCREATE WINDOW w2 ON w1 RANGE '2s' SLIDE '2s';"), zeroTime: 0).drainEnd(lastInput: 8000) == 10000)
        #expect(Schedule(plan: try plan(""), zeroTime: 0).drainEnd(lastInput: 8000) == 8000)
    }
}
