import EddyIngest
import EddySQL
import Foundation
import Glibc
import Testing

/// Replayable sources resume from what the checkpoint says they consumed,
/// and a STATE table's INITIAL seed is applied once per checkpoint, not once
/// per start.
@Suite(.serialized) struct ResumeTests {
    static func ids(_ db: String, _ sql: String) -> [[SQLValue]] {
        guard let d = try? Database(path: db, readOnly: true), let s = try? d.prepare(sql, persistent: false) else { return [] }
        var out: [[SQLValue]] = []
        while (try? s.step()) == true { out.append(s.row) }
        return out
    }

    /// `file`: a restart reads the files that arrived while eddy was down
    /// (they are not "old" files: the checkpoint lists what was read), and
    /// never reads a file of the first run again.
    @Test func fileSourceResumesFromItsListOfFilesRead() throws {
        let dir = try TempDir()
        try dir.write("in/before.csv", "0,before\n")
        try dir.write("job.sql", """
            SET batch_interval = '200ms';
            CREATE SOURCE rows (id INTEGER, name TEXT) WITH (connector = 'file', path = '\(dir.path)/in', format = 'csv');
            CREATE SINK out WITH (connector = 'sqlite', path = '\(dir.path)/sink.db', table = 'out');
            INSERT INTO out SELECT id, name, _shard AS file FROM rows;
            """)
        let args = ["run", dir.path + "/job.sql", "--checkpoint", dir.path + "/ckpt", "--quiet"]
        let count = { Self.ids(dir.path + "/sink.db", "SELECT count(*) FROM out").first?.first ?? .null }

        let first = try EddyProcess(args)
        #expect(eventually { FileManager.default.fileExists(atPath: dir.path + "/ckpt/checkpoint.db") })
        usleep(500_000)
        try dir.write("staging/a.csv", "1,a1\n2,a2\n")
        #expect(rename(dir.path + "/staging/a.csv", dir.path + "/in/a.csv") == 0)
        #expect(eventually { count() == .integer(2) })
        first.signal(SIGTERM)
        #expect(try first.wait(timeout: 60).status == 0)

        // Arrives while eddy is down.
        try dir.write("staging/b.csv", "3,b3\n")
        #expect(rename(dir.path + "/staging/b.csv", dir.path + "/in/b.csv") == 0)
        let second = try EddyProcess(args)
        #expect(eventually { count() == .integer(3) })
        try dir.write("staging/c.csv", "4,c4\n")
        #expect(rename(dir.path + "/staging/c.csv", dir.path + "/in/c.csv") == 0)
        #expect(eventually { count() == .integer(4) })
        usleep(600_000)
        second.signal(SIGTERM)
        let r = try second.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")

        let rows = Self.ids(dir.path + "/sink.db", "SELECT id, name, file FROM out ORDER BY id")
        #expect(rows == [[.integer(1), .text("a1"), .text("a.csv")], [.integer(2), .text("a2"), .text("a.csv")],
                         [.integer(3), .text("b3"), .text("b.csv")], [.integer(4), .text("c4"), .text("c.csv")]])
    }

    /// `generator`: line `seq` of a shard is a function of the seed, so a
    /// job killed and restarted goes on at the next line of each shard: every
    /// (shard, seq) once, contiguous from 0, with the line the seed gives.
    @Test func generatorResumesAfterKillsWithTheSameLines() throws {
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '200ms';
            SET block_interval = '50ms';
            CREATE SOURCE lines WITH (connector = 'generator', rate = 400, words = 4, vocab = 50, seed = 11, shards = 2);
            CREATE SINK out WITH (connector = 'sqlite', path = '\(dir.path)/sink.db', table = 'out');
            INSERT INTO out SELECT _shard AS shard, _seq AS seq, line FROM lines;
            """)
        let args = ["run", dir.path + "/job.sql", "--checkpoint", dir.path + "/ckpt", "--quiet"]
        let count = { () -> Int64 in
            if case .integer(let n) = Self.ids(dir.path + "/sink.db", "SELECT count(*) FROM out").first?.first ?? .null { return n }
            return 0
        }
        var afterKills: Int64 = 0
        for round in 0..<4 {
            let eddy = try EddyProcess(args)
            let before = count()
            #expect(eventually(timeout: 30) { count() > before + 100 }, "round \(round) made progress")
            usleep(UInt32(100_000 + round * 70_000))
            eddy.signal(SIGKILL)
            _ = try eddy.wait(timeout: 30)
            afterKills = count()
        }
        let last = try EddyProcess(args)
        #expect(eventually(timeout: 30) { count() > afterKills + 200 })
        last.signal(SIGTERM)
        let r = try last.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")

        let generator = WordGenerator(vocabulary: 50, wordsPerLine: 4, seed: 11)
        var line: [UInt8] = []
        var shards: [String: [Int64]] = [:]
        for row in Self.ids(dir.path + "/sink.db", "SELECT shard, seq, line FROM out ORDER BY shard, seq") {
            guard case .text(let shard) = row[0], case .integer(let seq) = row[1], case .text(let text) = row[2],
                  let s = Int(shard) else {
                Issue.record("unexpected row \(row)")
                continue
            }
            generator.line(shard: s, seq: seq, into: &line)
            #expect(text == String(decoding: line, as: UTF8.self), "shard \(shard) seq \(seq)")
            shards[shard, default: []].append(seq)
        }
        #expect(shards.count == 2)
        for (shard, seqs) in shards {
            #expect(seqs == Array(0..<Int64(seqs.count)), "shard \(shard): every seq once, none skipped")
        }
    }

    /// `INITIAL AS SELECT` seeds the table when the checkpoint first creates
    /// it; the restarts that follow keep the state and do not seed again.
    @Test func initialSeedsOncePerCheckpoint() throws {
        let dir = try TempDir()
        for k in 1...6 { try dir.write("replay/s/00000\(k).txt", String(repeating: "a\n", count: k)) }
        try dir.write("job.sql", """
            CREATE SOURCE s (k TEXT) WITH (connector = 'stdin', format = 'csv');
            CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL) INITIAL AS SELECT 'a', 100 UNION ALL SELECT 'seed', 1;
            INSERT INTO totals SELECT k, count(*) FROM s WHERE true GROUP BY k ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
            SELECT k, n FROM totals ORDER BY k;
            """)
        let args = ["run", dir.path + "/job.sql", "--replay", dir.path + "/replay", "--checkpoint", dir.path + "/ckpt",
                    "--batches", "2", "--format", "csv", "--quiet"]
        let first = try EddyProcess.run(args)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdoutLines == ["a,101", "seed,1", "a,103", "seed,1"])
        let second = try EddyProcess.run(args)
        #expect(second.status == 0, "\(second.stderr)")
        // Batches 3 and 4 go on from 103: no second seed of 100, no duplicate 'seed' key.
        #expect(second.stdoutLines == ["a,106", "seed,1", "a,110", "seed,1"])
        // Without the checkpoint, each start is a new state: seeded again.
        let fresh = try EddyProcess.run(["run", dir.path + "/job.sql", "--replay", dir.path + "/replay", "--batches", "1",
                                         "--format", "csv", "--quiet"])
        #expect(fresh.stdoutLines == ["a,101", "seed,1"])
    }
}
