import EddyBlocks
import EddyCore
import EddyIngest
import EddyMonitor
import EddySQL
import EddySinks
import Glibc
import Logging

/// How `eddy run` was asked to run.
public struct RunOptions: Sendable {
    public var format: OutputFormat = .table
    /// Stop after this much time (wall time live, virtual time in a replay).
    public var duration: Int64?
    /// Stop after this many batches of this run.
    public var batches: Int?
    /// Run over recorded input with a virtual clock.
    public var replayDir: String?
    public var quiet = false
    /// Where data goes (stdout's fd).
    public var outputFD: Int32 = 1
    /// The scheduler's clock for live runs; nil means the wall clock. Replays
    /// always use a virtual clock.
    public var clock: (any BatchClock)?

    public init() {}
}

/// How a run ended.
public enum RunEnd: Sendable, Equatable {
    /// Input ended, the batch limit or duration was reached, or a stop was requested.
    case finished
    /// The reader of stdout went away.
    case outputClosed
}

/// Runs a prepared job: starts its receivers (or replay input), drives the
/// batch loop on the engine thread, and shuts everything down.
public final class Engine {
    let prepared: PreparedJob
    let options: RunOptions
    let stop: StopSignal
    private let logger = Logger(label: "eddy.engine")
    /// Metrics of every batch run so far (tests and the benchmark read them).
    public private(set) var history: [BatchMetrics] = []

    public init(prepared: PreparedJob, options: RunOptions, stop: StopSignal) {
        self.prepared = prepared
        self.options = options
        self.stop = stop
    }

    var settings: Settings { prepared.plan.settings }

    public func run() throws -> RunEnd {
        let plan = prepared.plan
        let spill: (dir: String, owned: Bool)
        if let dir = settings.spillDir {
            spill = (dir, false)
        } else {
            spill = ((try? Files.makeTempDirectory(prefix: "eddy-spill")) ?? "/tmp/eddy-spill-\(getpid())", true)
        }
        let store = BlockStore(BlockStore.Config(memoryBudget: settings.memoryBudget, diskBudget: settings.diskBudget,
                                                 spillDir: spill.dir, ownsSpillDir: spill.owned))
        let ids = BlockIDSource()
        let sources = try plan.sources.map { try LiveSource(index: $0.index, name: $0.name, config: $0.config) }
        let clock: BatchClock
        let input: BatchInput
        let zero: Int64
        if let dir = options.replayDir {
            let replay = try ReplayInput(dir: dir, sources: sources, store: store, ids: ids,
                                         batchInterval: settings.batchInterval, blockMaxBytes: Int(settings.blockMaxBytes))
            zero = 0
            replay.endTime = Schedule(plan: plan, zeroTime: 0).drainEnd(lastInput: replay.lastInputTime)
            clock = VirtualClock()
            input = replay
        } else {
            let tracker = ReceiverTracker()
            let maxRate = settings.maxRate
            let initial = settings.backpressure && settings.initialRate > 0 ? settings.initialRate : 0
            let perSource = sources.map { s -> Double in
                let cap = s.config.maxRate ?? maxRate
                if case .generator(let g) = s.config.connector, g.rate > 0 {
                    return Double(cap > 0 ? min(cap, g.rate) : g.rate).applyingCap(initial)
                }
                return Double(cap).applyingCap(initial)
            }
            let env = ReceiverEnvironment(tracker: tracker, store: store, ids: ids, blockInterval: settings.blockInterval,
                                          blockMaxBytes: Int(settings.blockMaxBytes),
                                          startRate: { perSource[$0] }, firstSeq: { _, _ in 0 })
            var fileSources: [FileSource] = []
            for source in sources {
                if case .file(let options) = source.config.connector {
                    let fs = FileSource(source: source, options: options)
                    fs.skipExisting()
                    fileSources.append(fs)
                }
            }
            let liveClock = options.clock ?? RealClock()
            let now = liveClock.now()
            let bi = settings.batchInterval
            zero = (now / bi + 1) * bi - bi
            do {
                for source in sources { try source.start(env) }
            } catch {
                tracker.stopAll()
                store.close()
                throw error
            }
            clock = liveClock
            input = LiveInput(store: store, tracker: tracker, ids: ids, sources: sources, fileSources: fileSources,
                              blockMaxBytes: Int(settings.blockMaxBytes))
        }
        defer { input.close() }
        let stdout = StdoutSink(format: options.format, writer: OutputWriter(fd: options.outputFD))
        let sinkSet = try SinkSet(specs: plan.sinks.map { s in
            SinkSpec(name: s.name, config: (try? SinkConfig.parse(s.options).get()) ?? .stdout(format: nil), columns: s.columns)
        }, database: prepared.database)
        let runner = try JobRunner(prepared: prepared, stdout: stdout, zeroTime: zero, sinks: sinkSet)
        return try loop(runner: runner, input: input, sources: sources, clock: clock, zero: zero)
    }

    private func loop(runner: JobRunner, input: BatchInput, sources: [LiveSource], clock: BatchClock,
                      zero: Int64) throws -> RunEnd {
        let bi = settings.batchInterval
        let reporter = MetricsReporter(quiet: options.quiet)
        let start = clock.now()
        let deadline = options.duration.map { start + $0 }
        var estimators = sources.map { _ in PIDRateEstimator(batchIntervalMs: bi) }
        var k: Int64 = 1
        var batchesRun = 0
        var stopping = false
        var badBefore = sources.map { $0.errors.count }
        while true {
            let time = zero + k * bi
            if !stopping {
                if stop.isRequested || !clock.sleep(until: time, stop: stop) { stopping = true }
                if let deadline, time >= deadline { stopping = true }
            }
            if stopping { input.stopReceiving() }
            let started = clock.now()
            let blocks = try input.blocks(for: time, final: stopping)
            var metrics = BatchMetrics(batchTime: time, batchID: k)
            metrics.schedulingDelayMs = max(0, started - time)
            let t0 = MonotonicTime.now()
            let outcome: JobRunner.Outcome
            do {
                outcome = try runner.runBatch(time: time, batchID: k, blocks: blocks, payload: { try input.payload(of: $0) })
                try runner.stdout.endBatch()
            } catch is OutputClosed {
                input.release(blocks)
                return .outputClosed
            }
            metrics.processingMs = MonotonicTime.millisSince(t0)
            input.release(blocks)
            metrics.totalDelayMs = metrics.schedulingDelayMs + Int64(metrics.processingMs.rounded())
            metrics.records = outcome.records
            metrics.recordsPerShard = outcome.recordsPerShard
            metrics.outputRows = outcome.outputRows
            metrics.blocks = blocks.count
            metrics.rawBytes = blocks.reduce(0) { $0 + Int64($1.rawBytes) }
            metrics.compressedBytes = blocks.reduce(0) { $0 + Int64($1.payload.count) }
            let stats = input.store.stats
            metrics.storeMemoryBytes = stats.memoryBytes
            metrics.storeDiskBytes = stats.diskBytes
            metrics.spilledBlocks = stats.spilledBlocks
            metrics.readBackBlocks = stats.readBackBlocks
            metrics.receiverPauses = stats.receiverPauses
            let bad = sources.map { $0.errors.count }
            metrics.badRecords = zip(bad, badBefore).reduce(0) { $0 + $1.0 - $1.1 }
            badBefore = bad
            if settings.backpressure, let live = input as? LiveInput {
                metrics.rate = adaptRates(live: live, sources: sources, estimators: &estimators, metrics: metrics,
                                          outcome: outcome)
            }
            history.append(metrics)
            reporter.report(metrics)
            batchesRun += 1
            k += 1
            if stopping { break }
            if let limit = options.batches, batchesRun >= limit { break }
            if input.ended(after: time) { break }
        }
        return .finished
    }

    /// Spark's backpressure: a PID estimator per source turns the batch's
    /// size, processing time and scheduling delay into a new rate for each of
    /// its receivers, never above max_rate.
    private func adaptRates(live: LiveInput, sources: [LiveSource], estimators: inout [PIDRateEstimator],
                            metrics: BatchMetrics, outcome: JobRunner.Outcome) -> Double? {
        var reported: Double?
        for source in sources {
            let limiters = live.tracker.limiters(source: source.index)
            guard !limiters.isEmpty else { continue }
            let prefix = source.name + "/"
            let records = outcome.recordsPerShard.filter { $0.key.hasPrefix(prefix) }.values.reduce(0, +)
            guard let rate = estimators[source.index].compute(
                time: WallClock.nowMs(), elements: records, processingDelayMs: max(1, Int64(metrics.processingMs.rounded())),
                schedulingDelayMs: metrics.schedulingDelayMs) else { continue }
            var perReceiver = rate / Double(limiters.count)
            let cap = source.config.maxRate ?? settings.maxRate
            if cap > 0 { perReceiver = min(perReceiver, Double(cap)) }
            for limiter in limiters { limiter.setRate(perReceiver) }
            reported = perReceiver
        }
        return reported
    }
}

extension Double {
    /// The lower of two rates where 0 means unlimited.
    func applyingCap(_ cap: Int64) -> Double {
        guard cap > 0 else { return self }
        return self > 0 ? Swift.min(self, Double(cap)) : Double(cap)
    }
}

