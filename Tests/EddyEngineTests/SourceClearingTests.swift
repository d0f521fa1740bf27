import EddyCore
@testable import EddyEngine
import EddyJob
import Testing

/// A batch's source and stream tables are emptied before its transaction,
/// so that their pages are filled again without first being copied to the
/// in-memory rollback journal (README, Performance: peak RSS). A table with
/// a job trigger is still emptied inside the batch's transaction, where its
/// trigger's writes belong.
@Suite struct SourceClearingTests {
    let sources = """
        CREATE SOURCE s (k TEXT, v INTEGER) WITH (connector = 'stdin', format = 'csv');
        CREATE SOURCE u (k TEXT) WITH (connector = 'stdin', format = 'csv');

        """

    @Test func onlyTablesWithoutATriggerAreEmptiedBeforeTheBatch() throws {
        let prepared = try Planner.prepare(try JobParser.parse(path: "job.sql", text: sources + """
            CREATE TABLE log (v);
            CREATE TRIGGER keep AFTER DELETE ON s BEGIN INSERT INTO log VALUES (old.v); END;
            CREATE STREAM big AS SELECT k, v FROM s WHERE v > 1;
            CREATE STREAM kept AS SELECT k FROM u;
            CREATE TRIGGER count_kept AFTER INSERT ON kept BEGIN INSERT INTO log VALUES (new.k); END;
            SELECT count(*) FROM big;
            SELECT count(*) FROM big;
            SELECT count(*) FROM kept;
            SELECT count(*) FROM kept;
            """))
        let runner = try JobRunner.standalone(prepared: prepared, zeroTime: 0)
        #expect(prepared.plan.sources.map(\.name) == ["s", "u"])
        #expect(runner.clearsSourceEarly == [false, true])
        #expect(prepared.plan.streams.map(\.name) == ["big", "kept"])
        #expect(runner.clearsStreamEarly == [true, false])
    }

    /// The clearing DELETE still fires a source's trigger once per row, in
    /// the next batch, and the streams' rows are each batch's own.
    @Test func aDeleteTriggerSeesEachBatchsRowsOnce() throws {
        let sql = sources + """
            CREATE TABLE log (v);
            CREATE TRIGGER keep AFTER DELETE ON s BEGIN INSERT INTO log VALUES (old.v); END;
            CREATE STREAM big AS SELECT k, v FROM s WHERE v > 1;
            SELECT count(*) AS logged, coalesce(sum(v), 0) AS total FROM log;
            SELECT (SELECT count(*) FROM big) AS big, (SELECT group_concat(k) FROM big) AS keys, (SELECT count(*) FROM u) AS u;
            SELECT k FROM big ORDER BY k;
            """
        let run = try Replay.run(sql, inputs: ["s": [1: "a,1\nb,2\nc,3\n", 2: "d,5\n", 3: "", 4: "e,7\nf,1\n"],
                                               "u": [1: "x\n", 3: "y\nz\n"]],
                                 settings: [("parallelism", "1")])
        let batches = run.table.batches
        #expect(batches.count == 4)
        guard batches.count == 4 else { return }
        // The log holds the earlier batches' rows, deleted as each new batch begins.
        #expect(batches.map { $0.tables.first?.first } == [["0", "0"], ["3", "6"], ["4", "11"], ["4", "11"]])
        #expect(batches.map { $0.tables.dropFirst().first?.first } == [["2", "b,c", "1"], ["1", "d", "0"], ["0", "NULL", "2"], ["1", "e", "0"]])
    }
}
