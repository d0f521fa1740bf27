@testable import EddyEngine
import EddyIngest
import Testing

/// With N lanes, backpressure's PID estimator works from the rate at which
/// batches finish, not from one batch's processing time.
@Suite struct FinishPaceTests {
    let ms: Int64 = 1_000_000

    @Test func oneLaneWithIdleTimeUsesTheBatchsOwnTime() {
        var pace = FinishPace()
        // 400 ms of work per 1 s batch: the lane idles 600 ms between them.
        #expect(pace.processingMs(batchMs: 400, finishedAt: 1400 * ms) == 400)
        #expect(pace.processingMs(batchMs: 400, finishedAt: 2400 * ms) == 400)
        #expect(pace.processingMs(batchMs: 400, finishedAt: 3400 * ms) == 400)
    }

    @Test func busyLanesUseTheTimeBetweenFinishes() {
        var pace = FinishPace()
        // Three lanes, 1500 ms per batch, one batch finishing every 500 ms.
        #expect(pace.processingMs(batchMs: 1500, finishedAt: 1500 * ms) == 1500, "the first batch has nothing before it")
        #expect(pace.processingMs(batchMs: 1500, finishedAt: 2000 * ms) == 500)
        #expect(pace.processingMs(batchMs: 1500, finishedAt: 2500 * ms) == 500)
        // A clock that did not move is no interval.
        #expect(pace.processingMs(batchMs: 1500, finishedAt: 2500 * ms) == 1500)
    }

    /// The estimator's rate follows: 100k records per batch, finishing every
    /// 500 ms on three lanes, is 200k records/s; from one batch's 1500 ms it
    /// would have been 67k, a third of what the job sustains.
    @Test func thePIDEstimatorLearnsTheRateTheLanesSustain() throws {
        var lanes = PIDRateEstimator(batchIntervalMs: 1000)
        var single = PIDRateEstimator(batchIntervalMs: 1000)
        var pace = FinishPace()
        var rate: Double?, naive: Double?
        for k in Int64(1)...6 {
            let finished = (1500 + 500 * (k - 1)) * ms
            let effective = pace.processingMs(batchMs: 1500, finishedAt: finished)
            rate = lanes.compute(time: 1000 * k, elements: 100_000, processingDelayMs: Int64(effective), schedulingDelayMs: 0)
            naive = single.compute(time: 1000 * k, elements: 100_000, processingDelayMs: 1500, schedulingDelayMs: 0)
        }
        let learned = try #require(rate), perBatch = try #require(naive)
        #expect(abs(learned - 200_000) < 1)
        #expect(abs(perBatch - 66_667) < 1)
    }
}
