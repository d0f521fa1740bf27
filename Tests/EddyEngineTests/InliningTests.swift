import EddyCore
@testable import EddyEngine
import Testing

/// A stream that exactly one later step reads is a view into that step,
/// not a table filled and emptied every batch; when inlining could change
/// an answer, the stream stays a table.
@Suite struct InliningTests {
    let source = "CREATE SOURCE s (k TEXT, v INTEGER) WITH (connector = 'stdin', format = 'csv');\n"
    let inputs = ["s": [1: "a,1\nb,2\na,3\n", 2: "b,5\nc,7\n", 3: "", 4: "a,1\na,1\nz,9\n"]]

    func inlined(_ sql: String, settings: [(String, String)] = []) throws -> [String: Int?] {
        let plan = try Replay.plan(source + sql, settings: settings)
        // The job's own streams, not those eddy makes of an INSERT's rows.
        return Dictionary(uniqueKeysWithValues: plan.streams.filter { $0.rowsOf == nil }.map { ($0.name, $0.inlinedInto) })
    }

    @Test func aStreamWithOneReaderIsAViewIntoIt() throws {
        let plan = try Replay.plan(source + """
            CREATE STREAM words AS SELECT k, v * 2 AS w FROM s WHERE v > 1;
            SELECT k, sum(w) FROM words GROUP BY k ORDER BY k;
            """)
        #expect(plan.streams[0].inlinedInto == 1)
        #expect(PlanPrinter.describe(plan).contains("not materialized: inlined as a view into its one reader [job.sql:3:1]"))
    }

    /// The reader's rows are the same whether the stream is a view (one
    /// reader) or a table (a second reader keeps it one), batch by batch.
    @Test func inliningLeavesTheAnswerUnchanged() throws {
        let query = """
            CREATE STREAM words AS SELECT k, v * 2 AS w FROM s WHERE v > 1;
            CREATE STREAM again AS SELECT k, w + 1 AS w FROM words;
            SELECT k, sum(w), count(*) FROM again GROUP BY k ORDER BY k;
            """
        let viewed = try Replay.run(source + query, inputs: inputs)
        let tabled = try Replay.run(source + query + "\nSELECT count(*) FROM again;\n", inputs: inputs)
        #expect(try inlined(query) == ["words": 1, "again": 2])
        #expect(try inlined(query + "\nSELECT count(*) FROM again;\n") == ["words": 1, "again": nil])
        let a = viewed.table.batches, b = tabled.table.batches
        #expect(a.count == 4 && a.count == b.count)
        for (x, y) in zip(a, b) {
            #expect(x.time == y.time)
            #expect(x.tables.first == y.tables.first)
        }
        #expect(a.flatMap(\.rows).contains(["a", "7", "1"]) && a.flatMap(\.rows).contains(["z", "19", "1"]))
    }

    /// A stream's table compares its columns with BINARY (`CREATE TABLE ...
    /// AS` keeps no collation); a view would keep `COLLATE NOCASE` from
    /// the query, and the reader's `GROUP BY` would merge 'A' and 'a'.
    @Test func aColumnWithACollationKeepsTheStreamATable() throws {
        let query = """
            CREATE STREAM folded AS SELECT k COLLATE NOCASE AS w FROM s;
            SELECT w, count(*) FROM folded GROUP BY w;
            """
        #expect(try inlined(query) == ["folded": nil])
        let plain = """
            CREATE STREAM plain AS SELECT k COLLATE BINARY AS w FROM s;
            SELECT w, count(*) FROM plain GROUP BY w;
            """
        #expect(try inlined(plain) == ["plain": 1])
        let cased = ["s": [1: "a,1\nA,2\na,3\n", 2: "B,1\nb,2\n"]]
        for hash in ["on", "off"] {
            let out = try Replay.run(source + query, inputs: cased, settings: [("hash_count", hash)])
            #expect(out.table.batches.map { $0.rows } == [[["A", "1"], ["a", "2"]], [["B", "1"], ["b", "1"]]], "\(out.output)")
        }
    }

    @Test func aStreamStaysATableWhenInliningCouldChangeAnAnswer() throws {
        // Two readers.
        #expect(try inlined("""
            CREATE STREAM t AS SELECT k FROM s;
            SELECT count(*) FROM t;
            SELECT k FROM t;
            """) == ["t": nil])
        // A window takes its rows.
        #expect(try inlined("""
            CREATE STREAM t AS SELECT k FROM s;
            CREATE WINDOW w ON t RANGE '2s';
            SELECT count(*) FROM w;
            """) == ["t": nil])
        // A different value per call.
        #expect(try inlined("""
            CREATE STREAM t AS SELECT k, random() AS r FROM s;
            SELECT count(DISTINCT r) FROM t;
            """) == ["t": nil])
        // A step between writes what the stream reads.
        #expect(try inlined("""
            CREATE STATE TABLE seen (k TEXT PRIMARY KEY);
            CREATE STREAM fresh AS SELECT k FROM s WHERE k NOT IN (SELECT k FROM seen);
            INSERT OR IGNORE INTO seen SELECT k FROM s;
            SELECT k FROM fresh;
            """) == ["fresh": nil])
        // Nobody reads it.
        #expect(try inlined("CREATE STREAM t AS SELECT k FROM s;\nSELECT 1 FROM s;") == ["t": nil])
    }

    /// A stream over a window emits at the window's slide; a reader on
    /// another schedule would see a view change between emissions.
    @Test func aReaderOnAnotherScheduleKeepsTheTable() throws {
        #expect(try inlined("""
            CREATE WINDOW w ON s RANGE '2s' SLIDE '2s';
            CREATE WINDOW w3 ON s RANGE '3s' SLIDE '3s';
            CREATE STREAM t AS SELECT k FROM w;
            SELECT count(*) FROM t, w3;
            """) == ["t": nil])
    }

    /// With lanes, a stream on a lane whose one reader runs in order stays
    /// a table: inlined, the stream's work would move into the ordered tail.
    /// On one lane there is no tail to keep it out of.
    @Test func anInOrderReaderOfALaneStreamKeepsTheTableWhenThereAreLanes() throws {
        let sql = """
            CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER);
            CREATE STREAM t AS SELECT k, v FROM s WHERE v > 0;
            DELETE FROM totals WHERE k IN (SELECT k FROM t);
            """
        #expect(try inlined(sql, settings: [("parallelism", "3")]) == ["t": nil])
        #expect(try inlined(sql, settings: [("parallelism", "1")]) == ["t": 1])
        // An INSERT's rows are made on the lane (RowsOnLanes.swift): the
        // stream is inlined into them there, and the tail only writes.
        let upsert = """
            CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER);
            CREATE STREAM t AS SELECT k, v FROM s WHERE v > 0;
            INSERT INTO totals SELECT k, count(*) FROM t WHERE true GROUP BY k ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
            """
        let plan = try Replay.plan(source + upsert, settings: [("parallelism", "3")])
        #expect(plan.streams.map(\.name) == ["t", "eddy_rows_line_4"])
        #expect(plan.streams.first?.inlinedInto == 1 && plan.steps[1] == .stream(1))
        #expect(plan.placements == [.lane, .lane, .ordered("writes state table totals")])
        #expect(try inlined(upsert, settings: [("parallelism", "1")]) == ["t": 1])
    }
}
