import EddyCore
import EddyEngine
import Glibc

/// Issue 3's end-to-end figure: live generator receivers (1, 2, 4 shards,
/// unlimited rate) feeding the engine's per-batch word count at 1 s batches.
/// Records/s is what the engine processed over the run; the receivers run on
/// their own threads alongside it. Then the same with a memory budget small
/// enough to force spilling.
enum EndToEndBench {
    static func job(shards: Int) -> String {
        """
        SET batch_interval = '1s';
        CREATE SOURCE lines (line TEXT) WITH (connector = 'generator', rate = 0, shards = \(shards));
        CREATE STREAM words AS SELECT s.value AS word FROM lines, split(lines.line, ' ') AS s WHERE s.value <> '';
        SELECT word, count(*) AS n FROM words GROUP BY word ORDER BY n DESC LIMIT 10;
        """
    }

    static func run() {
        say("== e2e: generator receivers → per-batch word count, 1 s batches, 8 s runs ==")
        for shards in [1, 2, 4] {
            measure(label: "\(shards) shard\(shards == 1 ? "" : "s")", sql: job(shards: shards), overrides: [])
        }
        measure(label: "4 shards, memory_budget 8MB (spills)", sql: job(shards: 4),
                overrides: [("memory_budget", "8MB"), ("disk_budget", "256MB")])
    }

    static func measure(label: String, sql: String, overrides: [(String, String)]) {
        let prepared = Bench.prepare(sql, overrides: overrides)
        var options = RunOptions()
        options.duration = 8000
        options.quiet = true
        options.outputFD = open("/dev/null", O_WRONLY)
        let engine = Engine(prepared: prepared, options: options, stop: StopSignal())
        var elapsed = 0.0
        do {
            elapsed = try Bench.seconds { _ = try engine.run() }
        } catch {
            say("  \(label): failed: \(error)")
            return
        }
        let h = engine.history
        let records = h.reduce(0) { $0 + $1.records }
        let processing = h.reduce(0.0) { $0 + $1.processingMs } / 1000
        let spilled = h.last?.spilledBlocks ?? 0
        let readBack = h.last?.readBackBlocks ?? 0
        say("  \(label): \(Bench.rate(Int(records), elapsed)) records/s over the run, engine \(Bench.rate(Int(records), processing)) records/s while busy; \(h.count) batches, spilled \(spilled), read back \(readBack), RSS \(Bench.format1(Bench.rssMB())) MB")
    }
}
