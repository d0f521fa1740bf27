import CSQLite
import Glibc
import EddyBlocks
import EddyCore
import EddyEngine
import EddyIngest
import EddySQL
import EddySinks

/// Issue 2's figure: per-batch word count over generator lines at 1 s batches,
/// through eddy's engine (block decode, bind, stream, query) against the same
/// SQL run by a bare loop over SQLite on the same rows.
enum CoreBench {
    static let job = """
        SET batch_interval = '1s';
        CREATE SOURCE lines (line TEXT) WITH (connector = 'generator', rate = 0);
        CREATE STREAM words AS SELECT s.value AS word FROM lines, split(lines.line, ' ') AS s WHERE s.value <> '';
        SELECT word, count(*) AS n FROM words GROUP BY word ORDER BY n DESC LIMIT 10;
        """

    /// Lines per 1 s batch in both this and the end-to-end benchmark, so
    /// their figures compare.
    static let linesPerBatch = 60_000

    static func run() {
        let batches = 10, perBatch = CoreBench.linesPerBatch, rounds = 5
        say("== core: generator → per-batch word count, \(batches) batches × \(perBatch) lines of 8 words (1 s batches), median of \(rounds) alternating rounds ==")
        let lines = Bench.lines(batches: batches, perBatch: perBatch)
        let ids = BlockIDSource()
        var blocks: [[Block]] = []
        let receiverSeconds = Bench.seconds { blocks = Bench.blocks(lines, ids: ids) }
        let total = batches * perBatch

        // eddy: the engine's own path, batch by batch; and the same with
        // main's cache (so SQLite's sort memory) at 256MB, as it was before
        // sort_memory (2026-12-04), for the before/after of one lane.
        let runner: JobRunner, before: JobRunner
        do {
            runner = try JobRunner.standalone(prepared: Bench.prepare(job), zeroTime: 0)
            before = try JobRunner.standalone(prepared: Bench.prepare(job, overrides: [("sort_memory", "256MB")]), zeroTime: 0)
        } catch {
            say("setup failed: \(error)")
            return
        }
        // Alternate them, several rounds, and compare medians: the machine
        // is shared and single runs drift.
        var eddyTimes: [Double] = [], beforeTimes: [Double] = [], rawTimes: [Double] = []
        var time: Int64 = 0
        func run(_ r: JobRunner) -> Double {
            Bench.seconds {
                for b in blocks {
                    time += 1000
                    _ = try? r.runBatch(time: time, batchID: time / 1000, blocks: b, payload: { $0.payload }, stdout: Bench.discard)
                }
            }
        }
        for _ in 0..<rounds {
            eddyTimes.append(run(runner))
            beforeTimes.append(run(before))
            rawTimes.append(bareSQLite(lines))
        }
        let eddySeconds = Bench.median(eddyTimes), beforeSeconds = Bench.median(beforeTimes), rawSeconds = Bench.median(rawTimes)

        let eddyRate = Double(total) / eddySeconds, rawRate = Double(total) / rawSeconds
        say("  eddy engine:        \(Bench.rate(total, eddySeconds)) records/s  (\(Bench.format1(eddySeconds * 1000 / Double(batches))) ms per \(perBatch / 1000)k-line batch, \(Bench.rate(total * 8, eddySeconds)) words/s)")
        say("  eddy engine, sort_memory = 256MB (main's cache before 2026-12-04): \(Bench.rate(total, beforeSeconds)) records/s; default ÷ that: \(Bench.format2(beforeSeconds / eddySeconds))")
        say("  bare SQLite loop (2MB cache and the stream a view, as eddy runs it): \(Bench.rate(total, rawSeconds)) records/s")
        say("  eddy / bare SQLite: \(Bench.format2(eddyRate / rawRate))  (overhead \(Bench.format1((1 - eddyRate / rawRate) * 100))%)")
        say("  receiver side (parse + block + LZ4, on receiver threads): \(Bench.rate(total, receiverSeconds)) records/s per thread")
    }

    static func bareSQLite(_ batches: [[[UInt8]]]) -> Double {
        do {
            let db = try Database(path: "")
            try db.execute("""
                PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;
                PRAGMA secure_delete = OFF; PRAGMA cache_size = -2048;
                CREATE TABLE lines (line TEXT);
                CREATE TEMP VIEW words AS SELECT s.value AS word FROM lines, split(lines.line, ' ') AS s WHERE s.value <> '';
                """)
            let insert = try db.prepare("INSERT INTO lines VALUES (?1)")
            let query = try db.prepare("SELECT word, count(*) AS n FROM words GROUP BY word ORDER BY n DESC LIMIT 10")
            let clearLines = try db.prepare("DELETE FROM lines")
            let begin = try db.prepare("BEGIN"), commit = try db.prepare("COMMIT")
            return try Bench.seconds {
                for batch in batches {
                    try begin.run()
                    try clearLines.run()
                    for line in batch {
                        try line.withUnsafeBufferPointer { b in
                            try insert.bindStaticText(1, b.baseAddress ?? UnsafePointer(RecordCursor.emptyByte), b.count)
                            _ = try insert.step()
                            insert.reset()
                        }
                    }
                    while try query.step() { _ = query.textBytes(0) }
                    query.reset()
                    try commit.run()
                }
            }
        } catch {
            say("bare SQLite loop failed: \(error)")
            return 1
        }
    }
}
