import EddySQL
import Foundation
import Testing

/// `parallelism = N` changes how fast a job runs, never what it gives: with
/// one lane and with three, the same stdout byte for byte, the same sink
/// files and sink tables, and the same state. Nor does `hash_count`.
@Suite struct ParallelismTests {
    /// Every job in sql/, over a replay fixture (the generator and socket
    /// jobs over the fixture of the source of the same name).
    static let sqlJobs: [(job: String, replay: String)] = [
        ("quickstart", "network_wordcount"),
        ("network_wordcount", "network_wordcount"),
        ("file_wordcount", "file_wordcount"),
        ("kinesis_wordcount", "kinesis_wordcount"),
        ("sensor_alerts", "sensor_alerts"),
        ("sessions", "sessions"),
        ("stateful_wordcount", "stateful_wordcount"),
        ("windowed_wordcount", "windowed_wordcount"),
    ]

    @Test(arguments: sqlJobs.map(\.job))
    func everySQLJobPrintsTheSameBytesOnOneAndThreeLanes(_ name: String) throws {
        let replay = try #require(Self.sqlJobs.first { $0.job == name }?.replay)
        let dir = EddyProcess.repoRoot + "/samples/replay/" + replay
        var outputs: [String] = []
        for lanes in [1, 3] {
            let r = try EddyProcess.run(["run", "sql/\(name).sql", "--replay", dir, "--quiet", "--set", "parallelism=\(lanes)"])
            #expect(r.status == 0, "\(name), \(lanes) lane(s): \(r.stderr)")
            outputs.append(r.stdout)
        }
        #expect(!outputs[0].isEmpty)
        #expect(outputs[0] == outputs[1], "\(name): one lane and three lanes differ")
        // The word counts are counted in a hash table (README, Runtime): with
        // it off, SQLite's sort gives the same bytes.
        let sorted = try EddyProcess.run(["run", "sql/\(name).sql", "--replay", dir, "--quiet", "--set", "hash_count=off"])
        #expect(sorted.status == 0, "\(name), hash_count=off: \(sorted.stderr)")
        #expect(sorted.stdout == outputs[0], "\(name): hash_count on and off differ")
    }

    @Test func jsonEventsFromStdinPrintTheSameBytesOnOneAndThreeLanes() throws {
        let text = try String(contentsOfFile: EddyProcess.repoRoot + "/samples/events.jsonl", encoding: .utf8)
        var outputs: [String] = []
        for lanes in [1, 3] {
            let r = try EddyProcess.run(["run", "sql/json_events.sql", "--format", "jsonl", "--quiet", "--set", "parallelism=\(lanes)"], stdin: text)
            #expect(r.status == 0, "\(r.stderr)")
            outputs.append(r.stdout)
        }
        #expect(!outputs[0].isEmpty && outputs[0] == outputs[1])
    }

    /// A job with every kind of step, lane and in order, interleaved in the
    /// file: streams, a window over a stream and a window over that window,
    /// a state table with an UPSERT and a DELETE … RETURNING, outputs before
    /// and after in-order steps, sinks written from both, and a lookup table
    /// made at start. 80 batches of input, each run with a checkpoint.
    static let mixedJob = """
        SET batch_interval = '1s';
        CREATE SOURCE ev (k TEXT, v INTEGER) WITH (connector = 'stdin', format = 'csv');
        CREATE TABLE weights AS SELECT 'a' AS k, 10 AS w UNION ALL SELECT 'b', 20 UNION ALL SELECT 'c', 30;
        CREATE STREAM weighted AS SELECT ev.k, ev.v * coalesce(weights.w, 1) AS wv FROM ev LEFT JOIN weights ON weights.k = ev.k;
        SELECT k, count(*) AS n, sum(wv) AS s FROM weighted GROUP BY k ORDER BY k;
        CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL, last INTEGER NOT NULL);
        INSERT INTO totals SELECT k, count(*), batch_time() FROM ev WHERE true GROUP BY k
          ON CONFLICT(k) DO UPDATE SET n = n + excluded.n, last = excluded.last;
        CREATE SINK per_batch WITH (connector = 'file', path = 'OUT/files/per_batch', format = 'csv');
        INSERT INTO per_batch SELECT batch_time() AS t, k, sum(v) AS s FROM ev GROUP BY k ORDER BY k;
        CREATE WINDOW w5 ON weighted RANGE '5s' SLIDE '2s';
        CREATE WINDOW w10 ON w5 RANGE '10s' SLIDE '4s';
        SELECT window_end() AS at, k, count(*) AS n FROM w5 GROUP BY k ORDER BY k;
        CREATE SINK rows WITH (connector = 'sqlite', path = 'OUT/sink.db', table = 'rows');
        INSERT INTO rows SELECT batch_time() AS t, k, v FROM ev ORDER BY _seq;
        INSERT INTO rows SELECT window_end() AS t, k, sum(wv) FROM w10 GROUP BY k ORDER BY k;
        DELETE FROM totals WHERE last < batch_time() - 3000 RETURNING k, n;
        SELECT count(*) AS events, coalesce(sum(v), 0) AS total FROM ev;
        """

    @Test func aJobWithEveryKindOfStepGivesTheSameOutputSinksAndState() throws {
        let dir = try TempDir()
        var rng = SplitMix(seed: 13)
        var batches: [String] = []
        for _ in 1...80 {
            var text = ""
            for _ in 0..<Int(rng.next() % 40) {
                let key = ["a", "b", "c", "d", "e"][Int(rng.next() % 5)]
                text += "\(key),\(1 + rng.next() % 9)\n"
            }
            batches.append(text)
        }
        var results: [Snapshot] = []
        for lanes in [1, 3] {
            let out = dir.path + "/n\(lanes)"
            try FileManager.default.createDirectory(atPath: out + "/files", withIntermediateDirectories: true)
            for (k, text) in batches.enumerated() where !text.isEmpty {
                try dir.write("n\(lanes)/replay/ev/" + String(format: "%06d", k + 1) + ".txt", text)
            }
            try dir.write("n\(lanes)/job.sql", Self.mixedJob.replacingOccurrences(of: "OUT", with: out))
            let r = try EddyProcess.run(["run", out + "/job.sql", "--replay", out + "/replay", "--checkpoint", out + "/ckpt",
                                         "--quiet", "--set", "parallelism=\(lanes)"], timeout: 120)
            #expect(r.status == 0, "\(lanes) lane(s): \(r.stderr)")
            results.append(try Snapshot(out, stdout: r.stdout))
        }
        #expect(results[0].stdout.count > 1000)
        #expect(results[0].files.count > 50)
        #expect(results[0].stdout == results[1].stdout)
        #expect(results[0].files == results[1].files)
        #expect(results[0].sinkRows == results[1].sinkRows)
        #expect(results[0].state == results[1].state)
    }

    /// `eddy check` says where each step runs, and why.
    @Test func checkSaysWhichStepsRunOnALaneAndWhichInOrder() throws {
        let dir = try TempDir()
        try dir.write("job.sql", Self.mixedJob.replacingOccurrences(of: "OUT", with: dir.path))
        let r = try EddyProcess.run(["check", dir.path + "/job.sql", "--set", "parallelism=3"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("lanes: 3"))
        #expect(r.stdout.contains("in order: writes state table totals"))
        #expect(r.stdout.contains("in order: keeps window w5, which every lane reads"))
        #expect(r.stdout.contains("in order: reads window w5"))
        #expect(r.stdout.contains("on its lane"))
    }

    /// The metrics line names the lane that ran each batch and the batches in
    /// flight when it was handed over: a 30-batch replay on three lanes uses
    /// more than one lane and never has more than three batches at once.
    @Test func theMetricsLineNamesTheLaneAndTheBatchesInFlight() throws {
        let dir = try TempDir()
        var words = SplitMix(seed: 7)
        for k in 1...30 {
            let lines = (0..<4000).map { _ in (0..<8).map { _ in "w\(words.next() % 500)" }.joined(separator: " ") }
            try dir.write(String(format: "replay/lines/%06d.txt", k), lines.joined(separator: "\n") + "\n")
        }
        let r = try EddyProcess.run(["run", "sql/network_wordcount.sql", "--replay", dir.path + "/replay", "--set", "parallelism=3"])
        #expect(r.status == 0, "\(r.stderr.suffix(1500))")
        let lines = metricsLines(r.stderr)
        #expect(lines.count >= 30)
        let lanes = lines.compactMap { $0["lane"].flatMap { Int($0) } }
        let inFlight = lines.compactMap { $0["in_flight"].flatMap { Int($0) } }
        #expect(lanes.count == lines.count && inFlight.count == lines.count, "every line has both: \(lines.first ?? [:])")
        #expect(lanes.allSatisfy { (0..<3).contains($0) }, "\(lanes)")
        #expect(inFlight.allSatisfy { (1...3).contains($0) }, "\(inFlight)")
        #expect(Set(lanes).count >= 2, "a replay keeps more than one lane busy: \(lanes)")
        #expect(inFlight.contains { $0 >= 2 }, "\(inFlight)")
    }

    /// What one run left behind, to compare.
    struct Snapshot {
        var stdout: String
        var files: [String: String]
        var sinkRows: [[SQLValue]]
        var state: [[SQLValue]]

        init(_ out: String, stdout: String) throws {
            self.stdout = stdout
            files = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: out + "/files") {
                files[name] = try String(contentsOfFile: out + "/files/" + name, encoding: .utf8)
            }
            sinkRows = try Soak.rows(out + "/sink.db", "SELECT * FROM rows ORDER BY rowid")
            state = try Soak.rows(out + "/ckpt/checkpoint.db", "SELECT * FROM totals ORDER BY k")
        }
    }
}
