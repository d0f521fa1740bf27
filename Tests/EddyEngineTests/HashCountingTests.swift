import EddyCore
@testable import EddyEngine
import Testing

/// `SELECT k, count(*) ... GROUP BY k` is counted in a hash table instead of
/// SQLite's sort (Plan/HashCounting.swift). Every answer must be the one
/// SQLite gives with `hash_count = off`: the same rows, in the same order,
/// batch by batch, on one lane and on three.
@Suite struct HashCountingTests {
    let source = "CREATE SOURCE s (k TEXT, v INTEGER) WITH (connector = 'stdin', format = 'csv');\n"
    let inputs = ["s": [1: "b,1\na,2\nb,3\nA,4\n,5\né,6\n日本,7\n", 2: "z,5\nz,7\n", 3: "", 4: "a,1\na,1\nb,9\nb,10\nb,11\n",
                        5: "c,2\nb,1\nc,4\nc,12\nq,15\n"]]

    /// The job's output with hash counting on and off, on 1 and 3 lanes:
    /// all four must be the same bytes.
    func sameEverywhere(_ sql: String, inputs: [String: [Int: String]]? = nil,
                        sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> String {
        var outputs: [String: String] = [:]
        for lanes in ["1", "3"] {
            for hash in ["on", "off"] {
                outputs["\(lanes)/\(hash)"] = try Replay.run(source + sql, inputs: inputs ?? self.inputs,
                                                             settings: [("parallelism", lanes), ("hash_count", hash)]).output
            }
        }
        let reference = outputs["1/off"] ?? ""
        for (key, output) in outputs.sorted(by: { $0.key < $1.key }) {
            #expect(output == reference, "\(key) differs from 1/off:\n\(output)\n---\n\(reference)", sourceLocation: sourceLocation)
        }
        #expect(!reference.isEmpty, sourceLocation: sourceLocation)
        return reference
    }

    func counted(_ sql: String, settings: [(String, String)] = [("parallelism", "1")]) throws -> [Bool] {
        let plan = try Replay.plan(source + sql, settings: settings)
        return plan.steps.compactMap { step in
            switch step {
            case .stream(let i): return plan.streams[i].hashCounted
            case .statement(let i): return plan.statements[i].hashCounted
            case .window: return nil
            }
        }
    }

    @Test func aWordCountAnswersAsSQLitesSortDoes() throws {
        let sql = "SELECT batch_time() AS t, k AS word, count(*) AS n FROM s GROUP BY k;\n"
        #expect(try counted(sql) == [true])
        let out = try sameEverywhere(sql)
        // NULL first, then text by its bytes ('A' before 'a', 'é' after 'z').
        let batches = Table(out).batches
        #expect(batches.first?.tables.first?.map { $0.dropFirst().first ?? "" } == ["NULL", "A", "a", "b", "é", "日本"])
        #expect(batches.count == 5)
    }

    /// The three workloads of the side-by-side benchmark: a plain word
    /// count over split(), a window over per-batch counts, and running totals.
    @Test func theBenchmarksWorkloadsAnswerAsSQLitesSortDoes() throws {
        let lines = ["s": [1: "the cat,1\nthe dog the,2\n", 2: "a b c a,3\n", 3: "", 4: "dog cat cat,4\n"]]
        let wordcount = "SELECT batch_time() AS t, w.value AS word, count(*) AS n FROM s, split(s.k, ' ') AS w GROUP BY w.value;\n"
        #expect(try counted(wordcount) == [true])
        _ = try sameEverywhere(wordcount, inputs: lines)
        let window = """
            CREATE STREAM batch_counts AS SELECT w.value AS word, count(*) AS n FROM s, split(s.k, ' ') AS w GROUP BY w.value;
            CREATE WINDOW win ON batch_counts RANGE '3s' SLIDE '2s';
            SELECT batch_time() AS t, word, sum(n) AS n FROM win GROUP BY word;

            """
        #expect(try counted(window) == [true, false])
        _ = try sameEverywhere(window, inputs: lines)
        let totals = """
            CREATE STATE TABLE totals (word TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO totals SELECT w.value, count(*) FROM s, split(s.k, ' ') AS w WHERE true GROUP BY w.value
              ON CONFLICT(word) DO UPDATE SET n = n + excluded.n;
            SELECT batch_time() AS t, word, n FROM totals;

            """
        // One lane: the upsert itself reads the groups; three: its rows stream does.
        #expect(try counted(totals) == [true, false])
        #expect(try counted(totals, settings: [("parallelism", "3")]) == [true, false, false])
        _ = try sameEverywhere(totals, inputs: lines)
        let printed = PlanPrinter.describe(try Replay.plan(source + wordcount, settings: [("parallelism", "1")]))
        #expect(printed.contains("on its lane\n      GROUP BY counted in a hash table, not sorted (hash_count = on)"), "\(printed)")
    }

    /// Keys of every type in one batch: NULL, integers, text, '' — and a
    /// batch whose keys include a REAL, which may equal an integer and is
    /// left to SQLite's sort.
    @Test func keysOfEveryTypeGroupAsInSQLite() throws {
        let key = "CASE WHEN v % 5 = 0 THEN NULL WHEN v % 5 = 1 THEN v / 3 WHEN v % 5 = 2 THEN '' WHEN v = 9 THEN 3.0 ELSE k END"
        let sql = "SELECT \(key) AS key, count(*), 'x' || batch_time() AS tag FROM s GROUP BY \(key);\n"
        #expect(try counted(sql) == [true])
        let out = try sameEverywhere(sql)
        // Batch 4 has v = 9: the REAL 3.0 and the INTEGER 3 are one group there.
        #expect(out.contains("3.0") || out.contains(" 3 "), "\(out)")
    }

    /// Many distinct keys: the table grows while a batch is counted, and a
    /// later, smaller batch starts from an empty one.
    @Test func aHundredThousandDistinctKeys() throws {
        var big = ""
        for i in 0..<100_000 { big += "k\(i * 7919 % 100_003),\(i)\n" }
        big += "k5,1\nk5,2\n"
        let sql = "SELECT k, count(*) AS n FROM s GROUP BY k;\n"
        let out = try sameEverywhere(sql, inputs: ["s": [1: big, 2: "k5,1\nk6,2\nk5,3\n"]])
        let batches = Table(out).batches
        // One row per key (k5 is one of the 100,000).
        #expect(batches.first?.tables.first?.count == 100_000)
        #expect(batches.last?.tables.first?.suffix(2) == [["k5", "2"], ["k6", "1"]])
    }

    /// Queries that are not of the counted shape, or whose sort is not on
    /// one BINARY key, run as written.
    @Test func otherShapesRunAsWritten() throws {
        let left = [
            "SELECT k, count(*) FROM s GROUP BY k HAVING count(*) > 1;",
            "SELECT k, count(*) FROM s GROUP BY k ORDER BY count(*) DESC, k;",
            "SELECT k, count(*) AS n FROM s GROUP BY k ORDER BY n DESC LIMIT 2;",
            "SELECT k, count(*) FROM s GROUP BY k ORDER BY \"count(*)\", k;",
            "SELECT k, count(*) FROM s GROUP BY k ORDER BY k COLLATE NOCASE;",
            "SELECT k, count(*) FROM s GROUP BY k ORDER BY lower(k), k;",
            "SELECT k, count(*) AS k FROM s GROUP BY k ORDER BY k;",
            "SELECT k, count(*) FROM s GROUP BY 1;",
            "SELECT k, v, count(*) FROM s GROUP BY k, v;",
            "SELECT k, sum(v) FROM s GROUP BY k;",
            "SELECT k, count(v) FROM s GROUP BY k;",
            "SELECT k, count(*), max(v) FROM s GROUP BY k;",
            "SELECT k, count(*), v FROM s GROUP BY k;",
            "SELECT DISTINCT k, count(*) FROM s GROUP BY k;",
            "SELECT k COLLATE NOCASE, count(*) FROM s GROUP BY k COLLATE NOCASE;",
            "SELECT k AS kk, count(*) FROM s GROUP BY kk;",
            "SELECT k, count(*), random() AS r FROM s GROUP BY k;",
            "WITH t AS (SELECT k FROM s) SELECT k, count(*) FROM t GROUP BY k;",
            "SELECT k, count(*) FROM s GROUP BY k UNION ALL SELECT 'x', 1;",
        ]
        for sql in left {
            #expect(try counted(sql + "\n") == [false], "\(sql)")
        }
        // Each still answers as SQLite does (no random(): its values differ by run).
        for sql in left where !sql.contains("random") {
            _ = try sameEverywhere(sql + "\n")
        }
        // An alias without AS, and expressions of no column, are counted
        // (NOTNULL is an operator there, not an alias).
        let aliased = "SELECT k word, count(*) n, 1 + 2 AS three, NULL NOTNULL FROM s WHERE v > 1 GROUP BY k;\n"
        #expect(try counted(aliased) == [true])
        let out = try sameEverywhere(aliased)
        #expect(out.contains("NULL NOTNULL") && out.contains("word"), "\(out)")
    }

    /// The top-N word count of `sql/quickstart.sql`: an ORDER BY of result
    /// columns that includes the key, and a LIMIT.
    @Test func anOrderByThatIncludesTheKeyAndALimitAreKept() throws {
        let kept = [
            "SELECT k AS word, count(*) AS n FROM s GROUP BY k ORDER BY n DESC, word LIMIT 3;",
            "SELECT k, count(*) AS n FROM s GROUP BY k ORDER BY n DESC, k;",
            "SELECT count(*), k FROM s GROUP BY k ORDER BY 1 DESC, 2 DESC NULLS LAST LIMIT 2 OFFSET 1;",
            "SELECT k, count(*) FROM s GROUP BY k LIMIT 2;",
        ]
        let ties = ["s": [1: "b,1\na,2\nb,3\nc,4\nd,5\nd,6\n,7\n,8\n", 2: "z,5\ny,7\nx,1\n", 4: "q,1\n"]]
        for sql in kept {
            #expect(try counted(sql + "\n") == [true], "\(sql)")
            _ = try sameEverywhere(sql + "\n", inputs: ties)
        }
        let top = try sameEverywhere(kept[0] + "\n", inputs: ties)
        #expect(Table(top).batches.first?.tables.first == [["NULL", "2"], ["b", "2"], ["d", "2"]], "\(top)")
        // The quickstart's words stream, inlined into its top-5 query, which is counted.
        let plan = try Replay.plan(source + """
            CREATE STREAM words AS SELECT w.value AS word FROM s, split(s.k, ' ') AS w WHERE w.value <> '';
            SELECT word, count(*) AS n FROM words GROUP BY word ORDER BY n DESC, word LIMIT 5;
            """)
        #expect(plan.streams.first?.inlinedInto == 1 && plan.statements.first?.hashCounted == true)
    }

    @Test func theSettingIsASwitch() {
        var settings = Settings()
        #expect(settings.hashCount)
        if case .failure(let e) = settings.set("hash_count", "maybe") {
            #expect(e.message == "hash_count must be on or off, not 'maybe'")
        } else {
            Issue.record("hash_count = maybe was accepted")
        }
        #expect((try? settings.set("hash_count", "off").get()) != nil)
        #expect(!settings.hashCount)
    }
}
