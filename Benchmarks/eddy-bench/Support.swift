import EddyBlocks
import EddyCore
import EddyEngine
import EddyIngest
import EddyJob
import EddySQL
import EddySinks
import Glibc

/// Shared pieces of the benchmarks.
enum Bench {
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let t0 = MonotonicTime.now()
        try body()
        return Double(MonotonicTime.now() - t0) / 1e9
    }

    static func rate(_ n: Int, _ s: Double) -> String {
        let r = Double(n) / s
        if r >= 1e6 { return String(format1(r / 1e6)) + "M" }
        if r >= 1e3 { return String(format1(r / 1e3)) + "k" }
        return format1(r)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func format1(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return String(r)
    }

    static func format2(_ v: Double) -> String {
        String((v * 100).rounded() / 100)
    }

    /// Lines as the generator makes them, `batches` × `perBatch`.
    static func lines(batches: Int, perBatch: Int, words: Int = 8, vocab: Int = 1000) -> [[[UInt8]]] {
        let gen = WordGenerator(vocabulary: vocab, wordsPerLine: words, seed: 42)
        var out: [[[UInt8]]] = []
        var line: [UInt8] = []
        var seq: Int64 = 0
        for _ in 0..<batches {
            var batch: [[UInt8]] = []
            batch.reserveCapacity(perBatch)
            for _ in 0..<perBatch {
                gen.line(shard: 0, seq: seq, into: &line)
                batch.append(line)
                seq += 1
            }
            out.append(batch)
        }
        return out
    }

    /// Blocks of those lines, cut at about 200ms worth each (5 per batch).
    static func blocks(_ batches: [[[UInt8]]], source: Int = 0, ids: BlockIDSource) -> [[Block]] {
        var seq: Int64 = 0
        return batches.enumerated().map { (k, lines) in
            var blocks: [Block] = []
            let per = max(1, lines.count / 5)
            var builder = BlockBuilder(columns: 1)
            for (i, line) in lines.enumerated() {
                _ = builder.beginRecord(arrival: Int64(k) * 1000)
                line.withUnsafeBytes { builder.appendText($0) }
                builder.endRecord()
                if builder.count == per || i == lines.count - 1 {
                    let n = builder.count
                    blocks.append(builder.seal(id: ids.next(), source: source, shard: "0", firstSeq: seq,
                                               sealTime: Int64(k + 1) * 1000))
                    seq += Int64(n)
                }
            }
            return blocks
        }
    }

    static func prepare(_ sql: String, overrides: [(String, String)] = []) -> PreparedJob {
        do {
            let job = try JobParser.parse(path: "bench.sql", text: sql)
            var options = PlanOptions()
            options.overrides = overrides
            return try Planner.prepare(job, options: options)
        } catch {
            say("bench job failed to plan: \(error)")
            exit(1)
        }
    }

    /// A job to hand to an `Engine`, which plans it on each of its lanes.
    static func parse(_ sql: String) -> Job {
        do {
            return try JobParser.parse(path: "bench.sql", text: sql)
        } catch {
            say("bench job failed to parse: \(error)")
            exit(1)
        }
    }

    /// Where benchmarks print what is measured but not looked at.
    nonisolated(unsafe) static let discard = nullSink()

    /// A stdout sink that discards (output formatting is not what is measured).
    static func nullSink() -> StdoutSink {
        StdoutSink(format: .csv, writer: OutputWriter(fd: open("/dev/null", O_WRONLY)))
    }

    /// CPU seconds used so far (user + system) by the whole process, or with
    /// `thread: true` by the calling thread only (RUSAGE_THREAD).
    static func cpuSeconds(thread: Bool = false) -> Double {
        var usage = rusage()
        // RUSAGE_THREAD (1) is only declared under _GNU_SOURCE, which Glibc's module does not set.
        let rusageThread: Int32 = 1
        guard getrusage(thread ? rusageThread : RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Resident memory of this process, MB.
    static func rssMB() -> Double {
        guard let text = try? Files.readAll("/proc/self/status") else { return 0 }
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb / 1024
        }
        return 0
    }
}

/// Prints a line straight to fd 1, so figures appear as they are measured
/// even when stdout is a pipe.
func say(_ line: String) {
    try? Files.writeAll(fd: 1, Array((line + "\n").utf8), path: "stdout")
}
