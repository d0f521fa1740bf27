import EddyCore
import EddyIngest
import EddySQL
import Foundation
import Glibc
import Testing

/// eddy killed with SIGKILL at random moments and restarted: nothing lost,
/// nothing written twice, windows as if it never crashed.
@Suite(.serialized) struct CrashRecoveryTests {
    static let job = """
        CREATE SOURCE s (k TEXT, v INTEGER) WITH (connector = 'stdin', format = 'csv');
        CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL, v INTEGER NOT NULL);
        INSERT INTO totals SELECT k, count(*), sum(v) FROM s WHERE true GROUP BY k
          ON CONFLICT(k) DO UPDATE SET n = n + excluded.n, v = v + excluded.v;
        CREATE WINDOW w ON s RANGE '5s' SLIDE '2s';
        CREATE SINK wfile WITH (connector = 'file', path = 'OUT/win', format = 'csv');
        INSERT INTO wfile SELECT k, count(*) AS n, sum(v) AS v FROM w GROUP BY k ORDER BY k;
        CREATE SINK rows WITH (connector = 'sqlite', path = 'OUT/sink.db', table = 'rows');
        INSERT INTO rows SELECT batch_time() AS t, k, v, _seq FROM s;
        -- Some work per batch, so that kills land in the middle of runs.
        SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT x FROM c);
        """

    static func rows(_ db: String, _ sql: String) throws -> [[SQLValue]] {
        let d = try Database(path: db, readOnly: true)
        let s = try d.prepare(sql, persistent: false)
        var out: [[SQLValue]] = []
        while try s.step() { out.append(s.row) }
        return out
    }

    static func files(_ dir: String) -> [String: String] {
        var out: [String: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix("win-") {
            out[name] = try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)
        }
        return out
    }

    @Test func aReplayKilledTwentyTimesEndsExactlyLikeOneThatNeverCrashed() throws {
        let dir = try TempDir()
        var rng = SplitMix(seed: 2026)
        var totals: [String: (n: Int, v: Int)] = [:]
        for k in 1...400 {
            var text = ""
            for _ in 0..<(20 + Int(rng.next() % 60)) {
                let key = String(UnicodeScalar(UInt8(97 + rng.next() % 8)))
                let v = 1 + Int(rng.next() % 9)
                text += "\(key),\(v)\n"
                totals[key, default: (0, 0)].n += 1
                totals[key, default: (0, 0)].v += v
            }
            try dir.write("replay/s/" + String(repeating: "0", count: 6 - String(k).count) + "\(k).txt", text)
        }
        try dir.write("ref.sql", Self.job.replacingOccurrences(of: "OUT", with: dir.path + "/ref"))
        try dir.write("crash.sql", Self.job.replacingOccurrences(of: "OUT", with: dir.path + "/crashed"))

        let started = MonotonicTime.now()
        let reference = try EddyProcess.run(["run", dir.path + "/ref.sql", "--replay", dir.path + "/replay", "--quiet"], timeout: 300)
        #expect(reference.status == 0, "\(reference.stderr)")
        // Each run is killed after 1–4% of the time the whole replay takes
        // uninterrupted (at least 100 ms), so that twenty kills land before
        // the replay's end on a fast machine as on a slow one.
        let referenceMs = Int((MonotonicTime.now() - started) / 1_000_000)
        let killAfterMs = max(100, referenceMs / 100)
        let killSpanMs = max(100, referenceMs * 3 / 100)

        var kills = 0, runs = 0, finished = false
        while !finished && runs < 200 {
            runs += 1
            let eddy = try EddyProcess(["run", dir.path + "/crash.sql", "--replay", dir.path + "/replay",
                                        "--checkpoint", dir.path + "/ckpt", "--quiet"])
            usleep(UInt32(1000 * (killAfterMs + Int(rng.next() % UInt64(killSpanMs)))))
            if kills < 20 && eddy.process.isRunning {
                eddy.signal(SIGKILL)
                _ = try eddy.wait(timeout: 30)
                kills += 1
                continue
            }
            let r = try eddy.wait(timeout: 300)
            #expect(r.status == 0, "run \(runs): \(r.stderr)")
            if r.status != 0 { return }
            // Finished: either after the twentieth kill, or too early to count.
            finished = true
        }
        #expect(kills >= 20, "the uninterrupted replay took \(referenceMs) ms")
        #expect(finished)

        // The SQLite sink: every row once, none lost, none twice.
        let query = "SELECT t, k, v, _seq FROM rows ORDER BY t, _seq"
        let crashedRows = try Self.rows(dir.path + "/crashed/sink.db", query)
        #expect(crashedRows == (try Self.rows(dir.path + "/ref/sink.db", query)))
        #expect(crashedRows.count == totals.values.reduce(0) { $0 + $1.n })
        // The file sink: the window's output of every slide, as without crashes.
        let crashedFiles = Self.files(dir.path + "/crashed")
        #expect(crashedFiles.count > 50)
        #expect(crashedFiles == Self.files(dir.path + "/ref"))
        // The state table: the exact totals of the input.
        let state = try Self.rows(dir.path + "/ckpt/checkpoint.db", "SELECT k, n, v FROM totals ORDER BY k")
        #expect(state == totals.sorted { $0.key < $1.key }.map { [.text($0.key), .integer(Int64($0.value.n)), .integer(Int64($0.value.v))] })
    }

    /// A socket producer that reads eddy's acknowledgements: every record
    /// acknowledged (received and in the log) is counted exactly once, however
    /// often eddy is killed (20 times); the state table agrees with the sink,
    /// and every window, including those right after a restart, holds exactly
    /// the committed batches of its range.
    @Test func everyAcknowledgedSocketRecordIsCountedOnceAcrossKills() throws {
        let server = try #require(try? TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get())
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '200ms';
            SET block_interval = '50ms';
            CREATE SOURCE ev (id INTEGER) WITH (connector = 'socket', address = '127.0.0.1:\(server.localPort)', format = 'csv', ack = on);
            CREATE STATE TABLE totals (k INTEGER PRIMARY KEY, n INTEGER NOT NULL);
            INSERT INTO totals SELECT id % 10, count(*) FROM ev WHERE true GROUP BY id % 10
              ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
            CREATE WINDOW w ON ev RANGE '1s' SLIDE '400ms';
            CREATE SINK wfile WITH (connector = 'file', path = '\(dir.path)/out/win', format = 'csv');
            INSERT INTO wfile SELECT count(*) AS n, coalesce(sum(id), 0) AS s FROM w;
            CREATE SINK rows WITH (connector = 'sqlite', path = '\(dir.path)/sink.db', table = 'rows');
            INSERT INTO rows SELECT id, batch_time() AS t FROM ev;
            """)
        final class Log: @unchecked Sendable {
            let lock = ConditionLock<(connections: [(ids: [Int], acked: Int)], done: Bool)>(([], false))
        }
        let log = Log()
        let total = 80_000
        Thread {
            var next = 0
            while next < total {
                guard let conn = server.accept(timeoutMs: 30_000)?.socket else { break }
                let index = log.lock.withLock { s -> Int in s.connections.append(([], 0)); return s.connections.count - 1 }
                // Acknowledgements come back on the same connection.
                Thread {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    var pending = ""
                    loop: while true {
                        switch buffer.withUnsafeMutableBytes({ conn.read(into: $0, timeoutMs: 1000) }) {
                        case .data(let n):
                            pending += String(decoding: buffer[0..<n], as: UTF8.self)
                            while let nl = pending.firstIndex(of: "\n") {
                                let line = pending[..<nl]
                                if line.hasPrefix("ack "), let a = Int(line.dropFirst(4)) {
                                    log.lock.withLock { $0.connections[index].acked = max($0.connections[index].acked, a) }
                                }
                                pending = String(pending[pending.index(after: nl)...])
                            }
                        case .timeout: continue
                        default: break loop
                        }
                    }
                }.start()
                while next < total {
                    let chunk = (next..<min(total, next + 200)).map { "\($0)\n" }.joined()
                    guard Array(chunk.utf8).withUnsafeBytes({ conn.writeAll($0) }) else { break }
                    log.lock.withLock { $0.connections[index].ids += Array(next..<min(total, next + 200)) }
                    next += 200
                    usleep(50_000)
                }
                if next >= total {
                    // Keep the last connection open until the test is done with it.
                    _ = log.lock.wait(until: { $0.done }, timeoutMs: 120_000, then: { _ in true })
                }
                conn.close()
            }
        }.start()

        var rng = SplitMix(seed: 7)
        for _ in 0..<20 {
            let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--checkpoint", dir.path + "/ckpt", "--quiet"])
            usleep(UInt32(400_000 + rng.next() % 600_000))
            eddy.signal(SIGKILL)
            _ = try eddy.wait(timeout: 30)
        }
        // A last run takes in the rest and stops gracefully.
        let last = try EddyProcess(["run", dir.path + "/job.sql", "--checkpoint", dir.path + "/ckpt", "--quiet"])
        let sent = { log.lock.withLock { $0.connections.reduce(0) { $0 + $1.ids.count } } }
        #expect(eventually(timeout: 120) { sent() >= total })
        usleep(1_500_000)
        last.signal(SIGTERM)
        let r = try last.wait(timeout: 60)
        log.lock.update { $0.done = true }
        #expect(r.status == 0, "\(r.stderr)")

        var counts: [Int: Int] = [:]
        for row in try Self.rows(dir.path + "/sink.db", "SELECT id FROM rows") {
            if case .integer(let id) = row[0] { counts[Int(id), default: 0] += 1 }
        }
        #expect(counts.values.allSatisfy { $0 == 1 }, "no record counted twice")
        let connections = log.lock.withLock { $0.connections }
        #expect(connections.count >= 15)
        var acked = 0
        for c in connections {
            for id in c.ids.prefix(c.acked) {
                #expect(counts[id] == 1, "acknowledged record \(id) counted \(counts[id] ?? 0) times")
            }
            acked += min(c.acked, c.ids.count)
        }
        #expect(acked > total / 2)

        // The state table holds exactly what the sink holds: committed together.
        let state = try Self.rows(dir.path + "/ckpt/checkpoint.db", "SELECT sum(n) FROM totals")
        #expect(state == [[.integer(Int64(counts.count))]])
        // Every window emitted, before or after a restart, holds exactly the
        // committed batches in (T - 1s, T]: windows rebuilt from the log.
        var byBatch: [Int64: (n: Int64, s: Int64)] = [:]
        for row in try Self.rows(dir.path + "/sink.db", "SELECT t, count(*), sum(id) FROM rows GROUP BY t") {
            if case .integer(let t) = row[0], case .integer(let n) = row[1], case .integer(let s) = row[2] { byBatch[t] = (n, s) }
        }
        let windows = Self.files(dir.path + "/out")
        #expect(windows.count > 20)
        for (name, text) in windows {
            guard let t = Int64(name.dropFirst(4).dropLast(4)) else { Issue.record("file \(name)"); continue }
            let inWindow = byBatch.filter { $0.key > t - 1000 && $0.key <= t }
            let expected = "n,s\n\(inWindow.values.reduce(0) { $0 + $1.n }),\(inWindow.values.reduce(0) { $0 + $1.s })\n"
            #expect(text == expected, "window at \(t)")
        }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
