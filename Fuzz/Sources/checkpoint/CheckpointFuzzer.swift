import EddyCore
import EddyEngine
import EddyFuzzSupport
import EddyJob
import EddySQL

/// A damaged `checkpoint.db`: the input is the file's bytes (the seeds are
/// real checkpoints). It is loaded as a restart loads it: `verify` against
/// the job, `attach` to the engine's connection, the stored job and
/// everything a restart resumes from, and the first batch's time; and as
/// `eddy status` reads it. Each step must refuse damage with an error.
@_cdecl("fuzz_checkpoint_main")
public func fuzzCheckpointMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzCheckpoint(UnsafeBufferPointer(start: data, count: size)) }
}

func fuzzCheckpoint(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    let directory = FuzzWorkDirectory.fresh("checkpoint")
    FuzzWorkDirectory.write(input, to: directory + "/checkpoint.db")
    do {
        let store = try CheckpointStore(directory: directory)
        do {
            try store.verify(CheckpointJob.fingerprint, replay: false, force: true)
        } catch is JobChangeError {
            // Another job's checkpoint: --force would go on with it.
        }
        let db = try Database(path: "")
        try store.attach(to: db)
        let stored = try store.storedJob(db)
        let resume = try store.resumePoint(db)
        let zero = stored?.zeroTime ?? 0
        _ = try resume.nextBatch(zero: zero, batchInterval: 1000, now: WallClock.nowMs())
        _ = try resume.nextBatch(zero: zero, batchInterval: 1000, now: nil)
    } catch {
        _ = "\(error)"
    }
    do {
        _ = try CheckpointStatus.describe(directory: directory)
    } catch {
        _ = "\(error)"
    }
    return 0
}

/// The job the seed checkpoints were made with (sql/quickstart.sql).
enum CheckpointJob {
    static let text = """
        SET batch_interval = '1s';
        CREATE SOURCE lines (line TEXT)
          WITH (connector = 'generator', rate = 2000, words = 8, vocab = 500, seed = 7);
        CREATE STREAM words AS
          SELECT s.value AS word FROM lines, split(lines.line, ' ') AS s WHERE s.value <> '';
        SELECT word, count(*) AS n FROM words GROUP BY word ORDER BY n DESC, word LIMIT 5;
        """
    static let fingerprint: JobChange.Fingerprint = {
        do {
            return JobChange.Fingerprint(job: try JobParser.parse(path: "quickstart.sql", text: text), overrides: [])
        } catch {
            fatalError("the fuzz job does not parse: \(error)")
        }
    }()
}
