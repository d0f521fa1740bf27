import EddyBlocks
import EddyCore
import EddyEngine
import EddyIngest
import EddyJob
import Glibc

/// Issue 5's figure: seconds for a job to resume from a checkpoint whose
/// write-ahead log holds 1 GB of received blocks no batch has taken yet (eddy
/// was down with a backlog, or killed). The log is scanned and checked once;
/// nothing is read from the source again.
enum RecoveryBench {
    static let job = """
        CREATE SOURCE lines WITH (connector = 'listen', address = '127.0.0.1:0');
        CREATE STATE TABLE seen (n INTEGER);
        INSERT INTO seen SELECT count(*) FROM lines;
        """

    static func run() {
        say("== recovery: resume with 1 GB of write-ahead log retained ==")
        guard let dir = try? Files.makeTempDirectory(prefix: "eddy-recovery") else { return }
        defer { Files.removeTree(dir) }
        let ckpt = dir + "/ckpt"
        do {
            // A first run makes the checkpoint.
            _ = try engine(ckpt).resumeOnly()
            // Then 1 GB of received blocks goes into its log.
            let wal = try WriteAheadLog(directory: ckpt + "/wal", sync: .off)
            _ = wal.recover()
            let lines = Bench.lines(batches: 1, perBatch: 60_000)[0]
            var builder = BlockBuilder(columns: 1)
            for line in lines {
                _ = builder.beginRecord(arrival: 0)
                line.withUnsafeBytes { builder.appendText($0) }
                builder.endRecord()
            }
            let template = builder.seal(id: 0, source: 0, shard: "conn-1", firstSeq: 0, sealTime: 0)
            var written: Int64 = 0, id: UInt64 = 1, seq: Int64 = 0
            while written < 1 << 30 {
                var b = template
                b.id = id
                b.firstSeq = seq
                try wal.append(b)
                written += Int64(b.payload.count)
                id += 1
                seq += Int64(b.count)
            }
            try wal.syncNow()
            wal.close()
            // Drop the log from the page cache, as after a reboot, when allowed.
            _ = system("sync; echo 1 > /proc/sys/vm/drop_caches 2>/dev/null")
            let e = try engine(ckpt)
            var pending = 0
            let seconds = try Bench.seconds { pending = try e.resumeOnly() }
            say("  \(Bench.format1(Double(written) / Double(1 << 20))) MB of log (\(seq / 1_000_000)M records in \(id - 1) blocks): resumed in \(Bench.format2(seconds)) s, \(pending) blocks queued for the next batch, none re-read from the source")
        } catch {
            say("  failed: \(error)")
        }
    }

    static func engine(_ ckpt: String) throws -> Engine {
        let parsed = try JobParser.parse(path: "recovery.sql", text: job)
        let store = try CheckpointStore(directory: ckpt)
        try store.verify(JobChange.Fingerprint(job: parsed, overrides: []), replay: false, force: false)
        var options = PlanOptions()
        options.stateSchema = CheckpointStore.schema
        options.prepareDatabase = { db in try store.attach(to: db) }
        options.stateTableExists = { db, name in CheckpointStore.stateTableExists(db, name) }
        var run = RunOptions()
        run.quiet = true
        return Engine(job: parsed, planOptions: options, options: run, stop: StopSignal(), checkpoint: store)
    }
}
