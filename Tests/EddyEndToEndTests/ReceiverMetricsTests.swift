import Foundation
import Glibc
import Testing

/// The receiver and block store figures of the per-batch stderr line, checked
/// against each other and against the job's own output; the generator held
/// back by full budgets; the private spill dir gone at exit.
@Suite struct ReceiverMetricsTests {
    /// `shards=lines/0:12,lines/1:30` (a shard name may hold ':', the count follows the last one).
    static func shardCounts(_ field: String?) -> [String: Int]? {
        guard let field else { return nil }
        var out: [String: Int] = [:]
        for part in field.split(separator: ",") {
            guard let colon = part.lastIndex(of: ":"), let n = Int(part[part.index(after: colon)...]) else { return nil }
            out[String(part[..<colon])] = n
        }
        return out
    }

    static func int(_ m: [String: String], _ key: String) -> Int? { m[key].flatMap { Int($0) } }

    /// Rows `a,b,c,...` of integers on stdout.
    static func intRows(_ stdout: String, columns: Int) -> [[Int]] {
        stdout.split(separator: "\n").compactMap { line in
            let p = line.split(separator: ",", omittingEmptySubsequences: false).compactMap { Int($0) }
            return p.count == columns ? p : nil
        }
    }

    /// Some work per batch, so that blocks sealed meanwhile wait in the store.
    static func busy(_ n: Int) -> String {
        "(SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < \(n)) SELECT x FROM c))"
    }

    @Test func metricsLineFieldsAgreeWithEachOtherAndWithTheOutput() throws {
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '500ms';
            SET block_interval = '50ms';
            SET memory_budget = '1KB';
            SET spill_dir = '\(dir.path)/spill';
            CREATE SOURCE lines WITH (connector = 'generator', rate = 2000, shards = 3, words = 6, vocab = 40, seed = 5);
            SELECT count(*) AS n, \(Self.busy(1_000_000)) AS busy FROM lines;
            """)
        // The busy work (about 120 ms on a fast machine) outlasts two block
        // intervals, so blocks sealed during a batch are on disk when its
        // metrics line is written (store_disk > 0).
        let r = try EddyProcess.run(["run", dir.path + "/job.sql", "--format", "csv", "--duration", "5s"], timeout: 60)
        #expect(r.status == 0, "stderr: \(r.stderr.suffix(2000))")
        let lines = metricsLines(r.stderr)
        #expect(lines.count >= 6)

        var shardsSeen: Set<String> = []
        var totalRecords = 0
        var lastSpilled = 0, lastReadBack = 0
        var diskSeen = false
        for m in lines {
            let batch = m["batch"] ?? "?"
            let records = try #require(Self.int(m, "records"), "batch \(batch)")
            let blocks = try #require(Self.int(m, "blocks"), "batch \(batch)")
            let raw = try #require(Self.int(m, "raw_bytes"), "batch \(batch)")
            let lz4 = try #require(Self.int(m, "lz4_bytes"), "batch \(batch)")
            let ratio = try #require(m["lz4_ratio"].flatMap { Double($0) }, "batch \(batch)")
            let memory = try #require(Self.int(m, "store_mem"), "batch \(batch)")
            let disk = try #require(Self.int(m, "store_disk"), "batch \(batch)")
            let spilled = try #require(Self.int(m, "spilled"), "batch \(batch)")
            let readBack = try #require(Self.int(m, "read_back"), "batch \(batch)")
            // The engine's time on blocks: a duration, never negative.
            let blockMs = try #require(m["block_ms"].flatMap { Double($0) }, "batch \(batch): \(m)")
            #expect(blockMs >= 0, "batch \(batch): \(m)")
            totalRecords += records

            // Records per shard add up to the batch's records.
            if records > 0 {
                let shards = try #require(Self.shardCounts(m["shards"]), "batch \(batch): \(m)")
                #expect(shards.values.reduce(0, +) == records, "batch \(batch): \(m)")
                shardsSeen.formUnion(shards.keys)
                #expect(blocks > 0, "batch \(batch)")
                #expect(lz4 > 0 && raw >= lz4, "batch \(batch): raw \(raw), lz4 \(lz4)")
                // The ratio is raw / lz4, printed to one decimal.
                #expect(abs(ratio - Double(raw) / Double(lz4)) <= 0.051, "batch \(batch): \(ratio) vs \(raw)/\(lz4)")
            } else {
                #expect(blocks == 0 && raw == 0 && lz4 == 0, "batch \(batch): \(m)")
            }
            // Memory never holds more than its budget; the rest went to disk.
            #expect(memory <= 1024, "batch \(batch)")
            if disk > 0 { diskSeen = true }
            // Spilled and read-back blocks are counted over the run, and only
            // what was spilled can be read back.
            #expect(spilled >= lastSpilled && readBack >= lastReadBack && readBack <= spilled, "batch \(batch): \(m)")
            lastSpilled = spilled
            lastReadBack = readBack
        }
        #expect(shardsSeen == ["lines/0", "lines/1", "lines/2"])
        #expect(lastSpilled > 10)
        #expect(lastReadBack > 10)
        #expect(diskSeen, "store_disk was 0 after every batch")
        // The metrics count what the job saw.
        let counted = Self.intRows(r.stdout, columns: 2).reduce(0) { $0 + $1[0] }
        #expect(totalRecords == counted)
        #expect(counted > 3 * 2000) // about 5 s at 3 × 2000/s, less whatever the stop cut
        // Everything spilled was read back and deleted.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/spill")) ?? []
        #expect(left.isEmpty, "\(left)")
    }

    /// Both budgets tiny and a slow job: generator receivers pause, the
    /// warning says so, they make far fewer records than their rate, and
    /// still every `_seq` of every shard arrives once, without a gap.
    @Test func generatorSlowsDownWhenBothBudgetsAreFullAndDropsNothing() throws {
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '1s';
            SET block_interval = '100ms';
            SET memory_budget = '4KB';
            SET disk_budget = '8KB';
            SET spill_dir = '\(dir.path)/spill';
            CREATE SOURCE lines WITH (connector = 'generator', rate = 20000, shards = 2, words = 6, vocab = 5000, seed = 8);
            SELECT CAST(_shard AS INTEGER) AS shard, count(*) AS n, min(_seq) AS lo, max(_seq) AS hi, \(Self.busy(300_000)) AS busy
              FROM lines GROUP BY _shard;
            """)
        let seconds = 8
        let r = try EddyProcess.run(["run", dir.path + "/job.sql", "--format", "csv", "--duration", "\(seconds)s"], timeout: 90)
        #expect(r.status == 0, "stderr: \(r.stderr.suffix(2000))")
        #expect(r.stderr.contains("are full: receivers pause"))
        let lines = metricsLines(r.stderr)
        let pauses = lines.compactMap { Self.int($0, "pauses") }.max() ?? 0
        #expect(pauses > 0)

        // Per shard, batch after batch: each batch starts where the last ended.
        var next: [Int: Int] = [:]
        var total = 0
        for row in Self.intRows(r.stdout, columns: 5) {
            let (shard, n, lo, hi) = (row[0], row[1], row[2], row[3])
            #expect(lo == next[shard, default: 0], "shard \(shard): gap or overlap at \(lo)")
            #expect(hi - lo + 1 == n, "shard \(shard): \(n) records in \(lo)...\(hi)")
            next[shard] = hi + 1
            total += n
        }
        #expect(Set(next.keys) == [0, 1])
        #expect(total == lines.reduce(0) { $0 + (Self.int($1, "records") ?? 0) })
        // Held back: each batch frees room for about a block per shard (0.1 s
        // of records, plus the 0.1 s of credit the rate limiter allows), far
        // under the 2 × 20000/s the generators were asked for.
        #expect(total > 0 && total < seconds * 2 * 20_000 / 2, "\(total) records")
    }

    /// Without spill_dir and checkpoint, spill files go to a private dir
    /// under $TMPDIR, which is removed when eddy ends, by itself or on SIGINT.
    @Test func privateSpillDirIsRemovedAtExit() throws {
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '500ms';
            SET block_interval = '50ms';
            SET memory_budget = '1KB';
            CREATE SOURCE lines WITH (connector = 'generator', rate = 5000, shards = 2);
            SELECT count(*) AS n, \(Self.busy(100_000)) AS busy FROM lines;
            """)
        for (k, ending) in ["duration", "SIGINT"].enumerated() {
            let tmp = dir.path + "/tmp-\(k)"
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            var args = ["run", dir.path + "/job.sql", "--format", "csv"]
            if ending == "duration" { args += ["--duration", "4s"] }
            let eddy = try EddyProcess(args, env: ["TMPDIR": tmp])
            // Spill files appear in eddy-spill-XXXXXX under $TMPDIR while it runs.
            let spilling = eventually(timeout: 20) {
                let dirs = ((try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []).filter { $0.hasPrefix("eddy-spill-") }
                return dirs.contains { d in
                    ((try? FileManager.default.contentsOfDirectory(atPath: tmp + "/" + d)) ?? []).contains { $0.hasSuffix(".lz4") }
                }
            }
            #expect(spilling, "\(ending): no spill file under \(tmp)")
            if ending == "SIGINT" {
                #expect(eventually { metricsLines(eddy.currentStderr).count >= 2 })
                eddy.signal(SIGINT)
            }
            let r = try eddy.wait(timeout: 60)
            #expect(r.status == 0, "\(ending): \(r.stderr.suffix(2000))")
            #expect(metricsLines(r.stderr).compactMap { Self.int($0, "spilled") }.max() ?? 0 > 0)
            // Nothing of eddy's is left in $TMPDIR.
            let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? ["unreadable"]
            #expect(left.isEmpty, "\(ending): left in TMPDIR: \(left)")
        }
    }

    /// A job that fails while starting (here its error log cannot be
    /// opened) leaves no private spill dir behind either.
    @Test func aJobThatFailsToStartLeavesNoSpillDir() throws {
        let dir = try TempDir()
        let tmp = dir.path + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        // A path under a regular file: it can never be created.
        try dir.write("job.sql", """
            CREATE SOURCE lines WITH (connector = 'generator', rate = 100, errors = '\(dir.path)/job.sql/errors.log');
            SELECT count(*) AS n FROM lines;
            """)
        let r = try EddyProcess.run(["run", dir.path + "/job.sql", "--duration", "2s"], env: ["TMPDIR": tmp], timeout: 30)
        #expect(r.status != 0)
        #expect(r.stderr.contains("cannot open the error log"), "\(r.stderr)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? ["unreadable"]
        #expect(left.isEmpty, "left in TMPDIR: \(left)")
    }
}
