import EddyCore
@testable import EddyIngest
import Testing

@Suite("PIDRateEstimator")
struct PIDRateEstimatorTests {
    /// Spark's PIDRateEstimator.compute, worked by hand for each step below
    /// with proportional 1.0, integral 0.2, derivative 0, minRate 100 and a
    /// 1000 ms batch interval.
    @Test func matchesSparksFormula() throws {
        var pid = PIDRateEstimator(batchIntervalMs: 1000)
        #expect(pid.proportional == 1.0 && pid.integral == 0.2 && pid.derivative == 0 && pid.minRate == 100)

        // First batch: no estimate; remembers processingRate = 1000 / 500 * 1000 = 2000.
        #expect(pid.compute(time: 1000, elements: 1000, processingDelayMs: 500, schedulingDelayMs: 0) == nil)

        // processingRate = 1500 / 1000 * 1000 = 1500
        // error = 2000 - 1500 = 500
        // historicalError = 200 * 1500 / 1000 = 300
        // newRate = 2000 - 1.0 * 500 - 0.2 * 300 = 1440
        let r2Estimate = pid.compute(time: 2000, elements: 1500, processingDelayMs: 1000, schedulingDelayMs: 200)
        let r2 = try #require(r2Estimate)
        #expect(abs(r2 - 1440) < 1e-9)

        // processingRate = 600; error = 1440 - 600 = 840
        // historicalError = 2000 * 600 / 1000 = 1200
        // newRate = 1440 - 840 - 0.2 * 1200 = 360
        let r3Estimate = pid.compute(time: 3000, elements: 600, processingDelayMs: 1000, schedulingDelayMs: 2000)
        let r3 = try #require(r3Estimate)
        #expect(abs(r3 - 360) < 1e-9)

        // processingRate = 100; error = 360 - 100 = 260
        // historicalError = 5000 * 100 / 1000 = 500
        // newRate = 360 - 260 - 0.2 * 500 = 0 → held at minRate 100
        let r4Estimate = pid.compute(time: 4000, elements: 100, processingDelayMs: 1000, schedulingDelayMs: 5000)
        let r4 = try #require(r4Estimate)
        #expect(r4 == 100)

        // processingRate = 4000 / 500 * 1000 = 8000; error = 100 - 8000 = -7900
        // historicalError = 0
        // newRate = 100 + 7900 = 8000
        let r5Estimate = pid.compute(time: 5000, elements: 4000, processingDelayMs: 500, schedulingDelayMs: 0)
        let r5 = try #require(r5Estimate)
        #expect(abs(r5 - 8000) < 1e-9)
    }

    @Test func derivativeTermUsesTimeSinceLastUpdate() throws {
        var pid = PIDRateEstimator(batchIntervalMs: 2000, proportional: 0.5, integral: 0.1, derivative: 0.3, minRate: 10)
        _ = pid.compute(time: 2000, elements: 2000, processingDelayMs: 1000, schedulingDelayMs: 0) // latestRate 2000, error 0
        // processingRate = 1000; error = 1000; historical = 500 * 1000 / 2000 = 250
        // dError = (1000 - 0) / 2 s = 500
        // newRate = 2000 - 0.5 * 1000 - 0.1 * 250 - 0.3 * 500 = 1325
        let rEstimate = pid.compute(time: 4000, elements: 1000, processingDelayMs: 1000, schedulingDelayMs: 500)
        let r = try #require(rEstimate)
        #expect(abs(r - 1325) < 1e-9)
    }

    @Test func nothingToLearnFromGivesNil() {
        var pid = PIDRateEstimator(batchIntervalMs: 1000)
        #expect(pid.compute(time: 1000, elements: 0, processingDelayMs: 100, schedulingDelayMs: 0) == nil)
        #expect(pid.compute(time: 1000, elements: 10, processingDelayMs: 0, schedulingDelayMs: 0) == nil)
        #expect(pid.compute(time: 1000, elements: 1000, processingDelayMs: 500, schedulingDelayMs: 0) == nil, "first real batch")
        #expect(pid.compute(time: 1000, elements: 1000, processingDelayMs: 500, schedulingDelayMs: 0) == nil, "same time again")
        #expect(pid.compute(time: 900, elements: 1000, processingDelayMs: 500, schedulingDelayMs: 0) == nil, "time going back")
        #expect(pid.compute(time: 2000, elements: 1000, processingDelayMs: 500, schedulingDelayMs: 0) != nil)
    }

    @Test func neverBelowMinRate() {
        var rng = SplitMix(seed: 42)
        var pid = PIDRateEstimator(batchIntervalMs: 1000)
        var estimates = 0
        for k in 1...500 {
            let rate = pid.compute(time: Int64(k) * 1000, elements: Int64.random(in: 1...100_000, using: &rng),
                                   processingDelayMs: Int64.random(in: 1...20_000, using: &rng),
                                   schedulingDelayMs: Int64.random(in: 0...60_000, using: &rng))
            if let rate {
                estimates += 1
                #expect(rate >= 100, "batch \(k): \(rate)")
            }
        }
        #expect(estimates == 499)
    }
}

@Suite("RateLimiter")
struct RateLimiterTests {
    @Test func rateZeroNeverSleepsNorRunsUpDebt() {
        let limiter = RateLimiter(rate: 0)
        let stop = StopSignal() // never requested: a sleep would really sleep
        for _ in 0..<1000 { limiter.acquire(1_000_000_000, stop: stop) }
        #expect(limiter.allowance(maxBatch: 500) == 500)
        // Had rate 0 accounted for those records, a real rate would now owe
        // years of waiting; it owes nothing and gets the 100 ms idle credit.
        limiter.setRate(1000)
        #expect(limiter.allowance(maxBatch: 1000) == 100)
    }

    @Test func setRateChangesIt() {
        let limiter = RateLimiter(rate: 50)
        #expect(limiter.rate == 50)
        limiter.setRate(500)
        #expect(limiter.rate == 500)
        limiter.setRate(-3)
        #expect(limiter.rate == 0, "negative rates mean no limit")
        #expect(limiter.allowance(maxBatch: 7) == 7)
    }

    @Test func acquiredRecordsAreOwed() {
        let limiter = RateLimiter(rate: 1)
        let stop = StopSignal()
        stop.request() // acquire accounts but returns at once
        #expect(limiter.allowance(maxBatch: 100) == 1, "at 1 record/s the idle credit is under one record")
        limiter.acquire(3, stop: stop)
        #expect(limiter.allowance(maxBatch: 100) == 1, "at least one, even in debt")
        limiter.setRate(0)
        #expect(limiter.allowance(maxBatch: 100) == 100, "setting the rate to 0 lifts the limit at once")
        limiter.setRate(1_000_000)
        #expect(limiter.allowance(maxBatch: 10) <= 10)
    }

    @Test func acquireReturnsWhenStopped() {
        let limiter = RateLimiter(rate: 0.001) // one record per 1000 s
        let stop = StopSignal()
        limiter.acquire(1, stop: stop) // the first one is free (idle credit)
        stop.request()
        limiter.acquire(1, stop: stop) // would wait ~1000 s without the stop
        #expect(stop.isRequested)
    }
}
