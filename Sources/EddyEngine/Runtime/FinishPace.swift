/// The processing time backpressure learns from. Spark's PID estimator
/// turns a batch's records and its processing time into the rate the job
/// keeps up with (records ÷ processing time). On N busy lanes, N batches are
/// processed at once, so one batch's processing time understates that rate
/// up to N-fold; what the job sustains is the time between two batches
/// finishing. The estimator gets the smaller of the two: on one lane with
/// idle time between batches, the batch's own time; on busy lanes, the
/// finish interval.
struct FinishPace {
    private var lastFinish: Int64?

    /// `batchMs`: the batch's processing time; `now`: monotonic ns when it finished.
    mutating func processingMs(batchMs: Double, finishedAt now: Int64) -> Double {
        defer { lastFinish = now }
        guard let lastFinish, now > lastFinish else { return batchMs }
        return min(batchMs, Double(now - lastFinish) / 1_000_000)
    }
}
