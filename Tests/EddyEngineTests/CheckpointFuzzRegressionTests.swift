import EddyCore
import EddyEngine
import EddySQL
import Foundation
import Testing

/// Inputs the checkpoint fuzz target (Fuzz/Sources/checkpoint, scripts/fuzz.sh)
/// found, kept so they stay fixed.
@Suite("Checkpoint fuzz regressions")
struct CheckpointFuzzRegressionTests {
    /// The first batch after a restart skipped the missed batches one loop
    /// turn each: a checkpoint left for a year with a 1 ms batch interval, or
    /// a damaged batch time, kept the restart busy for hours.
    @Test func aLastBatchFarInThePastResumesAtOnce() throws {
        var point = CheckpointStore.ResumePoint()
        point.lastCommitted = .init(time: -(1 << 52), id: 41)
        let now: Int64 = 1_763_800_000_123
        let next = try point.nextBatch(zero: 0, batchInterval: 1, now: now)
        #expect(next.time == now)
        #expect(next.id == 42)
        // On the grid of the batch interval, the first boundary after now - interval.
        let coarse = try point.nextBatch(zero: 0, batchInterval: 1000, now: now)
        #expect(coarse.time == -(1 << 52) + ((now - 1000 + (1 << 52)) / 1000 + 1) * 1000)
        #expect(coarse.time > now - 1000 && coarse.time <= now)
    }

    @Test func aRecentLastBatchIsFollowedByTheNextOne() throws {
        var point = CheckpointStore.ResumePoint()
        point.lastCommitted = .init(time: 10_000, id: 10)
        #expect(try point.nextBatch(zero: 0, batchInterval: 1000, now: 10_500) == .init(time: 11_000, id: 11))
        #expect(try point.nextBatch(zero: 0, batchInterval: 1000, now: nil) == .init(time: 11_000, id: 11))
        #expect(try CheckpointStore.ResumePoint().nextBatch(zero: 5000, batchInterval: 1000, now: nil) == .init(time: 6000, id: 1))
    }

    /// Numbers a restart does arithmetic on, damaged in a checkpoint whose
    /// pages still pass SQLite's check (Fuzz/corpus/checkpoint/damaged-*.db
    /// are these files): each trapped with an overflow on restart.
    @Test(arguments: [
        "UPDATE _eddy_job SET zero_time = 9223372036854775807; DELETE FROM _eddy_batches;",
        "DELETE FROM _eddy_batches WHERE batch_time < (SELECT max(batch_time) FROM _eddy_batches); UPDATE _eddy_batches SET batch_time = -9223372036854775807;",
        "UPDATE _eddy_batches SET batch_time = 9223372036854775807, batch_id = 9223372036854775807 WHERE batch_time = (SELECT max(batch_time) FROM _eddy_batches);",
        "UPDATE _eddy_offsets SET next_seq = 9223372036854775800;",
        "UPDATE _eddy_batch_blocks SET block_id = -1 - block_id;",
    ])
    func damagedNumbersAreRefusedOnRestart(_ damage: String) throws {
        let dir = try Files.makeTempDirectory(prefix: "eddy-test")
        defer { Files.removeTree(dir) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        try FileManager.default.copyItem(atPath: root.path + "/Fuzz/corpus/checkpoint/quickstart.db", toPath: dir + "/checkpoint.db")
        do {
            let db = try Database(path: dir + "/checkpoint.db")
            try db.execute(damage)
        }
        let store = try CheckpointStore(directory: dir)
        let db = try Database(path: "")
        try store.attach(to: db)
        let zero = try store.storedJob(db)?.zeroTime ?? 0
        do {
            let next = try store.resumePoint(db).nextBatch(zero: zero, batchInterval: 1000, now: WallClock.nowMs())
            Issue.record("a damaged checkpoint resumed at batch \(next.id), time \(next.time)")
        } catch let error as RuntimeError {
            #expect(error.message.contains("is damaged"))
        }
    }

    /// The seed itself, undamaged, resumes.
    @Test func theUndamagedCheckpointResumes() throws {
        let dir = try Files.makeTempDirectory(prefix: "eddy-test")
        defer { Files.removeTree(dir) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        try FileManager.default.copyItem(atPath: root.path + "/Fuzz/corpus/checkpoint/quickstart.db", toPath: dir + "/checkpoint.db")
        let store = try CheckpointStore(directory: dir)
        let db = try Database(path: "")
        try store.attach(to: db)
        let stored = try #require(try store.storedJob(db))
        let resume = try store.resumePoint(db)
        let last = try #require(resume.lastCommitted)
        let next = try resume.nextBatch(zero: stored.zeroTime, batchInterval: 1000, now: nil)
        #expect(next == .init(time: last.time + 1000, id: last.id + 1))
    }
}
