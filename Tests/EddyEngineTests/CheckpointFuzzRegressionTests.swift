import EddyEngine
import Testing

/// Inputs the checkpoint fuzz target (Fuzz/Sources/checkpoint, scripts/fuzz.sh)
/// found, kept so they stay fixed.
@Suite("Checkpoint fuzz regressions")
struct CheckpointFuzzRegressionTests {
    /// The first batch after a restart skipped the missed batches one loop
    /// turn each: a checkpoint left for a year with a 1 ms batch interval, or
    /// a damaged batch time, kept the restart busy for hours.
    @Test func aLastBatchFarInThePastResumesAtOnce() {
        var point = CheckpointStore.ResumePoint()
        point.lastCommitted = .init(time: -(1 << 60), id: 41)
        let now: Int64 = 1_763_800_000_123
        let next = point.nextBatch(zero: 0, batchInterval: 1, now: now)
        #expect(next.time == now)
        #expect(next.id == 42)
        // On the grid of the batch interval, the first boundary after now - interval.
        let coarse = point.nextBatch(zero: 0, batchInterval: 1000, now: now)
        #expect(coarse.time == -(1 << 60) + ((now - 1000 + (1 << 60)) / 1000 + 1) * 1000)
        #expect(coarse.time > now - 1000 && coarse.time <= now)
    }

    @Test func aRecentLastBatchIsFollowedByTheNextOne() {
        var point = CheckpointStore.ResumePoint()
        point.lastCommitted = .init(time: 10_000, id: 10)
        #expect(point.nextBatch(zero: 0, batchInterval: 1000, now: 10_500) == .init(time: 11_000, id: 11))
        #expect(point.nextBatch(zero: 0, batchInterval: 1000, now: nil) == .init(time: 11_000, id: 11))
        #expect(CheckpointStore.ResumePoint().nextBatch(zero: 5000, batchInterval: 1000, now: nil) == .init(time: 6000, id: 1))
    }
}
