import EddyCore
import EddySQL
import Foundation
import Glibc
import Testing

/// What a checkpoint directory promises besides surviving crashes: job
/// changes are caught, damage is refused, `eddy status` tells what is there,
/// a full disk is a clear error, and a stop is graceful.
@Suite(.serialized) struct CheckpointTests {
    static let job = """
        CREATE SOURCE s (k TEXT) WITH (connector = 'stdin', format = 'csv');
        CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL);
        INSERT INTO totals SELECT k, count(*) FROM s WHERE true GROUP BY k ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
        SELECT k, n FROM totals ORDER BY k;
        """

    func replayDir(_ dir: TempDir) throws -> String {
        for k in 1...6 { try dir.write("replay/s/00000\(k).txt", String(repeating: "a\nb\n", count: k)) }
        return dir.path + "/replay"
    }

    @Test func aChangedJobIsRefusedWithWhatChangedAndForceDecides() throws {
        let dir = try TempDir()
        let replay = try replayDir(dir)
        let ckpt = dir.path + "/ckpt"
        try dir.write("job.sql", Self.job)
        let first = try EddyProcess.run(["run", dir.path + "/job.sql", "--replay", replay, "--checkpoint", ckpt, "--batches", "2", "--quiet"])
        #expect(first.status == 0, "\(first.stderr)")

        // A different query: refused, showing the change; --force accepts it.
        try dir.write("job.sql", Self.job.replacingOccurrences(of: "SELECT k, n FROM totals ORDER BY k;", with: "SELECT k, n * 10 FROM totals ORDER BY k;"))
        let refused = try EddyProcess.run(["run", dir.path + "/job.sql", "--replay", replay, "--checkpoint", ckpt, "--quiet"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("different job text"))
        #expect(refused.stderr.contains("-4: SELECT k, n FROM totals ORDER BY k;"))
        #expect(refused.stderr.contains("+4: SELECT k, n * 10 FROM totals ORDER BY k;"))
        #expect(refused.stdout.isEmpty)
        let forced = try EddyProcess.run(["run", dir.path + "/job.sql", "--replay", replay, "--checkpoint", ckpt, "--batches", "1", "--format", "csv", "--quiet", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        // Batch 3 continues the totals of batches 1 and 2 (a,b: 1 + 2 + 3 each).
        #expect(forced.stdoutLines == ["a,60", "b,60"])

        // A changed STATE table: even --force refuses, with the schema difference.
        try dir.write("job.sql", Self.job.replacingOccurrences(of: "n INTEGER NOT NULL)", with: "n INTEGER NOT NULL, extra TEXT)"))
        let schema = try EddyProcess.run(["run", dir.path + "/job.sql", "--replay", replay, "--checkpoint", ckpt, "--force", "--quiet"])
        #expect(schema.status == 1)
        #expect(schema.stderr.contains("--force cannot be used"))
        #expect(schema.stderr.contains("STATE TABLE totals"))
        #expect(schema.stderr.contains("extra TEXT"))

        // A different batch interval would misplace every batch.
        try dir.write("job.sql", Self.job)
        let interval = try EddyProcess.run(["run", dir.path + "/job.sql", "--replay", replay, "--checkpoint", ckpt, "--set", "batch_interval=2s", "--force", "--quiet"])
        #expect(interval.status == 1)
        #expect(interval.stderr.contains("batch_interval"))
    }

    @Test func statusShowsWhatTheCheckpointHolds() throws {
        let dir = try TempDir()
        let replay = try replayDir(dir)
        let ckpt = dir.path + "/ckpt"
        try dir.write("job.sql", Self.job + """

            CREATE SINK out WITH (connector = 'sqlite', path = '\(dir.path)/out.db', table = 'counts');
            INSERT INTO out SELECT k, count(*) FROM s GROUP BY k;
            """)
        let r = try EddyProcess.run(["run", dir.path + "/job.sql", "--replay", replay, "--checkpoint", ckpt, "--batches", "4", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let status = try EddyProcess.run(["status", "--checkpoint", ckpt])
        #expect(status.status == 0)
        #expect(status.stdout.contains("last committed batch: batch 4 at 4000"))
        #expect(status.stdout.contains("s/0: 20")) // 2 + 4 + 6 + 8 records
        #expect(status.stdout.contains("totals: 2 rows"))
        #expect(status.stdout.contains("out: batch 4000"))
        #expect(status.stdout.contains("write-ahead log:"))
        let missing = try EddyProcess.run(["status", "--checkpoint", dir.path + "/nothing"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no checkpoint there"))
    }

    @Test func aDamagedCheckpointIsRefusedAndNothingIsLoaded() throws {
        let dir = try TempDir()
        let replay = try replayDir(dir)
        let ckpt = dir.path + "/ckpt"
        try dir.write("job.sql", Self.job)
        #expect(try EddyProcess.run(["run", dir.path + "/job.sql", "--replay", replay, "--checkpoint", ckpt, "--batches", "3", "--quiet"]).status == 0)
        let db = ckpt + "/checkpoint.db"
        let size = try #require(Files.status(db)?.size)
        // Truncated, as a copy cut short would leave it.
        #expect(truncate(db, off_t(size / 2)) == 0)
        let truncated = try EddyProcess.run(["run", dir.path + "/job.sql", "--replay", replay, "--checkpoint", ckpt, "--quiet"])
        #expect(truncated.status == 3)
        #expect(truncated.stderr.contains("checkpoint"))
        #expect(truncated.stderr.contains("nothing was loaded"))
        #expect(truncated.stdout.isEmpty)
        // Not a database at all.
        try Files.write(db, Array(String(repeating: "garbage ", count: 1000).utf8))
        let garbage = try EddyProcess.run(["run", dir.path + "/job.sql", "--replay", replay, "--checkpoint", ckpt, "--quiet"])
        #expect(garbage.status == 3)
        #expect(garbage.stderr.contains("nothing was loaded"))
        #expect(garbage.stdout.isEmpty)
    }

    /// The disk runs out under a live job: a clear error, and once there is
    /// room again the checkpoint starts cleanly. The disk is a small tmpfs
    /// where mounting one is allowed, otherwise a file-size limit.
    @Test func aFullDiskIsAClearErrorAndTheCheckpointRestartsAfterwards() throws {
        let dir = try TempDir()
        let mountPoint = dir.path + "/disk"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = try EddyProcess.shell("mount -t tmpfs -o size=3m tmpfs '\(mountPoint)'").status == 0
        defer { if mounted { _ = try? EddyProcess.shell("umount '\(mountPoint)'") } }
        let ckpt = mountPoint + "/ckpt"
        try dir.write("job.sql", """
            SET batch_interval = '200ms';
            CREATE SOURCE lines WITH (connector = 'generator', rate = 20000, words = 12, vocab = 100000);
            CREATE STATE TABLE seen (n INTEGER);
            INSERT INTO seen SELECT count(*) FROM lines;
            """)
        let filler = mountPoint + "/filler"
        var full: EddyProcess.Result
        if mounted {
            try Files.write(filler, [UInt8](repeating: 1, count: 1 << 20))
            full = try EddyProcess.run(["run", dir.path + "/job.sql", "--checkpoint", ckpt, "--duration", "60s", "--quiet"], timeout: 90)
        } else {
            full = try EddyProcess.shell("ulimit -f 1024; exec \"$EDDY\" run '\(dir.path)/job.sql' --checkpoint '\(ckpt)' --duration 60s --quiet", timeout: 90)
        }
        #expect(full.status == 3, "\(full.stderr)")
        #expect(full.stderr.contains("No space left on device") || full.stderr.contains("disk is full") || full.stderr.contains("File too large"),
                "\(full.stderr)")
        // Room again: it starts from the checkpoint, commits, and stops cleanly.
        if mounted { Files.remove(filler) }
        let resumed = try EddyProcess.run(["run", dir.path + "/job.sql", "--checkpoint", ckpt, "--batches", "3", "--quiet"], timeout: 60)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let status = try EddyProcess.run(["status", "--checkpoint", ckpt])
        #expect(status.stdout.contains("last committed batch: batch"))
    }

    @Test func sigtermCommitsWhatWasReceivedAndASecondSignalKeepsTheCheckpointUsable() throws {
        let dir = try TempDir()
        let ckpt = dir.path + "/ckpt"
        try dir.write("job.sql", """
            SET batch_interval = '500ms';
            CREATE SOURCE lines WITH (connector = 'generator', rate = 2000);
            CREATE STATE TABLE seen (n INTEGER NOT NULL);
            INSERT INTO seen SELECT count(*) FROM lines;
            SELECT count(*) FROM lines;
            """)
        let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--checkpoint", ckpt, "--format", "csv"])
        #expect(eventually { eddy.currentStdout.split(separator: "\n").count >= 3 })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 40)
        #expect(r.status == 0)
        // Everything generated was processed: the offset is the sum of the batches.
        let printed = r.stdoutLines.compactMap { Int($0) }.reduce(0, +)
        let status = try EddyProcess.run(["status", "--checkpoint", ckpt])
        #expect(status.stdout.contains("lines/0: \(printed)"), "\(status.stdout) vs \(printed)")

        // Two signals while a slow batch runs: out at once, and the checkpoint
        // still starts cleanly.
        try dir.write("slow.sql", (try String(contentsOfFile: dir.path + "/job.sql", encoding: .utf8)) + """

            SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) SELECT x FROM c);
            """)
        let twice = try EddyProcess(["run", dir.path + "/slow.sql", "--checkpoint", ckpt, "--format", "csv", "--force"])
        #expect(eventually { twice.currentStdout.split(separator: "\n").count >= 2 })
        twice.signal(SIGTERM)
        usleep(200_000)
        twice.signal(SIGTERM)
        let t = try twice.wait(timeout: 30)
        #expect(t.status == 128 + SIGTERM)
        let after = try EddyProcess.run(["run", dir.path + "/slow.sql", "--checkpoint", ckpt, "--batches", "2", "--quiet"])
        #expect(after.status == 0, "\(after.stderr)")
    }
}

import EddyBlocks

@Suite struct DamagedLogTests {
    /// Blocks received but not yet processed sit in the log when eddy stops;
    /// one of them is damaged on disk. The restart says so, loads the intact
    /// blocks before it, and nothing from the damaged one on.
    @Test func aCorruptLogRecordIsReportedAndNothingFromItOnIsLoaded() throws {
        let dir = try TempDir()
        let ckpt = dir.path + "/ckpt"
        try dir.write("job.sql", """
            SET batch_interval = '200ms';
            CREATE SOURCE lines WITH (connector = 'generator', rate = 100);
            SELECT substr(line, 1, instr(line, ' ') - 1) AS tag, count(*) AS n FROM lines
              WHERE line GLOB '[A-Z]*' GROUP BY tag ORDER BY tag;
            """)
        let first = try EddyProcess.run(["run", dir.path + "/job.sql", "--checkpoint", ckpt, "--batches", "2", "--quiet"])
        #expect(first.status == 0, "\(first.stderr)")

        // Three blocks that reached the log but no batch: GOOD, then BAD (to be damaged), then LOST.
        let wal = try WriteAheadLog(directory: ckpt + "/wal", sync: .block)
        _ = wal.recover()
        var locations: [WriteAheadLog.Location] = []
        for (i, tag) in ["GOOD", "BAD", "LOST"].enumerated() {
            var b = BlockBuilder(columns: 1)
            for n in 0..<25 {
                _ = b.beginRecord(arrival: 0)
                b.appendText("\(tag) \(n)")
                b.endRecord()
            }
            let id = UInt64(1_000_000 + i)
            locations.append(try wal.append(b.seal(id: id, source: 0, shard: "pushed", firstSeq: Int64(i * 25), sealTime: 0)))
        }
        wal.close()
        let segment = ckpt + "/wal/" + WriteAheadLog.name(locations[1].segment)
        let fd = open(segment, O_RDWR)
        #expect(fd >= 0)
        var byte: UInt8 = 0
        let at = off_t(locations[1].offset) + off_t(locations[1].length - 3)
        #expect(pread(fd, &byte, 1, at) == 1)
        byte ^= 0xFF
        #expect(pwrite(fd, &byte, 1, at) == 1)
        close(fd)

        let again = try EddyProcess.run(["run", dir.path + "/job.sql", "--checkpoint", ckpt, "--batches", "2", "--format", "csv"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("corrupt record"))
        #expect(again.stderr.contains("skipped"))
        #expect(again.stdoutLines == ["GOOD,25"])
    }
}

@Suite struct StopTimeoutTests {
    /// A stop that would take longer than stop_timeout ends at the timeout;
    /// with a checkpoint that loses nothing, so it exits 0, and the next run
    /// starts from the checkpoint.
    @Test func stopTimeoutBoundsAGracefulStop() throws {
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET stop_timeout = '1s';
            CREATE SOURCE lines WITH (connector = 'generator', rate = 100);
            SELECT count(*), (SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 40000000) SELECT x FROM c)) FROM lines;
            """)
        let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--checkpoint", dir.path + "/ckpt"])
        // Each batch counts 40 million rows: about 4 s on a fast machine, so
        // the batches still to finish at the stop take longer than its 1 s
        // (10 million took under 1 s there, and the stop finished in time).
        // Generous: three batches at a time on three lanes, and a sanitized
        // eddy (scripts/sanitize.sh) is slower.
        #expect(eventually(timeout: 90) { eddy.currentStderr.contains("batch=") || eddy.currentStderr.contains("checkpoint") || !eddy.process.isRunning })
        usleep(300_000)
        let t0 = Date()
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 30)
        #expect(r.status == 0)
        #expect(r.stderr.contains("stop_timeout (1s) passed"))
        #expect(Date().timeIntervalSince(t0) < 10)
    }
}
