import EddyCore
import EddyEngine
import EddyIngest
import Glibc

/// Issue 3's end-to-end figure: live generator receivers (1, 2, 4 shards,
/// unlimited rate) feeding the engine's per-batch word count at 1 s batches.
/// Records/s is what the engine processed over the run; the receivers run on
/// their own threads alongside it. Then the same with a memory budget small
/// enough to force spilling.
///
/// The second figure counts every thread: records per CPU-second (getrusage,
/// user + system, the whole process) of the live run — generating, parsing,
/// block building, LZ4, the store and the engine — against the SQL-only run's,
/// so that the 10% target is judged on total CPU, not on the engine thread.
///
/// The third figure is the cost itself, measured in the live run: the CPU of
/// every thread but the engine's (the receivers) plus the engine thread's time
/// on blocks (`block_ms`: cutting, reading back, decompressing), as a share of
/// the run's CPU. This one does not depend on how two runs, seconds apart,
/// fare on a shared machine, where the ratio above drifts by 10–20%.
enum EndToEndBench {
    static func job(shards: Int) -> String {
        """
        SET batch_interval = '1s';
        CREATE SOURCE lines (line TEXT) WITH (connector = 'generator', rate = \(CoreBench.linesPerBatch / shards), shards = \(shards));
        CREATE STREAM words AS SELECT s.value AS word FROM lines, split(lines.line, ' ') AS s WHERE s.value <> '';
        SELECT word, count(*) AS n FROM words GROUP BY word ORDER BY n DESC LIMIT 10;
        """
    }

    static func run() {
        let rounds = 5
        say("== e2e: generator receivers (\(CoreBench.linesPerBatch / 1000)k lines/s in all) → per-batch word count, 1 s batches; each 10 s live run is paired with the mean of SQL-only runs on the same volume just before and after it, median of \(rounds) rounds ==")
        let sqlOnlyLines = Bench.lines(batches: 5, perBatch: CoreBench.linesPerBatch)
        let configs: [(String, Int, [(String, String)])] = [
            ("1 shard", 1, []), ("2 shards", 2, []), ("4 shards", 4, []),
            ("4 shards, memory_budget 1MB (spills)", 4, [("memory_budget", "1MB"), ("disk_budget", "256MB")]),
        ]
        let makingCPUPerRecord = makingLinesCPUPerRecord()
        say("  making the generator's random lines alone: \(Bench.rate(Int(1 / makingCPUPerRecord), 1)) lines per CPU-second")
        for (label, shards, overrides) in configs {
            var ratios: [Double] = [], rates: [Double] = []
            var cpuRatios: [Double] = [], cpuRates: [Double] = [], sqlCPURates: [Double] = []
            var shares: [Double] = [], sharesWithoutMaking: [Double] = []
            var last: Measured?
            // SQL-only runs before and after each live run, averaged, so that
            // the machine's drift over the round weighs on both sides alike.
            func sqlOnly() -> (seconds: Double, cpu: Double) {
                let cpu0 = Bench.cpuSeconds()
                let seconds = CoreBench.bareSQLite(sqlOnlyLines)
                return (seconds, Bench.cpuSeconds() - cpu0)
            }
            var before = sqlOnly()
            for _ in 0..<rounds {
                guard let m = measure(sql: job(shards: shards), overrides: overrides) else { return }
                let after = sqlOnly()
                let sqlSeconds = (before.seconds + after.seconds) / 2
                let sqlCPU = (before.cpu + after.cpu) / 2
                before = after
                let sqlRate = Double(5 * CoreBench.linesPerBatch) / sqlSeconds
                let sqlCPURate = Double(5 * CoreBench.linesPerBatch) / max(sqlCPU, 1e-9)
                ratios.append(m.busyRate / sqlRate)
                rates.append(m.busyRate)
                cpuRates.append(m.cpuRate)
                sqlCPURates.append(sqlCPURate)
                cpuRatios.append(m.cpuRate / sqlCPURate)
                let making = makingCPUPerRecord * Double(m.records)
                shares.append(m.receivingCPU / m.cpuSeconds)
                sharesWithoutMaking.append((m.receivingCPU - making) / max(m.cpuSeconds - making, 1e-9))
                last = m
            }
            guard let m = last else { continue }
            say("  \(label): \(Bench.rate(Int(Bench.median(rates)), 1)) records/s while busy = \(Bench.format2(Bench.median(ratios))) × SQL-only (rounds: \(ratios.map { Bench.format2($0) }.joined(separator: ", "))); spilled \(m.spilled), read back \(m.readBack) blocks in the last run, RSS \(Bench.format1(Bench.rssMB())) MB")
            say("    all threads: \(Bench.rate(Int(Bench.median(cpuRates)), 1)) records per CPU-second vs \(Bench.rate(Int(Bench.median(sqlCPURates)), 1)) SQL-only = \(Bench.format2(Bench.median(cpuRatios))) × (rounds: \(cpuRatios.map { Bench.format2($0) }.joined(separator: ", "))); \(Bench.format1(m.cpuSeconds)) CPU-s for \(m.records) records in the last run")
            // The generator also makes its random lines, which the SQL-only run
            // is handed ready-made: that part is the source's, not the receiver's.
            let liveCPUPerRecord = 1 / Bench.median(cpuRates)
            let withoutMaking = (1 / Bench.median(sqlCPURates)) / max(liveCPUPerRecord - makingCPUPerRecord, 1e-12)
            say("    without making the random lines (\(Bench.format1(100 * makingCPUPerRecord / liveCPUPerRecord))% of that CPU): \(Bench.format2(withoutMaking)) × SQL-only")
            let percents = { (xs: [Double]) in xs.map { Bench.format1(100 * $0) + "%" }.joined(separator: ", ") }
            say("    receivers + block store: \(Bench.format1(100 * Bench.median(shares)))% of the run's CPU (rounds: \(percents(shares))); \(Bench.format1(100 * Bench.median(sharesWithoutMaking)))% without making the random lines (rounds: \(percents(sharesWithoutMaking))); last run: receiver threads \(Bench.format2(m.receiverCPU)) CPU-s, engine on blocks \(Bench.format2(m.blockSeconds)) s, of \(Bench.format1(m.cpuSeconds)) CPU-s")
        }
    }

    /// CPU seconds per line for what the generator does before a line is a
    /// record: the words of line `seq` from the seed (defaults: 8 words, vocab 1000).
    static func makingLinesCPUPerRecord() -> Double {
        let words = WordGenerator(vocabulary: 1000, wordsPerLine: 8, seed: 0)
        var line: [UInt8] = []
        var bytes = 0
        let n = 2_000_000
        let cpu0 = Bench.cpuSeconds()
        for seq in 0..<n {
            words.line(shard: 0, seq: Int64(seq), into: &line)
            bytes &+= line.count
        }
        let cpu = Bench.cpuSeconds() - cpu0
        if bytes == 0 { say("  (no lines made)") }
        return cpu / Double(n)
    }

    struct Measured {
        var busyRate: Double
        var spilled: Int64
        var readBack: Int64
        /// Records of the whole run per CPU-second of the whole process.
        var cpuRate: Double
        var cpuSeconds: Double
        var records: Int64
        /// CPU of every thread but the engine's: the receivers.
        var receiverCPU: Double
        /// The engine thread's time on blocks (the sum of `block_ms`).
        var blockSeconds: Double
        var receivingCPU: Double { receiverCPU + blockSeconds }
    }

    static func measure(sql: String, overrides: [(String, String)]) -> Measured? {
        var planOptions = PlanOptions()
        planOptions.overrides = overrides
        var options = RunOptions()
        options.duration = 10_000
        options.quiet = true
        options.outputFD = open("/dev/null", O_WRONLY)
        defer { close(options.outputFD) }
        let engine = Engine(job: Bench.parse(sql), planOptions: planOptions, options: options, stop: StopSignal())
        // The engine's loop runs on this thread; the receivers on their own.
        let cpu0 = Bench.cpuSeconds(), engineCPU0 = Bench.cpuSeconds(thread: true)
        do {
            _ = try engine.run()
        } catch {
            say("  failed: \(error)")
            return nil
        }
        let cpu = Bench.cpuSeconds() - cpu0
        let engineCPU = Bench.cpuSeconds(thread: true) - engineCPU0
        let allRecords = engine.history.reduce(0) { $0 + $1.records }
        // The first batch is partial and the last one holds what arrived during
        // the stop; the steady batches in between are what is compared.
        let h = Array(engine.history.dropFirst().dropLast())
        let records = h.reduce(0) { $0 + $1.records }
        let processing = h.reduce(0.0) { $0 + $1.processingMs } / 1000
        return Measured(busyRate: Double(records) / max(processing, 1e-9),
                        spilled: engine.history.last?.spilledBlocks ?? 0, readBack: engine.history.last?.readBackBlocks ?? 0,
                        cpuRate: Double(allRecords) / max(cpu, 1e-9), cpuSeconds: cpu, records: allRecords,
                        receiverCPU: max(0, cpu - engineCPU),
                        blockSeconds: engine.history.reduce(0.0) { $0 + $1.blockMs } / 1000)
    }
}
