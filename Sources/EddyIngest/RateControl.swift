import EddyCore

/// Holds a receiver to a records-per-second rate (Spark's RateLimiter). The
/// rate can change while running: backpressure lowers and raises it.
public final class RateLimiter: Sendable {
    private struct State: Sendable {
        var rate: Double
        /// Monotonic ns at which the next record may go.
        var nextFree: Int64 = 0
    }

    private let state: ConditionLock<State>

    /// `rate` in records/s; 0 means no limit.
    public init(rate: Double) { state = ConditionLock(State(rate: rate)) }

    public var rate: Double { state.withLock { $0.rate } }

    public func setRate(_ rate: Double) { state.withLock { $0.rate = max(0, rate) } }

    /// Accounts for `n` records, sleeping as long as the rate requires.
    /// Returns early when `stop` fires.
    public func acquire(_ n: Int, stop: StopSignal) {
        guard n > 0 else { return }
        let waitNs: Int64 = state.withLock { s in
            guard s.rate > 0 else { return 0 }
            let now = MonotonicTime.now()
            // No credit for idle time beyond 100ms: a paused producer may not burst.
            if s.nextFree < now - 100_000_000 { s.nextFree = now - 100_000_000 }
            let wait = s.nextFree - now
            s.nextFree += Int64(Double(n) * 1e9 / s.rate)
            return wait
        }
        if waitNs >= 1_000_000 { _ = stop.wait(timeoutMs: waitNs / 1_000_000) }
    }

    /// How many records may go now without waiting (for producers that make
    /// records on demand, like the generator). At least 1.
    public func allowance(maxBatch: Int) -> Int {
        state.withLock { s in
            guard s.rate > 0 else { return maxBatch }
            let now = MonotonicTime.now()
            if s.nextFree < now - 100_000_000 { s.nextFree = now - 100_000_000 }
            let credit = Double(now - s.nextFree) * s.rate / 1e9
            return max(1, min(maxBatch, Int(credit)))
        }
    }
}

/// Spark's PIDRateEstimator: from each batch's size, processing time and
/// scheduling delay, a new ingestion rate that lets batches keep up.
/// Defaults are Spark's: proportional 1.0, integral 0.2, derivative 0.0,
/// min rate 100 records/s (the floor that keeps it from stalling at 0).
public struct PIDRateEstimator: Sendable {
    public let batchIntervalMs: Int64
    public let proportional: Double
    public let integral: Double
    public let derivative: Double
    public let minRate: Double

    private var firstRun = true
    private var latestTime: Int64 = -1
    private var latestRate: Double = -1
    private var latestError: Double = -1

    public init(batchIntervalMs: Int64, proportional: Double = 1.0, integral: Double = 0.2,
                derivative: Double = 0.0, minRate: Double = 100) {
        self.batchIntervalMs = batchIntervalMs
        self.proportional = proportional
        self.integral = integral
        self.derivative = derivative
        self.minRate = minRate
    }

    /// Feeds one completed batch; returns the new rate in records/s, or nil
    /// when there is no estimate yet (first batch, or nothing to learn from).
    public mutating func compute(time: Int64, elements: Int64, processingDelayMs: Int64,
                                 schedulingDelayMs: Int64) -> Double? {
        guard time > latestTime, elements > 0, processingDelayMs > 0 else { return nil }
        let delaySinceUpdate = Double(time - latestTime) / 1000
        let processingRate = Double(elements) / Double(processingDelayMs) * 1000
        let error = latestRate - processingRate
        let historicalError = Double(schedulingDelayMs) * processingRate / Double(batchIntervalMs)
        let dError = (error - latestError) / delaySinceUpdate
        let newRate = max(latestRate - proportional * error - integral * historicalError - derivative * dError, minRate)
        latestTime = time
        if firstRun {
            latestRate = processingRate
            latestError = 0
            firstRun = false
            return nil
        }
        latestRate = newRate
        latestError = error
        return newRate
    }
}
