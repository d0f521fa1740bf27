import EddyCore
@testable import EddyEngine
import Testing

/// Which per-batch steps run on a lane and which in batch order, decided
/// from what SQLite's authorizer saw each statement read and write.
@Suite struct PlacementTests {
    let source = "CREATE SOURCE s (k TEXT, v INTEGER) WITH (connector = 'stdin', format = 'csv');\n"

    func placements(_ sql: String) throws -> [StepPlacement] {
        try Replay.plan(source + sql, settings: [("parallelism", "2")]).placements
    }

    @Test func stepsOverTheBatchAloneRunOnTheLane() throws {
        let p = try placements("""
            CREATE TABLE lookup AS SELECT 'a' AS k, 1 AS w;
            CREATE STREAM joined AS SELECT s.k, s.v * lookup.w AS x FROM s JOIN lookup ON lookup.k = s.k;
            SELECT k, sum(x) FROM joined GROUP BY k;
            CREATE SINK out WITH (connector = 'file', path = '/nonexistent/x', format = 'csv');
            INSERT INTO out SELECT k, v FROM s;
            """)
        #expect(p == [.lane, .lane, .lane])
    }

    @Test func stateTablesAndWindowsRunInOrderWithTheirReason() throws {
        let p = try placements("""
            CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL);
            INSERT INTO totals SELECT k, count(*) FROM s WHERE true GROUP BY k ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
            SELECT k, n FROM totals;
            CREATE WINDOW w ON s RANGE '3s';
            SELECT count(*) FROM w;
            CREATE STREAM late AS SELECT k FROM w;
            SELECT count(*) FROM late;
            SELECT count(*) FROM s;
            """)
        #expect(p == [
            .lane, // the INSERT's rows, made on the lane (RowsOnLanesTests)
            .ordered("writes state table totals"),
            .ordered("reads state table totals"),
            .ordered("keeps window w, which every lane reads"),
            .ordered("reads window w"),
            .ordered("reads window w"),
            .ordered("reads stream late, which runs in order"),
            .lane,
        ])
    }

    /// A lane step runs before every in-order step of its batch: one that
    /// must see an earlier in-order step's effect goes in order too.
    @Test func hazardsWithEarlierInOrderStepsPutAStepInOrder() throws {
        let p = try placements("""
            CREATE STATE TABLE seen (k TEXT PRIMARY KEY);
            DELETE FROM s WHERE k IN (SELECT k FROM seen);
            SELECT count(*) FROM s;
            """)
        #expect(p == [.ordered("reads state table seen"), .ordered("reads s after an in-order step writes it")])
    }

    @Test func aTableMadeAtStartAndChangedPerBatchKeepsTheJobOnOneLane() throws {
        let plan = try Replay.plan(source + """
            CREATE TABLE history (k TEXT);
            INSERT INTO history SELECT k FROM s;
            SELECT count(*) FROM history;
            """, settings: [("parallelism", "4")])
        #expect(plan.lanes == 1)
        #expect(plan.singleLaneReason?.contains("writes table history, which was made at start") == true)
        #expect(plan.placements == [.ordered("writes table history, which later batches read"),
                                    .ordered("reads table history, which a per-batch statement changes")])
    }

    /// The word count a user writes first: split() in a bare GROUP BY, with
    /// no stream between. Its virtual table declaring its columns once read
    /// as a write to sqlite_master and put the job on one lane.
    @Test func aWordCountWithSplitRunsOnLanes() throws {
        let plan = try Replay.plan(source + """
            SELECT w.value AS word, count(*) AS n FROM s, split(s.k, ' ') AS w GROUP BY w.value;
            CREATE STREAM words AS SELECT w.value AS word FROM s, split(s.k, ' ') AS w;
            SELECT word, count(*) FROM words GROUP BY word;
            """, settings: [("parallelism", "2")])
        #expect(plan.lanes == 2, "\(plan.singleLaneReason ?? "")")
        #expect(plan.placements == [.lane, .lane, .lane])
    }

    @Test func parallelismIsASettingWithBounds() throws {
        #expect(try Replay.plan(source, settings: [("parallelism", "3")]).lanes == 3)
        #expect(try Replay.plan(source).settings.parallelism == Settings.cpusOnline)
        let zero = Replay.planErrors("SET parallelism = 0;\n" + source)
        #expect(zero?.contains("parallelism must be a whole number from 1 to 64") == true)
    }
}
