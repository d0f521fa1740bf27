import EddyCore
@testable import EddyEngine
import Testing

/// With several lanes, the query that makes an INSERT's rows into a state
/// table runs on the batch's lane as a stream of its own, and only the
/// write runs in order; the state and every answer stay those of one lane.
@Suite struct RowsOnLanesTests {
    let source = "CREATE SOURCE s (k TEXT, v INTEGER) WITH (connector = 'stdin', format = 'csv');\n"
    let inputs = ["s": [1: "a,1\nb,2\na,3\n", 2: "b,5\nc,7\n", 3: "", 4: "a,1\na,1\nz,9\n", 5: "c,2\nb,1\nc,4\n"]]

    @Test func updateStateByKeysAggregationRunsOnTheLane() throws {
        let sql = source + """
            CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL);
            INSERT INTO totals SELECT k, count(*) FROM s WHERE true GROUP BY k ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
            SELECT k, n FROM totals ORDER BY k;
            """
        let plan = try Replay.plan(sql, settings: [("parallelism", "2")])
        #expect(plan.lanes == 2)
        #expect(plan.steps == [.stream(0), .statement(0), .statement(1)])
        #expect(plan.streams.map(\.name) == ["eddy_rows_line_3"])
        #expect(plan.streams.first?.rowsOf == 0 && plan.streams.first?.inlinedInto == nil)
        #expect(plan.statements.first?.rowsFrom == 0)
        #expect(plan.placements == [.lane, .ordered("writes state table totals"), .ordered("reads state table totals")])
        let printed = PlanPrinter.describe(plan)
        #expect(printed.contains("stream eddy_rows_line_3  every batch\n      made by eddy: the rows of the statement below, so that they are made on the lane\n      on its lane"), "\(printed)")
        #expect(printed.contains("reads its rows from stream eddy_rows_line_3"))
        // The statement as written is what the plan shows.
        #expect(plan.statements.first?.sql.text.hasPrefix("INSERT INTO totals SELECT k, count(*) FROM s") == true)

        let one = try Replay.plan(sql, settings: [("parallelism", "1")])
        #expect(one.streams.isEmpty && one.steps == [.statement(0), .statement(1)])
        #expect(one.placements == [.ordered("writes state table totals"), .ordered("reads state table totals")])
    }

    /// Where the rows cannot be made apart, or would be made in order
    /// anyway, the insert stays one statement.
    @Test func anInsertStaysWholeWhereItsRowsCannotRunOnTheLane() throws {
        func made(_ sql: String) throws -> [String] {
            let plan = try Replay.plan(source + "CREATE STATE TABLE t (k TEXT PRIMARY KEY, n INTEGER);\n" + sql,
                                       settings: [("parallelism", "3")])
            return plan.streams.filter { $0.rowsOf != nil && $0.inlinedInto == nil }.map(\.name)
        }
        // Its rows read the state table itself.
        #expect(try made("INSERT INTO t SELECT s.k, s.v + coalesce(t.n, 0) FROM s LEFT JOIN t ON t.k = s.k WHERE true ON CONFLICT(k) DO UPDATE SET n = excluded.n;") == [])
        // Its rows are VALUES, or DEFAULT VALUES.
        #expect(try made("INSERT INTO t VALUES ('x', 1) ON CONFLICT(k) DO NOTHING;") == [])
        // Its rows call random().
        #expect(try made("INSERT OR REPLACE INTO t SELECT k, random() FROM s;") == [])
        // Its upsert reads the WITH clause, which goes with the rows.
        #expect(try made("""
            WITH m AS (SELECT max(v) AS top FROM s)
            INSERT INTO t SELECT k, v FROM s WHERE true ON CONFLICT(k) DO UPDATE SET n = (SELECT top FROM m);
            """) == [])
        // A sink or a private table is not state: nothing to split.
        #expect(try made("""
            CREATE SINK out WITH (connector = 'file', path = '/nonexistent/x', format = 'csv');
            INSERT INTO out SELECT k, v FROM s;
            """) == [])
        // And the plain update, the RETURNING form and a column list are split.
        #expect(try made("INSERT INTO t SELECT k, sum(v) FROM s WHERE true GROUP BY k ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;") == ["eddy_rows_line_3"])
        #expect(try made("INSERT INTO t (n, k) SELECT sum(v), k FROM s WHERE true GROUP BY k ON CONFLICT(k) DO UPDATE SET n = excluded.n RETURNING k, n;") == ["eddy_rows_line_3"])
        #expect(try made("""
            WITH m AS (SELECT k, max(v) AS top FROM s GROUP BY k)
            INSERT INTO t SELECT k, top FROM m WHERE true ON CONFLICT(k) DO UPDATE SET n = max(n, excluded.n);
            """) == ["eddy_rows_line_3"])
    }

    /// The rows go to the write in the query's order: a later row for the
    /// same key overwrites an earlier one exactly as in one statement. Every
    /// batch's output, RETURNING rows included, equals one lane's.
    @Test func theStateAndEveryAnswerAreThoseOfOneLane() throws {
        let sql = source + """
            CREATE STATE TABLE last (k TEXT PRIMARY KEY, v INTEGER, seen INTEGER NOT NULL DEFAULT 1);
            CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO last (k, v) SELECT k, v FROM s WHERE true ORDER BY v DESC
              ON CONFLICT(k) DO UPDATE SET v = excluded.v, seen = seen + 1 RETURNING k, v, seen;
            WITH b AS (SELECT k, sum(v) AS n FROM s GROUP BY k)
            INSERT INTO totals SELECT k, n FROM b WHERE true ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
            SELECT batch_time() AS t, k, n FROM totals ORDER BY k;
            SELECT k, v, seen FROM last ORDER BY k;
            """
        let three = try Replay.run(sql, inputs: inputs, settings: [("parallelism", "3")])
        let one = try Replay.run(sql, inputs: inputs, settings: [("parallelism", "1")])
        #expect(try Replay.plan(sql, settings: [("parallelism", "3")]).streams.filter { $0.inlinedInto == nil }.count == 2)
        #expect(three.output == one.output)
        let batches = three.table.batches
        #expect(batches.count == 5)
        // Batch 4 saw a twice: the larger v first, then 1 overwrote it.
        #expect(batches[3].tables.first == [["z", "9", "1"], ["a", "1", "3"], ["a", "1", "4"]], "\(three.output)")
        #expect(batches.last?.rows.contains(["a", "1", "4"]) == true, "\(three.output)")
        #expect(batches.last?.rows.contains(["5000", "c", "13"]) == true, "\(three.output)")
    }
}
