import EddyCore
@testable import EddyEngine
import EddyIngest
import EddyJob
import EddyMonitor
import Foundation
import Glibc
import Testing

/// A live job in this process: real receiver threads, real sockets, the wall clock.
final class LiveRun: @unchecked Sendable {
    let engine: Engine
    let stop = StopSignal()
    let outPath: String
    let fd: Int32
    let dir: Scratch
    private let done = ConditionLock<(finished: Bool, error: String?)>((false, nil))

    init(_ sql: String, settings: [(String, String)] = [], duration: Int64? = nil, batches: Int? = nil) throws {
        dir = try Scratch()
        outPath = dir.path + "/out.csv"
        fd = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var planOptions = PlanOptions()
        planOptions.overrides = settings
        var options = RunOptions()
        options.format = .csv
        options.outputFD = fd
        options.quiet = true
        options.duration = duration
        options.batches = batches
        engine = Engine(job: try JobParser.parse(path: "job.sql", text: sql), planOptions: planOptions, options: options, stop: stop)
    }

    deinit { close(fd) }

    /// Runs to the end on this thread.
    func run() throws {
        _ = try engine.run()
    }

    /// Runs on a background thread until `finish()`. The thread is not
    /// kept: it holds this run until the engine returns, and a run holding
    /// its thread would make a cycle that is never freed.
    func start() {
        Thread { [self] in
            do { _ = try engine.run() } catch { done.update { $0.error = "\(error)" } }
            done.update { $0.finished = true }
        }.start()
    }

    func finish(timeoutMs: Int64 = 30_000) -> String? {
        stop.request()
        let r = done.wait(until: { $0.finished }, timeoutMs: timeoutMs, then: { $0 })
        return r == nil ? "engine did not stop" : r!.error
    }

    var rows: [[String]] {
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }
}

@Suite(.serialized) struct LiveReceiverTests {
    /// Four generator shards, a memory budget so small that nearly every block
    /// spills: every record arrives exactly once, in order within its shard,
    /// with the content the generator made for it.
    @Test func fourShardsUnderATinyMemoryBudgetAccountForEveryRecord() throws {
        let spill = try Scratch()
        let run = try LiveRun("""
            CREATE SOURCE lines WITH (connector = 'generator', rate = 3000, shards = 4, words = 5, vocab = 300, seed = 9);
            SELECT _shard, count(*), min(_seq), max(_seq), sum(length(line)), batch_time() FROM lines GROUP BY _shard;
            """, settings: [("batch_interval", "300ms"), ("block_interval", "50ms"), ("memory_budget", "2KB"),
                           ("spill_dir", spill.path)], duration: 3000)
        try run.run()
        // Spill files are read back and deleted: none is left after the run.
        #expect(try FileManager.default.contentsOfDirectory(atPath: spill.path).isEmpty)
        let history = run.engine.history
        #expect((history.last?.spilledBlocks ?? 0) > 10)
        #expect((history.last?.readBackBlocks ?? 0) > 10)

        var next: [String: Int64] = [:], lengths: [String: Int64] = [:]
        var lastBatch: [String: Int64] = [:]
        for row in run.rows {
            let shard = row[0]
            let (count, lo, hi, length, time) = (Int64(row[1])!, Int64(row[2])!, Int64(row[3])!, Int64(row[4])!, Int64(row[5])!)
            // This batch's records follow the last batch's without gap or overlap.
            #expect(lo == next[shard, default: 0], "shard \(shard) batch \(time)")
            #expect(hi - lo + 1 == count)
            #expect(time > lastBatch[shard, default: 0])
            next[shard] = hi + 1
            lengths[shard, default: 0] += length
            lastBatch[shard] = time
        }
        #expect(Set(next.keys) == ["0", "1", "2", "3"])
        let words = WordGenerator(vocabulary: 300, wordsPerLine: 5, seed: 9)
        var line: [UInt8] = []
        for (shard, total) in next {
            #expect(total > 3000) // about 3 s at 3000/s
            var expected: Int64 = 0
            for seq in 0..<total {
                words.line(shard: Int(shard)!, seq: seq, into: &line)
                expected += Int64(line.count)
            }
            #expect(lengths[shard] == expected, "content of shard \(shard)")
        }
        let counted = history.reduce(0) { $0 + $1.records }
        #expect(counted == next.values.reduce(0, +))
    }

    /// max_rate, counted over a run: within 10% of the limit per receiver.
    @Test func maxRateHoldsOverARun() throws {
        let run = try LiveRun("""
            SET max_rate = 2000;
            CREATE SOURCE lines WITH (connector = 'generator', rate = 0, shards = 2);
            SELECT _shard, count(*) FROM lines GROUP BY _shard;
            """, settings: [("batch_interval", "500ms")], duration: 6000)
        try run.run()
        // Count whole batches only: the first is partial, the last holds the stop.
        let h = Array(run.engine.history.dropFirst().dropLast())
        #expect(h.count >= 8)
        for shard in ["lines/0", "lines/1"] {
            let records = h.reduce(0) { $0 + ($1.recordsPerShard[shard] ?? 0) }
            let perSecond = Double(records) / (Double(h.count) * 0.5)
            #expect(abs(perSecond - 2000) / 2000 < 0.10, "\(shard): \(perSecond)/s")
        }
    }

    /// With backpressure on, initial_rate caps the first batches; then the PID
    /// estimator learns that batches are processed fast and raises the rate.
    @Test func initialRateCapsTheFirstBatchesThenBackpressureAdapts() throws {
        let run = try LiveRun("""
            SET backpressure = on;
            SET initial_rate = 400;
            CREATE SOURCE lines WITH (connector = 'generator', rate = 0);
            SELECT count(*) FROM lines;
            """, settings: [("batch_interval", "500ms")], duration: 5000)
        try run.run()
        let h = run.engine.history
        #expect(h.count >= 8)
        // 400/s for 0.5 s batches: about 200 records each until the estimator has a figure.
        #expect(h[1].records <= 260, "\(h.map(\.records))")
        #expect(h.compactMap(\.rate).count >= 4)
        let later = h.dropLast().suffix(3).map(\.records)
        #expect(later.allSatisfy { $0 > 3 * h[1].records }, "\(h.map(\.records))")
    }

    /// `listen`: producers connect at the same time and push lines; each
    /// connection is its own receiver and shard, and keeps its order.
    @Test func listenTakesSeveralConcurrentProducers() throws {
        let probe = try #require(try? TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get())
        let port = probe.localPort
        probe.close()
        let run = try LiveRun("""
            CREATE SOURCE pushed (producer INTEGER, n INTEGER) WITH (connector = 'listen', address = '127.0.0.1:\(port)', format = 'csv', max_connections = 8);
            SELECT _shard, producer, n, _seq FROM pushed;
            """, settings: [("batch_interval", "200ms")])
        run.start()
        let producers = 5, perProducer = 20_000
        let finished = ConditionLock(0)
        for p in 0..<producers {
            Thread {
                var socket: TCPSocket?
                for _ in 0..<100 where socket == nil {
                    socket = try? TCPSocket.connect(to: HostPort(host: "127.0.0.1", port: port)).get()
                    if socket == nil { usleep(50_000) }
                }
                if let socket {
                    var text = ""
                    for n in 0..<perProducer { text += "\(p),\(n)\n" }
                    _ = Array(text.utf8).withUnsafeBytes { socket.writeAll($0) }
                    socket.close()
                }
                finished.update { $0 += 1 }
            }.start()
        }
        #expect(finished.wait(until: { $0 == producers }, timeoutMs: 30_000, then: { _ in true }) == true)
        #expect(eventually(timeout: 30) { run.rows.count >= producers * perProducer })
        #expect(run.finish() == nil)

        let rows = run.rows
        #expect(rows.count == producers * perProducer)
        var byShard: [String: [(producer: Int, n: Int, seq: Int)]] = [:]
        for r in rows { byShard[r[0], default: []].append((Int(r[1])!, Int(r[2])!, Int(r[3])!)) }
        #expect(byShard.count == producers)
        var seenProducers: Set<Int> = []
        for (shard, records) in byShard {
            // One producer per connection, every line once, in the order it was sent.
            let producer = Set(records.map(\.producer))
            #expect(producer.count == 1, "shard \(shard)")
            seenProducers.formUnion(producer)
            let ordered = records.sorted { $0.seq < $1.seq }
            #expect(ordered.map(\.n) == Array(0..<perProducer), "shard \(shard)")
        }
        #expect(seenProducers == Set(0..<producers))
    }
}

func eventually(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}
