import EddyCore
import EddyIngest
import EddySQL
import Foundation
import Glibc
import Testing

/// The kill -9 soak: live sources (generator, socket with acks, file), each
/// with a checkpoint, a STATE table, a file sink and a sqlite sink, killed
/// with SIGKILL again and again — at random moments, and at the exact points
/// of the commit path (`EDDY_CRASH_AT`: after the allocation, inside the
/// batch, just after the commit, during recovery, after a block is logged).
/// After every kill, what is on disk must hold:
/// - no record is in the sqlite sink or the file sink twice;
/// - the state table equals the sinks' totals over the committed batches;
/// - no crash: every run ends by our SIGKILL, never by a fault of its own.
/// The last run stops gracefully, and then nothing received is missing.
///
/// `EDDY_SOAK_KILLS` sets the number of kills over the three sources
/// (default 36); `scripts/soak.sh` runs it with 200 or more.
@Suite(.serialized) struct KillSoakTests {
    static var totalKills: Int {
        Int(ProcessInfo.processInfo.environment["EDDY_SOAK_KILLS"] ?? "") ?? 36
    }

    @Test func generatorWithATinyMemoryBudget() throws {
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '200ms';
            SET block_interval = '50ms';
            SET memory_budget = '64KB';
            CREATE SOURCE g (line TEXT) WITH (connector = 'generator', rate = 4000, words = 4, vocab = 100, seed = 11, shards = 2);
            CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL);
            INSERT INTO totals SELECT _shard, count(*) FROM g WHERE true GROUP BY _shard
              ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
            CREATE SINK f WITH (connector = 'file', path = '\(dir.path)/out/f', format = 'csv');
            INSERT INTO f SELECT _shard AS k, _seq AS id FROM g;
            CREATE SINK rows WITH (connector = 'sqlite', path = '\(dir.path)/sink.db', table = 'rows');
            INSERT INTO rows SELECT _shard AS k, _seq AS id, batch_time() AS t FROM g;
            """)
        var soak = Soak(name: "generator", dir: dir, kills: Self.totalKills * 4 / 9,
                        points: ["allocated", "in-batch", "committed", "recovery", "logged"])
        try soak.run()
        // Nothing lost: every shard's records 0 ..< committed offset are in the sink.
        let offsets = try Soak.rows(dir.path + "/ckpt/checkpoint.db", "SELECT shard, next_seq FROM _eddy_offsets WHERE source = 0")
        #expect(offsets.count == 2)
        for row in offsets {
            guard case .text(let shard) = row[0], case .integer(let next) = row[1] else { continue }
            let have = try Soak.rows(dir.path + "/sink.db", "SELECT count(DISTINCT id), coalesce(min(id), 0), coalesce(max(id), -1) FROM rows WHERE k = '\(shard)'")
            guard case .integer(let distinct) = have[0][0], case .integer(let low) = have[0][1], case .integer(let high) = have[0][2] else { continue }
            soak.figures.lost += Int(next - distinct)
            #expect(distinct == next && low == 0 && high == next - 1, "shard \(shard): \(distinct) distinct of 0..<\(next)")
            #expect(next > 1000, "shard \(shard) took in only \(next) records")
        }
        soak.report()
    }

    @Test func socketWithAcknowledgements() throws {
        let server = try #require(try? TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get())
        let producer = AckingProducer(server: server, total: 1_000_000)
        producer.start()
        defer { producer.finish() }
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '200ms';
            SET block_interval = '50ms';
            SET memory_budget = '256KB';
            CREATE SOURCE ev (id INTEGER) WITH (connector = 'socket', address = '127.0.0.1:\(server.localPort)', format = 'csv', ack = on);
            CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL);
            INSERT INTO totals SELECT 'all', count(*) FROM ev WHERE true GROUP BY 1
              ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
            CREATE SINK f WITH (connector = 'file', path = '\(dir.path)/out/f', format = 'csv');
            INSERT INTO f SELECT 'all' AS k, id FROM ev;
            CREATE SINK rows WITH (connector = 'sqlite', path = '\(dir.path)/sink.db', table = 'rows');
            INSERT INTO rows SELECT 'all' AS k, id, batch_time() AS t FROM ev;
            """)
        var soak = Soak(name: "socket", dir: dir, kills: Self.totalKills * 3 / 9,
                        points: ["allocated", "in-batch", "committed", "recovery", "logged"])
        try soak.run()
        // Nothing lost: every record eddy acknowledged is in the sink, once.
        let ids = Set(try Soak.rows(dir.path + "/sink.db", "SELECT id FROM rows").compactMap { row -> Int? in
            if case .integer(let id) = row[0] { return Int(id) }
            return nil
        })
        let connections = producer.connections
        var acked = 0
        for c in connections {
            let missing = c.ids.prefix(c.acked).filter { !ids.contains($0) }
            soak.figures.lost += missing.count
            #expect(missing.isEmpty, "acknowledged but not in the sink: \(missing.prefix(10))")
            acked += min(c.acked, c.ids.count)
        }
        #expect(connections.count >= soak.kills / 2)
        #expect(acked > 1000, "only \(acked) records acknowledged")
        soak.report()
    }

    @Test func fileSourceWithFilesArrivingThroughout() throws {
        let dir = try TempDir()
        let input = dir.path + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try dir.write("job.sql", """
            SET batch_interval = '200ms';
            CREATE SOURCE fs (file INTEGER, line INTEGER) WITH (connector = 'file', path = '\(input)', format = 'csv');
            CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL);
            INSERT INTO totals SELECT 'all', count(*) FROM fs WHERE true GROUP BY 1
              ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
            CREATE SINK f WITH (connector = 'file', path = '\(dir.path)/out/f', format = 'csv');
            INSERT INTO f SELECT 'all' AS k, file * 1000 + line AS id FROM fs;
            CREATE SINK rows WITH (connector = 'sqlite', path = '\(dir.path)/sink.db', table = 'rows');
            INSERT INTO rows SELECT 'all' AS k, file * 1000 + line AS id, batch_time() AS t FROM fs;
            """)
        let dropper = FileDropper(dir: input)
        var soak = Soak(name: "file", dir: dir, kills: Self.totalKills - Self.totalKills * 7 / 9,
                        points: ["allocated", "in-batch", "committed", "recovery"])
        // The first run marks the files already there as old: start dropping after it.
        soak.afterFirstStart = { dropper.start() }
        soak.beforeLastStop = { dropper.finish() }
        try soak.run()
        // Nothing lost: every line of every file dropped is in the sink.
        let ids = try Soak.rows(dir.path + "/sink.db", "SELECT id FROM rows").compactMap { row -> Int? in
            if case .integer(let id) = row[0] { return Int(id) }
            return nil
        }
        let expected = dropper.dropped
        let missing = Set(expected).subtracting(ids)
        soak.figures.lost += missing.count
        #expect(missing.isEmpty, "\(missing.count) lines of dropped files are not in the sink")
        #expect(expected.count >= 1000)
        soak.report()
    }
}

/// What a soak run counts, printed for scripts/soak.sh and the README.
struct SoakFigures {
    var kills = 0
    var restarts = 0
    var crashes = 0
    var lost = 0
    var duplicated = 0
    var checks = 0
    var byPoint: [String: Int] = [:]
}

/// Runs a job again and again with a checkpoint, killing it each time, and
/// checks the invariants on disk after every kill. The job writes `(k, id)`
/// rows to the file sink `out/f` and `(k, id, t)` to the sqlite sink's table
/// `rows`, and keeps `totals (k, n)` as its state.
struct Soak {
    let name: String
    let dir: TempDir
    let kills: Int
    let points: [String]
    var figures = SoakFigures()
    var afterFirstStart: (() -> Void)?
    var beforeLastStop: (() -> Void)?
    private var rng = SplitMix(seed: 2026_12_03)

    init(name: String, dir: TempDir, kills: Int, points: [String]) {
        self.name = name
        self.dir = dir
        self.kills = max(1, kills)
        self.points = points
    }

    var args: [String] { ["run", dir.path + "/job.sql", "--checkpoint", dir.path + "/ckpt", "--quiet"] }

    mutating func run() throws {
        for i in 0..<kills {
            // A third of the kills come from a timer at a random moment; the
            // rest are aimed at a point of the commit path, on a random pass.
            var env: [String: String] = [:]
            var point = "timer"
            if i % 3 != 0 {
                point = points[Int(rng.next() % UInt64(points.count))]
                let pass = point == "recovery" ? 1 : 1 + Int(rng.next() % 4)
                env["EDDY_CRASH_AT"] = "\(point):\(pass)"
            }
            let eddy = try EddyProcess(args, env: env)
            if i > 0 { figures.restarts += 1 }
            if i == 0 {
                // The first run takes what is already there as old input:
                // only once it has committed a batch is everything after new.
                let ckpt = dir.path + "/ckpt/checkpoint.db"
                _ = eventually(timeout: 20) { ((try? Self.lastCommitted(ckpt)) ?? nil) != nil }
                afterFirstStart?()
            }
            if point == "timer" {
                usleep(UInt32(300_000 + rng.next() % 1_200_000))
            } else {
                _ = eventually(timeout: 15) { !eddy.process.isRunning }
            }
            if eddy.process.isRunning { eddy.signal(SIGKILL) }
            let r = try eddy.wait(timeout: 30)
            if r.signaled && r.status == SIGKILL {
                figures.kills += 1
                figures.byPoint[point, default: 0] += 1
            } else {
                figures.crashes += 1
                Issue.record("\(name) run \(i) (\(point)) ended by itself with \(r.signaled ? "signal" : "status") \(r.status): \(r.stderr.suffix(3000))")
            }
            try check(after: "kill \(i) (\(point))")
        }
        // A last run takes in the rest and stops gracefully.
        let last = try EddyProcess(args)
        figures.restarts += 1
        usleep(2_000_000)
        beforeLastStop?()
        usleep(1_500_000)
        last.signal(SIGTERM)
        let r = try last.wait(timeout: 60)
        #expect(r.status == 0 && !r.signaled, "\(name) last run: \(r.stderr.suffix(3000))")
        if r.status != 0 || r.signaled { figures.crashes += 1 }
        try check(after: "the graceful stop")
        let committed = try Self.lastCommitted(dir.path + "/ckpt/checkpoint.db")
        let beyond = try Self.rows(dir.path + "/sink.db", "SELECT count(*) FROM rows WHERE t > \(committed ?? Int64.min)")
        #expect(beyond == [[.integer(0)]], "after a graceful stop every sink row belongs to a committed batch")
    }

    /// The invariants, read from disk while no eddy runs.
    mutating func check(after what: String) throws {
        figures.checks += 1
        let sink = dir.path + "/sink.db"
        let ckpt = dir.path + "/ckpt/checkpoint.db"
        guard Files.exists(sink), Files.exists(ckpt) else { return }
        guard let committed = try Self.lastCommitted(ckpt) else { return }
        // No record twice in the sqlite sink.
        let dups = try Self.rows(sink, "SELECT count(*) FROM (SELECT k, id FROM rows GROUP BY k, id HAVING count(*) > 1)")
        if case .integer(let n) = dups.first?.first, n > 0 {
            figures.duplicated += Int(n)
            Issue.record("\(name), after \(what): \(n) records twice in the sqlite sink")
        }
        // The state equals the sink's totals over the committed batches.
        let sinkTotals = try Self.rows(sink, "SELECT k, count(*) FROM rows WHERE t <= \(committed) GROUP BY k ORDER BY k")
        let state = try Self.rows(ckpt, "SELECT k, n FROM totals ORDER BY k")
        #expect(state == sinkTotals, "\(name), after \(what): state \(state) but the sink holds \(sinkTotals) up to batch \(committed)")
        // The file sink: one file per batch, no record in two files, and the
        // committed batches' files hold exactly the sqlite sink's rows.
        var fileRows: [String: Int] = [:]
        let out = dir.path + "/out"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? [] where name.hasPrefix("f-") && name.hasSuffix(".csv") {
            guard let t = Int64(name.dropFirst(2).dropLast(4)), t <= committed else { continue }
            let text = (try? String(contentsOfFile: out + "/" + name, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n").dropFirst() { fileRows[String(line), default: 0] += 1 }
        }
        let twice = fileRows.values.filter { $0 > 1 }.count
        if twice > 0 {
            figures.duplicated += twice
            Issue.record("\(name), after \(what): \(twice) records twice in the file sink")
        }
        let sinkRows = try Self.rows(sink, "SELECT k, id FROM rows WHERE t <= \(committed)").map { row -> String in
            var k = "", id: Int64 = 0
            if case .text(let s) = row[0] { k = s }
            if case .integer(let i) = row[1] { id = i }
            return "\(k),\(id)"
        }
        #expect(Set(fileRows.keys) == Set(sinkRows) && fileRows.count == sinkRows.count,
                "\(name), after \(what): the file sink holds \(fileRows.count) records, the sqlite sink \(sinkRows.count)")
    }

    func report() {
        let points = figures.byPoint.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        print("soak: source=\(name) kills=\(figures.kills) restarts=\(figures.restarts) crashes=\(figures.crashes) lost=\(figures.lost) duplicated=\(figures.duplicated) checks=\(figures.checks) points=\(points)")
        #expect(figures.kills >= kills * 9 / 10, "\(name): only \(figures.kills) of \(kills) runs were killed")
        #expect(figures.crashes == 0 && figures.lost == 0 && figures.duplicated == 0)
    }

    static func lastCommitted(_ path: String) throws -> Int64? {
        let r = try rows(path, "SELECT max(batch_time) FROM _eddy_batches WHERE state = 'committed'")
        if case .integer(let t) = r.first?.first { return t }
        return nil
    }

    static func rows(_ path: String, _ sql: String) throws -> [[SQLValue]] {
        let d = try Database(path: path, readOnly: true)
        let s = try d.prepare(sql, persistent: false)
        var out: [[SQLValue]] = []
        while try s.step() { out.append(s.row) }
        return out
    }
}

/// A producer that eddy's socket source connects to: it sends numbered
/// records on every connection and notes how far eddy acknowledged each.
final class AckingProducer: @unchecked Sendable {
    struct Connection { var ids: [Int]; var acked: Int }
    private let server: TCPSocket
    private let total: Int
    private let lock = ConditionLock<(connections: [Connection], done: Bool)>(([], false))

    init(server: TCPSocket, total: Int) {
        self.server = server
        self.total = total
    }

    var connections: [Connection] { lock.withLock { $0.connections } }

    func finish() {
        lock.update { $0.done = true }
    }

    private var done: Bool { lock.withLock { $0.done } }

    func start() {
        Thread { [self] in
            var next = 0
            while next < total && !done {
                guard let conn = server.accept(timeoutMs: 500)?.socket else { continue }
                let index = lock.withLock { s -> Int in s.connections.append(Connection(ids: [], acked: 0)); return s.connections.count - 1 }
                let closed = ConditionLock(false)
                Thread { [self] in
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    var pending = ""
                    loop: while true {
                        switch buffer.withUnsafeMutableBytes({ conn.read(into: $0, timeoutMs: 200) }) {
                        case .data(let n):
                            pending += String(decoding: buffer[0..<n], as: UTF8.self)
                            while let nl = pending.firstIndex(of: "\n") {
                                let line = pending[..<nl]
                                if line.hasPrefix("ack "), let a = Int(line.dropFirst(4)) {
                                    lock.withLock { $0.connections[index].acked = max($0.connections[index].acked, a) }
                                }
                                pending = String(pending[pending.index(after: nl)...])
                            }
                        case .timeout:
                            if closed.withLock({ $0 }) || done { break loop }
                        default: break loop
                        }
                    }
                    closed.update { $0 = true }
                }.start()
                while next < total && !done && !closed.withLock({ $0 }) {
                    let range = next..<min(total, next + 100)
                    let chunk = range.map { "\($0)\n" }.joined()
                    guard Array(chunk.utf8).withUnsafeBytes({ conn.writeAll($0) }) else { break }
                    lock.withLock { $0.connections[index].ids += Array(range) }
                    next += 100
                    usleep(20_000)
                }
                closed.update { $0 = true }
                // Wait for the reader to see the end before the socket goes.
                _ = closed.wait(until: { $0 }, timeoutMs: 1000, then: { _ in true })
                usleep(250_000)
                conn.close()
            }
            server.close()
        }.start()
    }
}

/// Drops numbered csv files into a directory, each written under a hidden
/// name and renamed in (what the file source promises to handle).
final class FileDropper: @unchecked Sendable {
    private let dir: String
    private let lock = ConditionLock<(ids: [Int], stop: Bool, stopped: Bool)>(([], false, false))

    init(dir: String) { self.dir = dir }

    var dropped: [Int] { lock.withLock { $0.ids } }

    func start() {
        Thread { [self] in
            var file = 1
            while !lock.withLock({ $0.stop }) {
                let lines = (0..<50).map { "\(file),\($0)\n" }.joined()
                let tmp = dir + "/.drop-\(file).tmp"
                let final = dir + "/drop-\(String(format: "%06d", file)).csv"
                if (try? lines.write(toFile: tmp, atomically: false, encoding: .utf8)) != nil, rename(tmp, final) == 0 {
                    lock.withLock { $0.ids += (0..<50).map { file * 1000 + $0 } }
                }
                file += 1
                usleep(60_000)
            }
            lock.update { $0.stopped = true }
        }.start()
    }

    /// Stops dropping and waits until the last file is in place.
    func finish() {
        lock.update { $0.stop = true }
        _ = lock.wait(until: { $0.stopped }, timeoutMs: 5000, then: { _ in true })
    }
}
