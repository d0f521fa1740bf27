import EddyCore
@testable import EddyEngine
import EddyJob
import Foundation
import Testing

/// The engine on virtual time: batch k is at k × batch_interval, with no sleeping.
@Suite struct ReplayEngineTests {
    @Test func batchTimesIdsAndEddysColumns() throws {
        let r = try Replay.run("""
            SET batch_interval = '2s';
            CREATE SOURCE s WITH (connector = 'stdin');
            SELECT batch_time(), batch_id(), line, _shard, _seq, _arrival_ms FROM s ORDER BY _seq;
            """, inputs: ["s": [1: "a\nb\n", 3: "c\n"]], format: "csv")
        #expect(r.output.split(separator: "\n") == [
            "2000,1,a,0,0,2000",
            "2000,1,b,0,1,2000",
            "6000,3,c,0,2,6000",
        ])
        // A missing file is an empty batch, still run.
        #expect(r.history.map(\.batchTime) == [2000, 4000, 6000])
        #expect(r.history.map(\.records) == [2, 0, 1])
    }

    @Test func batchesLimitStopsEarly() throws {
        let r = try Replay.run("CREATE SOURCE s WITH (connector = 'stdin');\nSELECT count(*) FROM s;",
                               inputs: ["s": [1: "a\n", 2: "b\n", 3: "c\n"]], batches: 2)
        #expect(r.history.count == 2)
    }

    @Test func statementsRunInFileOrderAndSeeEarlierChanges() throws {
        let r = try Replay.run("""
            CREATE SOURCE s (k TEXT, v INTEGER) WITH (connector = 'stdin', format = 'csv');
            CREATE TABLE seen (k TEXT PRIMARY KEY, total INTEGER);
            INSERT INTO seen SELECT k, sum(v) FROM s GROUP BY k ON CONFLICT(k) DO UPDATE SET total = total + excluded.total;
            DELETE FROM s WHERE v < 0;
            SELECT k, total, (SELECT count(*) FROM s) AS left FROM seen ORDER BY k;
            """, inputs: ["s": [1: "a,1\nb,2\nb,-1\n", 2: "a,10\n"]], format: "csv")
        #expect(r.output.split(separator: "\n") == ["a,1,2", "b,1,2", "a,11,1", "b,1,1"])
    }

    @Test func returningRowsAreOutputs() throws {
        let r = try Replay.run("""
            CREATE SOURCE s (k TEXT) WITH (connector = 'stdin', format = 'csv');
            CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER);
            INSERT INTO t SELECT k, count(*) FROM s WHERE true GROUP BY k
              ON CONFLICT(k) DO UPDATE SET n = n + excluded.n RETURNING k, n;
            """, inputs: ["s": [1: "x\nx\ny\n", 2: "x\n"]], format: "csv")
        #expect(Set(r.output.split(separator: "\n")) == ["x,2", "y,1", "x,3"])
        #expect(r.output.split(separator: "\n").last == "x,3")
    }

    @Test func aFailingStatementStopsTheRunWithItsPlace() throws {
        #expect {
            _ = try Replay.run("""
                CREATE SOURCE s (k TEXT) WITH (connector = 'stdin', format = 'csv');
                CREATE TABLE t (k TEXT PRIMARY KEY);
                INSERT INTO t SELECT k FROM s;
                """, inputs: ["s": [1: "x\nx\n"]])
        } throws: { error in
            "\(error)".hasPrefix("job.sql:3:1: batch 1000:") && "\(error)".contains("UNIQUE constraint failed")
        }
    }

    @Test func theLiveSchedulerRunsOnAnInjectedClockWithoutSleeping() throws {
        let job = try JobParser.parse(path: "job.sql", text: """
            CREATE SOURCE s WITH (connector = 'generator', rate = 50);
            SELECT count(*) FROM s;
            """)
        var options = RunOptions()
        options.clock = VirtualClock(start: 1_000_000_500)
        options.batches = 50
        options.quiet = true
        options.outputFD = open("/dev/null", O_WRONLY)
        defer { close(options.outputFD) }
        let engine = Engine(job: job, options: options, stop: StopSignal())
        let started = MonotonicTime.now()
        _ = try engine.run()
        // 50 one-second batches on the virtual clock: far less than 50 s of wall time.
        #expect(MonotonicTime.now() - started < 20_000_000_000)
        let times = engine.history.map(\.batchTime)
        // The first batch is one interval after the next boundary (see Engine.setUp).
        #expect(times.first == 1_000_002_000)
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 1000 })
        #expect(times.count == 50)
    }

    @Test func tableFormatPrintsAHeaderPerBatchThatRan() throws {
        let r = try Replay.run("""
            CREATE SOURCE s WITH (connector = 'stdin');
            CREATE WINDOW w ON s RANGE '2s' SLIDE '2s';
            SELECT count(*) AS n FROM w;
            """, inputs: ["s": [1: "a\n", 2: "b\n", 3: "c\n"]])
        // Due at 2 s and 4 s only; batches 1 and 3 print nothing.
        #expect(r.output == """
            --- batch 2000 ---
            n
            -
            2
            --- batch 4000 ---
            n
            -
            1

            """)
    }
}

@Suite struct FileOrderTests {
    /// A stream defined after a state update sees the update in the same batch.
    @Test func perBatchStepsRunInFileOrder() throws {
        let r = try Replay.run("""
            CREATE SOURCE s (k TEXT) WITH (connector = 'stdin', format = 'csv');
            CREATE STATE TABLE seen (k TEXT PRIMARY KEY, n INTEGER NOT NULL);
            INSERT INTO seen SELECT k, count(*) FROM s WHERE true GROUP BY k ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
            CREATE STREAM totals AS SELECT k, n FROM seen;
            SELECT k, n FROM totals ORDER BY k;
            """, inputs: ["s": [1: "a\na\n", 2: "a\nb\n"]], format: "csv")
        #expect(r.output.split(separator: "\n") == ["a,2", "a,3", "b,1"])
        let plan = try Replay.plan("""
            CREATE SOURCE s (k TEXT) WITH (connector = 'stdin', format = 'csv');
            SELECT 1 FROM s;
            CREATE STREAM x AS SELECT k FROM s;
            SELECT 2 FROM x;
            """)
        let kinds = plan.steps.map { step -> String in
            switch step {
            case .stream: return "stream"
            case .window: return "window"
            case .statement(let i): return "statement \(i)"
            }
        }
        #expect(kinds == ["statement 0", "stream", "statement 1"])
    }
}
