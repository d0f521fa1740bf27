import EddyBlocks
import EddyCore
import EddyEngine
import EddyIngest
import EddySinks
import Glibc

/// Issue 4's figures: windowed word count over 30 s every 10 s at 1 s
/// batches, the pre-aggregated form against the naive one; the stateful word
/// count; and what a long window over raw rows costs in memory.
enum WindowBench {
    static let source = "CREATE SOURCE lines (line TEXT) WITH (connector = 'generator', rate = 0);\n"

    static let naive = source + """
        CREATE STREAM words AS SELECT s.value AS word FROM lines, split(lines.line, ' ') AS s WHERE s.value <> '';
        CREATE WINDOW w ON words RANGE '30s' SLIDE '10s';
        SELECT word, count(*) AS n FROM w GROUP BY word ORDER BY n DESC LIMIT 10;
        """

    static let preAggregated = source + """
        CREATE STREAM batch_counts AS SELECT s.value AS word, count(*) AS n
          FROM lines, split(lines.line, ' ') AS s WHERE s.value <> '' GROUP BY s.value;
        CREATE WINDOW w ON batch_counts RANGE '30s' SLIDE '10s';
        SELECT word, sum(n) AS n FROM w GROUP BY word ORDER BY n DESC LIMIT 10;
        """

    static let stateful = source + """
        CREATE STATE TABLE totals (word TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO totals SELECT s.value, count(*) FROM lines, split(lines.line, ' ') AS s
          WHERE s.value <> '' GROUP BY s.value ON CONFLICT(word) DO UPDATE SET n = n + excluded.n;
        SELECT word, n FROM totals ORDER BY n DESC LIMIT 10;
        """

    static func run() {
        let batches = 60, perBatch = 20_000
        say("== windows: \(batches) batches × \(perBatch) lines of 8 words, 1 s batches ==")
        let lines = Bench.lines(batches: batches, perBatch: perBatch)
        let blocks = Bench.blocks(lines, ids: BlockIDSource())
        let total = batches * perBatch
        for (label, sql) in [("windowed word count 30s/10s, naive (window over every word)", naive),
                             ("windowed word count 30s/10s, pre-aggregated per batch", preAggregated),
                             ("stateful word count (UPSERT running totals)", stateful)] {
            let seconds = replay(sql, blocks)
            say("  \(label): \(Bench.rate(total, seconds)) lines/s (\(Bench.rate(total * 8, seconds)) words/s)")
        }
        // Memory is measured in a fresh process, so earlier figures' allocations do not count.
        _ = system("\"\(CommandLine.arguments[0])\" window-memory")
    }

    /// Runs the job over the blocks on virtual time; returns the seconds spent.
    static func replay(_ sql: String, _ blocks: [[Block]], settings: [(String, String)] = []) -> Double {
        let prepared = Bench.prepare(sql, overrides: settings)
        do {
            let runner = try JobRunner.standalone(prepared: prepared, zeroTime: 0)
            return try Bench.seconds {
                for (k, b) in blocks.enumerated() {
                    _ = try runner.runBatch(time: Int64(k + 1) * 1000, batchID: Int64(k + 1), blocks: b, payload: { $0.payload }, stdout: Bench.discard)
                }
            }
        } catch {
            say("  failed: \(error)")
            return 1
        }
    }

    /// A 2-minute window over raw lines at 50k lines/s: 6M rows in the window.
    /// SQLite's cache is capped, so the rows live in its temp file, not in RAM.
    static func longWindow() {
        say("== window memory ==")
        let batches = 150, perBatch = 50_000
        let job = source + """
            CREATE WINDOW recent ON lines RANGE '120s' SLIDE '10s';
            SELECT count(*), sum(length(line)) FROM recent;
            """
        let before = Bench.rssMB()
        let gen = WordGenerator(vocabulary: 1000, wordsPerLine: 8, seed: 1)
        let prepared = Bench.prepare(job, overrides: [("sqlite_cache", "64MB")])
        var peak = before
        var line: [UInt8] = []
        var seq: Int64 = 0
        do {
            let runner = try JobRunner.standalone(prepared: prepared, zeroTime: 0)
            let seconds = try Bench.seconds {
                for k in 1...batches {
                    // Made per batch, so the input itself is not held in memory.
                    var builder = BlockBuilder(columns: 1)
                    for _ in 0..<perBatch {
                        gen.line(shard: 0, seq: seq, into: &line)
                        seq += 1
                        _ = builder.beginRecord(arrival: 0)
                        line.withUnsafeBytes { builder.appendText($0) }
                        builder.endRecord()
                    }
                    let block = builder.seal(id: UInt64(k), source: 0, shard: "0", firstSeq: seq - Int64(perBatch), sealTime: Int64(k) * 1000)
                    _ = try runner.runBatch(time: Int64(k) * 1000, batchID: Int64(k), blocks: [block], payload: { $0.payload }, stdout: Bench.discard)
                    peak = max(peak, Bench.rssMB())
                }
            }
            let rows = 120 * perBatch
            say("  2-minute window over raw lines at \(perBatch / 1000)k lines/s (\(rows / 1_000_000)M rows, ~\(rows * 60 / 1_000_000) MB of text held): peak RSS \(Bench.format1(peak)) MB (\(Bench.format1(before)) MB before), sqlite_cache 64MB; \(Bench.rate(batches * perBatch, seconds)) lines/s")
        } catch {
            say("  long window failed: \(error)")
        }
    }
}
