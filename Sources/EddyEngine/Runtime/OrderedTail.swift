import EddyBlocks
import EddyCore
import EddyIngest
import EddyMonitor
import EddySinks
import Glibc

/// Everything that must happen in batch order, and the turn that keeps it
/// so: a batch's ordered half starts only when the batch before it has
/// committed. The lane that ran a batch's lane half runs its ordered half
/// too, on its own connection, so no batch table is copied between lanes.
///
/// In order, per batch: the steps that touch state tables and windows, the
/// outputs (stdout in file order), the sinks, the checkpoint's commit; after
/// it, the sources learn what is committed (acks, Kinesis positions), blocks
/// are released, the log forgets what no window needs, and the batch's
/// metrics are published: the stderr line, the monitor's ring (the UI and
/// `/metrics`), `--metrics-file`, and the run's step summary. Everything here is touched only by the lane whose turn it is
/// (or, before the lanes start, by recovery on the engine thread): the turn,
/// not a lock, is what makes the `@unchecked Sendable` sound.
final class OrderedTail: @unchecked Sendable {
    private struct Turn {
        /// The batch whose ordered half may run next.
        var next: Int64
        var failure: (any Error)?
    }

    private let turn: ConditionLock<Turn>
    let clock: any BatchClock
    let stdout: StdoutSink
    let input: BatchInput
    let checkpoint: CheckpointStore?
    let log: WriteAheadLog?
    let sources: [LiveSource]
    let plan: Plan
    let quiet: Bool
    /// How long a batch's logged blocks are kept after it commits, so the
    /// windows can be rebuilt from them after a restart: the sum of all
    /// window ranges covers windows over windows too.
    let retention: Int64
    /// Blocks kept in the log for the windows, by batch time.
    var retained: [(time: Int64, ids: Set<UInt64>)] = []
    /// Where batches are published for the UI; it keeps the last 1000.
    let monitor: RunMonitor
    let metricsFile: MetricsFile?
    private let tables: TableSampler
    /// Every batch's steps, for the summary at the end of the run.
    private(set) var summary = StepSummary()
    private var estimators: [PIDRateEstimator]
    private var badBefore: [Int64]
    private var pace = FinishPace()

    init(firstBatch: Int64, clock: any BatchClock, stdout: StdoutSink, input: BatchInput, checkpoint: CheckpointStore?,
         log: WriteAheadLog?, sources: [LiveSource], plan: Plan, quiet: Bool, monitor: RunMonitor,
         metricsFile: MetricsFile?, tables: TableSampler) {
        turn = ConditionLock(Turn(next: firstBatch))
        self.clock = clock
        self.stdout = stdout
        self.input = input
        self.checkpoint = checkpoint
        self.log = log
        self.sources = sources
        self.plan = plan
        self.quiet = quiet
        self.monitor = monitor
        self.metricsFile = metricsFile
        self.tables = tables
        retention = plan.windows.reduce(0) { $0 + $1.range }
        estimators = sources.map { _ in PIDRateEstimator(batchIntervalMs: plan.settings.batchInterval) }
        // Sources are made for this run, their counts from zero: bad records
        // seen before the first batch count in it.
        badBefore = sources.map { _ in 0 }
    }

    // MARK: the turn

    /// Waits until `batch` may run its ordered half. False when the run
    /// failed before its turn came: the batch must be abandoned.
    func waitForTurn(_ batch: Int64) -> Bool {
        turn.wait(until: { $0.next == batch || $0.failure != nil }, then: { $0.failure == nil }) ?? false
    }

    /// The next batch's turn (after recovery, the scheduler's first).
    func setNext(_ batch: Int64) { turn.update { $0.next = batch } }

    /// Ends the run: the first failure is the one reported; every lane
    /// waiting for its turn abandons its batch.
    func fail(_ error: any Error) {
        turn.update { if $0.failure == nil { $0.failure = error } }
    }

    var failure: (any Error)? { turn.withLock { $0.failure } }
    var hasFailed: Bool { failure != nil }

    /// Where a batch's compressed records come from.
    func payload(fromStore: Bool) -> (Block) throws -> [UInt8] {
        if fromStore {
            let input = input
            return { try input.payload(of: $0) }
        }
        return { $0.payload }
    }

    // MARK: the ordered half

    /// Runs the batch's ordered half on its lane and everything that follows
    /// its commit, then hands the turn to the next batch. Called only when
    /// it is this batch's turn.
    /// `turnWaitNanos`: how long the batch waited for its turn, its lane half done.
    func finish(_ batch: Batch, half: JobRunner.LaneHalf, lane: Lane, started: Int64, laneNanos: Int64,
                turnWaitNanos: Int64) throws {
        let t0 = MonotonicTime.now()
        let sinkNames = plan.sinks.filter { !$0.columns.isEmpty }.map(\.name)
        let records = Int64(batch.blocks.reduce(0) { $0 + $1.count })
        let outcome = try lane.runner.runOrderedSteps(
            time: batch.time, batchID: batch.id, half: half, stdout: stdout,
            beforeCommit: checkpoint.map { ckpt in { db in
                CrashPoint.inBatch.reached()
                try ckpt.recordCommit(db, time: batch.time, records: records, blocks: batch.blocks, sinks: sinkNames)
            } })
        if checkpoint != nil { CrashPoint.committed.reached() }
        try stdout.endBatch()
        for source in sources { try source.committed(batch.blocks, checkpointed: checkpoint != nil) }
        if batch.fromStore { input.release(batch.blocks) }
        if let checkpoint {
            if let log {
                retained.append((batch.time, Set(batch.blocks.map(\.id).filter { log.contains($0) })))
                let horizon = batch.time - retention
                var expired: Set<UInt64> = []
                while let first = retained.first, first.time <= horizon {
                    expired.formUnion(first.ids)
                    retained.removeFirst()
                }
                log.release(expired)
            }
            if batch.id % 16 == 0 { try checkpoint.prune(lane.runner.db, before: batch.time - retention) }
        }
        let tailNanos = MonotonicTime.now() - t0
        report(batch, outcome: outcome, lane: lane.index, started: started, busyNanos: laneNanos + tailNanos,
               turnWaitNanos: turnWaitNanos)
        // Still this batch's turn: no other batch changes the tables while they are measured.
        if !tables.isEmpty { monitor.publish(tables: tables.figures(db: lane.runner.db)) }
        turn.update { $0.next = batch.id + 1 }
    }

    /// The batch's metrics line, and backpressure's new rates.
    /// `busyNanos`: the batch's two halves, without the wait for its turn;
    /// the total delay counts that wait.
    private func report(_ batch: Batch, outcome: JobRunner.Outcome, lane: Int, started: Int64, busyNanos: Int64,
                        turnWaitNanos: Int64) {
        var metrics = BatchMetrics(batchTime: batch.time, batchID: batch.id)
        metrics.lane = lane
        metrics.inFlight = batch.inFlight
        metrics.steps = outcome.steps
        metrics.turnWaitMs = Double(turnWaitNanos) / 1_000_000
        metrics.committedAtMs = WallClock.nowMs()
        metrics.schedulingDelayMs = max(0, started - batch.time)
        metrics.processingMs = Double(busyNanos) / 1_000_000
        let finished = clock.now()
        metrics.totalDelayMs = max(metrics.schedulingDelayMs + Int64(metrics.processingMs.rounded()), finished - batch.time)
        metrics.add(outcome, blocks: batch.blocks, cutMs: batch.cutMs)
        metrics.add(input.store.stats, logBytes: log?.liveBytes ?? 0)
        let bad = sources.map { $0.errors.count }
        metrics.badRecords = zip(bad, badBefore).reduce(0) { $0 + $1.0 - $1.1 }
        badBefore = bad
        for source in sources {
            for (name, value) in source.gauges { metrics.gauges["\(source.name)/\(name)"] = value }
        }
        // Backpressure works from the rate at which batches finish (FinishPace).
        let effectiveMs = pace.processingMs(batchMs: metrics.processingMs, finishedAt: MonotonicTime.now())
        if plan.settings.backpressure, let live = input as? LiveInput {
            metrics.rate = adaptRates(live: live, records: outcome.recordsPerShard, processingMs: effectiveMs,
                                      schedulingDelayMs: metrics.schedulingDelayMs)
        }
        monitor.publish(metrics)
        if checkpoint != nil {
            monitor.publish(commit: CommitFigures(batchID: batch.id, batchTime: batch.time, atMs: metrics.committedAtMs))
        }
        summary.add(metrics)
        metricsFile?.append(metrics)
        MetricsReporter(quiet: quiet).report(metrics)
    }

    /// Spark's backpressure: a PID estimator per source turns the batch's
    /// size, processing time and scheduling delay into a new rate for each of
    /// its receivers, never above max_rate.
    private func adaptRates(live: LiveInput, records perShard: [String: Int64], processingMs: Double,
                            schedulingDelayMs: Int64) -> Double? {
        var reported: Double?
        for source in sources {
            let limiters = live.tracker.limiters(source: source.index)
            guard !limiters.isEmpty else { continue }
            let prefix = source.name + "/"
            let records = perShard.filter { $0.key.hasPrefix(prefix) }.values.reduce(0, +)
            guard let rate = estimators[source.index].compute(
                time: WallClock.nowMs(), elements: records, processingDelayMs: max(1, Int64(processingMs.rounded())),
                schedulingDelayMs: schedulingDelayMs) else { continue }
            var perReceiver = rate / Double(limiters.count)
            let cap = source.config.maxRate ?? plan.settings.maxRate
            if cap > 0 { perReceiver = min(perReceiver, Double(cap)) }
            for limiter in limiters { limiter.setRate(perReceiver) }
            reported = perReceiver
        }
        return reported
    }
}
