import EddyCore
import EddyIngest
import Foundation
import Glibc
import Testing

/// A producer that writes far faster than the job can process: eddy's budgets
/// fill, its receivers stop reading, TCP pushes back on the producer, eddy's
/// memory stays bounded, and every record is still counted once.
@Suite struct BackpressureTests {
    static let records = 1_500_000

    /// Lines `id,<60 random hex digits>`: they barely compress, so the budgets fill.
    static func payload() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(records * 70)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let hex = Array("0123456789abcdef".utf8)
        for id in 0..<records {
            out += Array(String(id).utf8)
            out.append(UInt8(ascii: ","))
            for _ in 0..<60 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                out.append(hex[Int(state >> 60)])
            }
            out.append(0x0A)
        }
        return out
    }

    /// Seconds to push `bytes` into a connection read by `drain`.
    static func push(_ bytes: [UInt8], to port: UInt16) -> Double? {
        guard let socket = try? TCPSocket.connect(to: HostPort(host: "127.0.0.1", port: port)).get() else { return nil }
        let t0 = MonotonicTime.now()
        let ok = bytes.withUnsafeBytes { socket.writeAll($0) }
        let seconds = Double(MonotonicTime.now() - t0) / 1e9
        socket.close()
        return ok ? seconds : nil
    }

    @Test func aFastProducerIsSlowedByTCPAndNothingIsLost() throws {
        let bytes = Self.payload()

        // Baseline: the same bytes into a reader that only discards them.
        let sink = try #require(try? TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get())
        let drained = ConditionLock(false)
        Thread {
            if let c = sink.accept(timeoutMs: 10_000)?.socket {
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                loop: while true {
                    switch buffer.withUnsafeMutableBytes({ c.read(into: $0, timeoutMs: 5000) }) {
                    case .data: continue
                    default: break loop
                    }
                }
            }
            drained.update { $0 = true }
        }.start()
        let baseline = try #require(Self.push(bytes, to: sink.localPort))
        _ = drained.wait(until: { $0 }, timeoutMs: 10_000, then: { _ in true })

        let probe = try #require(try? TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get())
        let port = probe.localPort
        probe.close()
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '1s';
            SET memory_budget = '4MB';
            SET disk_budget = '8MB';
            SET block_max_bytes = '256KB';
            SET sqlite_cache = '16MB';
            CREATE SOURCE pushed (id INTEGER, pad TEXT) WITH (connector = 'listen', address = '127.0.0.1:\(port)', format = 'csv');
            -- Slow on purpose: every batch also does a fixed amount of work.
            SELECT count(*) AS n, sum(id) AS s,
                   (SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT x FROM c)) AS busy
              FROM pushed;
            """)
        let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--format", "csv"])
        #expect(eventually { eddy.currentStderr.contains("listening on") })

        // Sample eddy's resident memory while the producer pushes.
        let peak = ConditionLock<(kb: Int, done: Bool)>((0, false))
        Thread {
            while !peak.withLock({ $0.done }) {
                if let status = try? String(contentsOfFile: "/proc/\(eddy.pid)/status", encoding: .utf8),
                   let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                   let kb = line.split(separator: " ").compactMap({ Int($0) }).first {
                    peak.withLock { $0.kb = max($0.kb, kb) }
                }
                usleep(50_000)
            }
        }.start()

        let pushSeconds = try #require(Self.push(bytes, to: port))
        let n = Self.records
        func counted() -> (Int, Int) {
            var count = 0, sum = 0
            for line in eddy.currentStdout.split(separator: "\n") {
                let p = line.split(separator: ",").compactMap { Int($0) }
                if p.count == 3 { count += p[0]; sum += p[1] }
            }
            return (count, sum)
        }
        #expect(eventually(timeout: 120) { counted().0 >= n })
        peak.withLock { $0.done = true }
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        #expect(r.status == 0)

        // Nothing lost, nothing twice: the count and the sum of ids are exact.
        let (count, sum) = counted()
        #expect(count == n)
        #expect(sum == n * (n - 1) / 2)
        // The producer was held back by TCP: far slower than into a plain reader.
        #expect(pushSeconds > 3 * baseline, "push \(pushSeconds)s vs baseline \(baseline)s")
        // Receivers paused, and said so.
        let pauses = metricsLines(r.stderr).compactMap { Int($0["pauses"] ?? "") }.max() ?? 0
        #expect(pauses > 0)
        #expect(r.stderr.contains("receivers pause"))
        // Memory stayed within the budget plus a fixed margin, while ~100 MB
        // went through. Every further lane holds a batch in flight of its
        // own (its rows in SQLite, its thread's malloc arena): 16 MB each.
        // Under a sanitizer (scripts/sanitize.sh sets EDDY_SANITIZER), most
        // of the process's memory is the sanitizer's own (ASan's quarantine
        // and shadow, TSan's shadow): the bound holds for eddy, which the
        // plain run measures; a sanitized run measures only that memory was read.
        let lanes = Int(ProcessInfo.processInfo.environment["EDDY_TEST_PARALLELISM"] ?? "")
            ?? sysconf(Int32(_SC_NPROCESSORS_ONLN))
        let allowanceMB = 4 + 80 + 16 * Double(max(0, lanes - 1))
        let peakMB = Double(peak.withLock { $0.kb }) / 1024
        #expect(peakMB > 0)
        if ProcessInfo.processInfo.environment["EDDY_SANITIZER"] == nil {
            #expect(peakMB < allowanceMB, "peak RSS \(peakMB) MB on \(lanes) lanes")
        }
        #expect(bytes.count > 90 << 20)
    }
}
