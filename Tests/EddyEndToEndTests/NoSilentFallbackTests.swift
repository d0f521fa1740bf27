import EddyCore
import Foundation
import Glibc
import Testing

/// Where eddy used to carry on with a quiet substitute, it now stops with a
/// clear error or says what it could not do.
@Suite struct NoSilentFallbackTests {
    /// A sink eddy cannot parse is a job error at `check` and at `run`,
    /// pointing into the CREATE SINK, never rows quietly sent to stdout.
    @Test func aBadSinkIsAJobErrorAtCheckAndRun() throws {
        let dir = try TempDir()
        let job = try dir.write("job.sql", """
            CREATE SOURCE s (v TEXT) WITH (connector = 'stdin', format = 'csv');
            CREATE SINK out WITH (connector = 'file', format = 'jsonl');
            INSERT INTO out SELECT v FROM s;
            """)
        let expected = "\(job):2:17: sink out: sink connector 'file' needs option 'path' (a file name prefix, like 'out/counts')"
        let check = try EddyProcess.run(["check", job])
        #expect(check.status == 1)
        #expect(check.stderr.contains(expected), "\(check.stderr)")
        let run = try EddyProcess.run(["run", job, "--quiet"], stdin: "a\nb\n")
        #expect(run.status == 1)
        #expect(run.stderr.contains(expected), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    /// No checkpoint and no `spill_dir`: spill files go to a private temp
    /// directory. When none can be made, the run stops and says what to do;
    /// no predictable `/tmp/eddy-spill-PID` is used instead.
    @Test func aSpillDirThatCannotBeMadeIsAnError() throws {
        let dir = try TempDir()
        let job = try dir.write("job.sql", """
            CREATE SOURCE lines WITH (connector = 'generator', rate = 100);
            SELECT count(*) FROM lines;
            """)
        let missing = dir.path + "/no-such-dir"
        let r = try EddyProcess.run(["run", job, "--batches", "2", "--quiet"], env: ["TMPDIR": missing])
        #expect(r.status == 3)
        #expect(r.stderr.contains("cannot create a temp directory in \(missing): No such file or directory; set TMPDIR to a writable directory, or SET spill_dir = 'DIR'"),
                "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        // With spill_dir set, the same environment runs.
        let spill = dir.path + "/spill"
        try FileManager.default.createDirectory(atPath: spill, withIntermediateDirectories: true)
        let ok = try EddyProcess.run(["run", job, "--batches", "2", "--quiet", "--set", "spill_dir=\(spill)"], env: ["TMPDIR": missing])
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    /// Without a checkpoint, a kinesis source resumes from its position file.
    /// One that cannot be read, or holds a line that is not a position, stops
    /// the run before any request, naming the file; nothing is rewritten.
    @Test func anUnreadableKinesisPositionFileStopsTheRun() throws {
        let dir = try TempDir()
        let state = dir.path + "/state"
        let job = try dir.write("job.sql", """
            CREATE SOURCE k (id INTEGER) WITH (connector = 'kinesis', stream = 'events', endpoint = 'http://127.0.0.1:9', format = 'csv', app_name = 'app');
            SELECT count(*) FROM k;
            """)
        let env = ["AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1", "EDDY_STATE_DIR": state]
        let positions = state + "/kinesis-app.positions"
        // A directory where the file should be: unreadable, even for root.
        try FileManager.default.createDirectory(atPath: positions, withIntermediateDirectories: true)
        let unreadable = try EddyProcess.run(["run", job, "--batches", "1", "--quiet"], env: env)
        #expect(unreadable.status == 3)
        #expect(unreadable.stderr.contains("source k: kinesis positions: cannot "), "\(unreadable.stderr)")
        #expect(unreadable.stderr.contains("\(positions): Is a directory"))
        #expect(unreadable.stderr.contains("Repair the file, or remove it to read every shard from initial_position again"))
        #expect(!unreadable.stderr.contains("127.0.0.1:9"), "no request was made")

        try FileManager.default.removeItem(atPath: positions)
        let damaged = "shardId-000000000000 49650000000000000000:0\nshardId-000000000001 \u{1}\u{2}garbage\n"
        try damaged.write(toFile: positions, atomically: true, encoding: .utf8)
        let bad = try EddyProcess.run(["run", job, "--batches", "1", "--quiet"], env: env)
        #expect(bad.status == 3)
        #expect(bad.stderr.contains("source k: kinesis positions \(positions):2: expected 'SHARD POSITION'"), "\(bad.stderr)")
        #expect(try String(contentsOfFile: positions, encoding: .utf8) == damaged)
    }

    /// The write-ahead log's damaged tail cannot be cut off (the segment
    /// refuses writes): the start says so, skips the tail, and runs.
    @Test func aLogTailThatCannotBeCutOffIsReported() throws {
        let dir = try TempDir()
        let ckpt = dir.path + "/ckpt"
        let job = try dir.write("job.sql", """
            SET batch_interval = '200ms';
            CREATE SOURCE lines WITH (connector = 'generator', rate = 2000);
            SELECT count(*) FROM lines;
            """)
        let first = try EddyProcess.run(["run", job, "--checkpoint", ckpt, "--batches", "3", "--quiet"])
        #expect(first.status == 0, "\(first.stderr)")
        let wal = ckpt + "/wal"
        let segment = try #require(try Files.list(wal).filter { $0.hasPrefix("wal-") }.sorted().last)
        let path = wal + "/" + segment
        let size = try #require(Files.status(path)?.size)
        try #require(size > 100)
        #expect(truncate(path, off_t(size - 20)) == 0) // a torn last record
        try #require(ReadOnlyFile.protect(path), "cannot make \(path) refuse writes")
        defer { ReadOnlyFile.release(path) }
        let second = try EddyProcess.run(["run", job, "--checkpoint", ckpt, "--batches", "2", "--format", "csv"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("\(segment): torn record"), "\(second.stderr)")
        #expect(second.stderr.contains("\(segment): the damaged tail could not be cut off (cannot open \(path): "), "\(second.stderr)")
        #expect(Files.status(path)?.size == size - 20)
    }

    /// `eddy status` shows the records the log's blocks hold, not the block
    /// count twice.
    @Test func statusCountsTheLoggedRecords() throws {
        let dir = try TempDir()
        let ckpt = dir.path + "/ckpt"
        let job = try dir.write("job.sql", """
            SET batch_interval = '200ms';
            SET block_interval = '50ms';
            CREATE SOURCE s (n INTEGER) WITH (connector = 'stdin', format = 'csv');
            SELECT count(*) FROM s;
            """)
        let lines = 12_345
        let run = try EddyProcess.run(["run", job, "--checkpoint", ckpt, "--format", "csv", "--quiet"],
                                      stdin: (0..<lines).map { "\($0)\n" }.joined())
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdoutLines.compactMap { Int($0) }.reduce(0, +) == lines)
        let status = try EddyProcess.run(["status", "--checkpoint", ckpt])
        #expect(status.status == 0)
        let line = try #require(status.stdout.split(separator: "\n").first { $0.contains("write-ahead log:") })
        #expect(line.hasSuffix(" holding \(lines) record(s)"), "\(line)")
        let words = line.split(separator: " ")
        let at = try #require(words.firstIndex(of: "block(s)"))
        let blocks = try #require(Int(words[at - 1]))
        #expect(blocks >= 1 && blocks < lines)
    }
}

/// Makes a file refuse to be opened for writing: read-only permissions for
/// an ordinary user; for root, who ignores those, the append-only attribute
/// (`chattr +a`: FS_APPEND_FL through FS_IOC_SETFLAGS).
enum ReadOnlyFile {
    static func protect(_ path: String) -> Bool {
        if geteuid() != 0 { return chmod(path, 0o444) == 0 }
        return setAppendOnly(path, true)
    }

    static func release(_ path: String) {
        if geteuid() != 0 { _ = chmod(path, 0o644) } else { _ = setAppendOnly(path, false) }
    }

    private static func setAppendOnly(_ path: String, _ on: Bool) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var flags: Int32 = 0
        guard withUnsafeMutablePointer(to: &flags, { ioctl(fd, UInt(0x8008_6601), $0) }) == 0 else { return false }
        flags = on ? flags | 0x20 : flags & ~0x20
        return withUnsafeMutablePointer(to: &flags, { ioctl(fd, UInt(0x4008_6602), $0) }) == 0
    }
}
