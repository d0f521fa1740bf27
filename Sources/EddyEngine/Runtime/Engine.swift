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
    /// Accept a checkpoint made by a different job text (see JobChange).
    public var force = false

    public init() {}
}

/// How a run ended.
public enum RunEnd: Sendable, Equatable {
    /// Input ended, the batch limit or duration was reached, or a stop was requested.
    case finished
    /// The reader of stdout went away.
    case outputClosed
    /// A stop ran past `stop_timeout`: the batch in flight was interrupted and
    /// rolled back (with a checkpoint it runs again at the next start).
    case stopTimedOut
}

/// Runs a prepared job: starts its receivers (or replay input), recovers from
/// its checkpoint when it has one, drives the batch loop on the engine
/// thread, and shuts everything down.
public final class Engine {
    let prepared: PreparedJob
    let options: RunOptions
    let stop: StopSignal
    let checkpoint: CheckpointStore?
    let logger = Logger(label: "eddy.engine")
    /// Metrics of every batch run so far (tests and the benchmark read them).
    public private(set) var history: [BatchMetrics] = []

    public init(prepared: PreparedJob, options: RunOptions, stop: StopSignal, checkpoint: CheckpointStore? = nil) {
        self.prepared = prepared
        self.options = options
        self.stop = stop
        self.checkpoint = checkpoint
    }

    var settings: Settings { prepared.plan.settings }
    var plan: Plan { prepared.plan }
    var db: Database { prepared.database }

    /// What the batch loop works with, once input and recovery are set up.
    final class Context {
        let input: BatchInput
        let runner: JobRunner
        let clock: BatchClock
        let zero: Int64
        let sources: [LiveSource]
        let log: WriteAheadLog?
        var nextTime: Int64
        var nextID: Int64
        /// Blocks kept in the log for the windows, by batch time.
        var retained: [(time: Int64, ids: Set<UInt64>)] = []

        init(input: BatchInput, runner: JobRunner, clock: BatchClock, zero: Int64, sources: [LiveSource],
             log: WriteAheadLog?, nextTime: Int64, nextID: Int64) {
            self.input = input
            self.runner = runner
            self.clock = clock
            self.zero = zero
            self.sources = sources
            self.log = log
            self.nextTime = nextTime
            self.nextID = nextID
        }
    }

    /// How long a batch's logged blocks are kept after it commits, so the
    /// windows can be rebuilt from them after a restart: the sum of all
    /// window ranges covers windows over windows too.
    var retention: Int64 { plan.windows.reduce(0) { $0 + $1.range } }

    public func run() throws -> RunEnd {
        // stop_timeout counts from the stop request, wherever the engine is.
        let watchdog = StopWatchdog(timeoutMs: settings.stopTimeout, checkpointed: checkpoint != nil)
        if stop.observe({ _ in watchdog.start() }) > 0 { watchdog.start() }
        db.interruptStatements(on: watchdog.abandon)
        defer {
            watchdog.standDown()
            db.interruptStatements(on: nil)
        }
        do {
            let context = try setUp()
            defer {
                context.input.close()
                context.log?.close()
            }
            return try loop(context)
        } catch let error where watchdog.abandoned(error) {
            let place = (error as? BatchFailure).map { "\($0.location): batch \($0.time)" } ?? "the batch in flight"
            StandardError.write("eddy: \(place) was interrupted at stop_timeout and rolled back\(checkpoint != nil ? "; it runs again at the next start" : "")\n")
            return .stopTimedOut
        }
    }

    /// Everything `run()` does before its first batch, and nothing after:
    /// how long a restart takes to be ready (the recovery benchmark). Returns
    /// the blocks waiting for the next batch.
    public func resumeOnly() throws -> Int {
        let context = try setUp()
        defer {
            context.input.close()
            context.log?.close()
        }
        return context.input.store.pendingCount
    }

    // MARK: setup

    private func setUp() throws -> Context {
        let replay = options.replayDir != nil
        let bi = settings.batchInterval

        // The checkpoint: the job it belongs to, and its zero time.
        var stored: CheckpointStore.StoredJob?
        if let checkpoint {
            stored = try checkpoint.storedJob(db)
            // The job was checked against it before planning (CheckpointStore.verify);
            // a forced change now makes the checkpoint the new job's.
            if let stored, stored.text != plan.jobText { try checkpoint.updateJobText(db, plan.jobText) }
        }
        let liveClock = options.clock ?? RealClock()
        let zero: Int64
        if let stored {
            zero = stored.zeroTime
        } else if replay {
            zero = 0
        } else {
            // The first batch is the boundary after the next one: a run that
            // stopped a moment ago labelled its last batch with the next
            // boundary, and two runs must never share a batch time (sink files
            // are named by it).
            zero = (liveClock.now() / bi + 1) * bi
        }
        if let checkpoint, stored == nil { try checkpoint.storeJob(db, plan: plan, zeroTime: zero, replay: replay) }

        // Spill files: under the checkpoint when there is one, else a private temp dir.
        let spill: (dir: String, owned: Bool)
        if let dir = settings.spillDir {
            spill = (dir, false)
        } else if let checkpoint {
            Files.removeTree(checkpoint.spillDirectory)
            spill = (checkpoint.spillDirectory, false)
        } else {
            // Never a fallback path: a predictable name in a shared /tmp is
            // one another user can create first.
            do {
                spill = (try Files.makeTempDirectory(prefix: "eddy-spill"), true)
            } catch {
                throw RuntimeError("\(error); set TMPDIR to a writable directory, or SET spill_dir = 'DIR'")
            }
        }
        // A private spill dir is the store's to remove at close; until the
        // store is handed over in the context, a failed set-up removes it here.
        var handedOver = false
        defer { if spill.owned && !handedOver { Files.removeTree(spill.dir) } }

        // The write-ahead log, for what receivers take in.
        var log: WriteAheadLog?
        var recovered: [(Block, WriteAheadLog.Location)] = []
        if let checkpoint, !replay {
            let wal = try WriteAheadLog(directory: checkpoint.walDirectory, sync: settings.walSync)
            recovered = wal.recover().blocks
            log = wal
        }
        // With a log, a block over the memory budget is not spilled again:
        // the store reads it back from the log.
        var readBack: (@Sendable (Block) throws -> [UInt8])?
        if let wal = log {
            readBack = { (block: Block) throws -> [UInt8] in
                guard let b = try wal.read(id: block.id) else { throw BlockError.io("block \(block.id) is not in the write-ahead log") }
                return b.payload
            }
        }
        let store = BlockStore(BlockStore.Config(memoryBudget: settings.memoryBudget, diskBudget: settings.diskBudget,
                                                 spillDir: spill.dir, ownsSpillDir: spill.owned),
                               externalReader: readBack)

        // Where everything resumes.
        var committedOffsets: [Int: [String: Int64]] = [:]
        var positions: [Int: [String: String]] = [:]
        var seenFiles: [Int: [String]] = [:]
        var maxID: UInt64 = 0
        var last: (time: Int64, id: Int64)?
        var inFlight: Allocation?
        if let checkpoint {
            committedOffsets = try checkpoint.offsets(db)
            positions = try checkpoint.positions(db)
            seenFiles = try checkpoint.seenFiles(db)
            maxID = try checkpoint.maxBlockID(db)
            last = try checkpoint.lastCommitted(db)
            inFlight = try checkpoint.inFlight(db)
        }
        var offsets = committedOffsets
        for (block, _) in recovered {
            maxID = max(maxID, block.id)
            let next = block.firstSeq + Int64(block.count)
            offsets[block.source, default: [:]][block.shard] = max(offsets[block.source]?[block.shard] ?? 0, next)
            // The log is newer than the last commit: resume after what it holds.
            if let p = block.position { positions[block.source, default: [:]][block.shard] = p }
        }
        let ids = BlockIDSource(next: maxID + 1)
        let sources = try plan.sources.map { try LiveSource(index: $0.index, name: $0.name, config: $0.config) }

        let clock: BatchClock
        let input: BatchInput
        if let dir = options.replayDir {
            let replayInput = try ReplayInput(dir: dir, sources: sources, store: store, ids: ids,
                                              batchInterval: bi, blockMaxBytes: Int(settings.blockMaxBytes))
            replayInput.endTime = Schedule(plan: plan, zeroTime: 0).drainEnd(lastInput: replayInput.lastInputTime)
            replayInput.setNextSeq(offsets.mapValues { $0.values.max() ?? 0 })
            clock = VirtualClock()
            input = replayInput
        } else {
            input = try startLive(store: store, ids: ids, sources: sources, offsets: offsets, positions: positions,
                                  seenFiles: seenFiles, firstRun: stored == nil, log: log)
            clock = liveClock
        }
        let stdout = StdoutSink(format: options.format, writer: OutputWriter(fd: options.outputFD))
        let sinkSet: SinkSet
        let runner: JobRunner
        do {
            sinkSet = try SinkSet(specs: plan.sinks.map { s in
                SinkSpec(name: s.name, config: s.config, columns: s.columns)
            }, database: db, rerunsPossible: checkpoint != nil)
            runner = try JobRunner(prepared: prepared, stdout: stdout, zeroTime: zero, sinks: sinkSet)
        } catch {
            input.close()
            throw error
        }

        // The next batch: after the last one recorded, and (live) not before now.
        var nextTime = zero + bi
        var nextID: Int64 = 1
        if let latest = [last?.time, inFlight?.time].compactMap({ $0 }).max() {
            nextTime = latest + bi
            nextID = max(last?.id ?? 0, inFlight?.batchID ?? 0) + 1
        }
        if !replay {
            let now = clock.now()
            while nextTime <= now - bi { nextTime += bi }
        }
        let context = Context(input: input, runner: runner, clock: clock, zero: zero, sources: sources, log: log,
                              nextTime: nextTime, nextID: nextID)
        if let checkpoint {
            do {
                try recover(context, checkpoint: checkpoint, last: last, inFlight: inFlight, recovered: recovered,
                            committed: committedOffsets)
            } catch {
                input.close()
                throw error
            }
        }
        handedOver = true
        return context
    }

    private func startLive(store: BlockStore, ids: BlockIDSource, sources: [LiveSource], offsets: [Int: [String: Int64]],
                           positions: [Int: [String: String]], seenFiles: [Int: [String]], firstRun: Bool,
                           log: WriteAheadLog?) throws -> LiveInput {
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
        var wal: (@Sendable (Block) throws -> Void)?
        if let log {
            wal = { (block: Block) throws -> Void in try log.append(block) }
        }
        let env = ReceiverEnvironment(tracker: tracker, store: store, ids: ids, blockInterval: settings.blockInterval,
                                      blockMaxBytes: Int(settings.blockMaxBytes),
                                      startRate: { perSource[$0] },
                                      firstSeq: { source, shard in offsets[source]?[shard] ?? 0 }, wal: wal,
                                      position: { source, shard in positions[source]?[shard] },
                                      checkpointed: checkpoint != nil)
        var fileSources: [FileSource] = []
        for source in sources {
            guard case .file(let fileOptions) = source.config.connector else { continue }
            let fs = FileSource(source: source, options: fileOptions)
            if let seen = seenFiles[source.index] {
                fs.markSeen(seen)
            }
            if firstRun {
                fs.skipExisting()
                if let checkpoint { try checkpoint.markFilesSeen(db, source: source.index, paths: Array(fs.seenFiles)) }
            }
            fileSources.append(fs)
        }
        do {
            for source in sources { try source.start(env) }
        } catch {
            tracker.stopAll()
            store.close()
            throw error
        }
        return LiveInput(store: store, tracker: tracker, ids: ids, sources: sources, fileSources: fileSources,
                         blockMaxBytes: Int(settings.blockMaxBytes))
    }

    // MARK: recovery

    /// After a stop or a crash: rebuild the live windows from the batches
    /// they still hold, re-run the batch that was in flight with exactly its
    /// recorded blocks, and hand the logged blocks no batch has taken yet to
    /// the next batch. Nothing already in the log is read from a source again.
    ///
    /// A logged block was already processed when it lies below its shard's
    /// committed offset: batches take each shard's blocks in order, so the
    /// committed batches always hold a prefix of every shard.
    private func recover(_ c: Context, checkpoint: CheckpointStore, last: (time: Int64, id: Int64)?, inFlight: Allocation?,
                         recovered: [(Block, WriteAheadLog.Location)], committed: [Int: [String: Int64]]) throws {
        func isCommitted(_ b: Block) -> Bool { b.firstSeq < committed[b.source]?[b.shard] ?? 0 }
        let inFlightIDs = Set(inFlight?.blocks.map(\.id) ?? [])
        let started = MonotonicTime.now()
        var rebuilt = 0
        if let last, !plan.windows.isEmpty {
            let span = retention
            let batches = try checkpoint.allocations(db, from: last.time - span + 1, through: last.time, state: "committed")
            for a in batches {
                let blocks = try c.input.reload(a, log: c.log)
                try c.runner.rebuild(time: a.time, batchID: a.batchID, blocks: blocks)
                c.retained.append((a.time, Set(a.blocks.filter(\.logged).map(\.id))))
                rebuilt += 1
            }
        }
        // Logged blocks of batches that no window needs any more can go.
        if let log = c.log {
            let keep = Set(c.retained.flatMap(\.ids)).union(inFlightIDs)
            log.release(Set(recovered.filter { isCommitted($0.0) && !keep.contains($0.0.id) }.map(\.0.id)))
        }
        CrashPoint.recovery.reached()
        if let inFlight {
            let blocks = try c.input.reload(inFlight, log: c.log)
            logger.info("checkpoint: running batch \(inFlight.time) again, with the \(blocks.count) block(s) it had")
            _ = try runOne(c, time: inFlight.time, batchID: inFlight.batchID, blocks: blocks, fromStore: false, record: false)
        }
        // What reached the log but no batch took: the next batch's.
        var pending = 0
        for (block, _) in recovered where !isCommitted(block) && !inFlightIDs.contains(block.id) && block.source < c.sources.count {
            c.input.store.putLogged(block)
            pending += 1
        }
        if last != nil || inFlight != nil || pending > 0 {
            logger.info("checkpoint: resumed after batch \(last?.time ?? 0) in \(MonotonicTime.millisSince(started).rounded()) ms: \(rebuilt) batch(es) rebuilt into windows, \(pending) logged block(s) waiting for the next batch")
        }
    }

    // MARK: the batch loop

    private func loop(_ c: Context) throws -> RunEnd {
        let bi = settings.batchInterval
        let start = c.clock.now()
        let deadline = options.duration.map { start + $0 }
        var estimators = c.sources.map { _ in PIDRateEstimator(batchIntervalMs: bi) }
        var batchesRun = 0
        var stopping = false
        // Bad records counted before the first batch (stdin can be read to
        // its end during start-up) belong to the first batch's figure.
        var badBefore = c.sources.map { _ in Int64(0) }
        // A replay resumed after it already ran to its end has nothing left to do.
        if options.replayDir != nil && c.input.ended(after: c.nextTime - bi) { return .finished }
        while true {
            let time = c.nextTime
            if !stopping {
                if stop.isRequested || !c.clock.sleep(until: time, stop: stop) { stopping = true }
                if let deadline, time >= deadline { stopping = true }
            }
            if stopping { c.input.stopReceiving() }
            if let failure = c.log?.failure { throw RuntimeError(failure + "; received data up to here is safe in the checkpoint") }
            if let failure = c.sources.compactMap(\.failure).first { throw RuntimeError(failure) }
            let started = c.clock.now()
            let cut = MonotonicTime.now()
            let blocks = try c.input.blocks(for: time, final: stopping)
            let cutMs = MonotonicTime.millisSince(cut)
            var metrics = BatchMetrics(batchTime: time, batchID: c.nextID)
            metrics.schedulingDelayMs = max(0, started - time)
            let t0 = MonotonicTime.now()
            let outcome: JobRunner.Outcome
            do {
                outcome = try runOne(c, time: time, batchID: c.nextID, blocks: blocks, fromStore: true, record: true)
            } catch is OutputClosed {
                c.input.release(blocks)
                return .outputClosed
            }
            metrics.processingMs = MonotonicTime.millisSince(t0)
            metrics.totalDelayMs = metrics.schedulingDelayMs + Int64(metrics.processingMs.rounded())
            metrics.add(outcome, blocks: blocks, cutMs: cutMs)
            metrics.add(c.input.store.stats, logBytes: c.log?.liveBytes ?? 0)
            let bad = c.sources.map { $0.errors.count }
            metrics.badRecords = zip(bad, badBefore).reduce(0) { $0 + $1.0 - $1.1 }
            badBefore = bad
            for source in c.sources {
                for (name, value) in source.gauges { metrics.gauges["\(source.name)/\(name)"] = value }
            }
            if settings.backpressure, let live = c.input as? LiveInput {
                metrics.rate = adaptRates(live: live, sources: c.sources, estimators: &estimators, metrics: metrics, outcome: outcome)
            }
            history.append(metrics)
            MetricsReporter(quiet: options.quiet).report(metrics)
            batchesRun += 1
            c.nextTime += bi
            c.nextID += 1
            if stopping { break }
            if let limit = options.batches, batchesRun >= limit { break }
            if c.input.ended(after: time) { break }
        }
        return .finished
    }

    /// Runs one batch and, with a checkpoint, records it: its allocation
    /// before it runs, its commit inside its transaction, then releases what
    /// no window needs.
    private func runOne(_ c: Context, time: Int64, batchID: Int64, blocks: [Block], fromStore: Bool,
                        record: Bool) throws -> JobRunner.Outcome {
        if let checkpoint {
            try c.log?.syncNow()
            if record {
                let log = c.log
                try checkpoint.recordAllocation(db, time: time, batchID: batchID, blocks: blocks,
                                                logged: { log?.contains($0) ?? false }, files: c.input.takenFiles)
                CrashPoint.allocated.reached()
            }
        }
        let sinkNames = plan.sinks.filter { !$0.columns.isEmpty }.map(\.name)
        let outcome = try c.runner.runBatch(time: time, batchID: batchID, blocks: blocks,
                                            payload: { fromStore ? try c.input.payload(of: $0) : $0.payload },
                                            beforeCommit: checkpoint.map { ckpt in { db in
                                                CrashPoint.inBatch.reached()
                                                try ckpt.recordCommit(db, time: time, records: Int64(blocks.reduce(0) { $0 + $1.count }),
                                                                      blocks: blocks, sinks: sinkNames)
                                            } })
        if checkpoint != nil { CrashPoint.committed.reached() }
        try c.runner.stdout.endBatch()
        for source in c.sources { try source.committed(blocks, checkpointed: checkpoint != nil) }
        if fromStore { c.input.release(blocks) }
        if let checkpoint {
            if let log = c.log {
                c.retained.append((time, Set(blocks.map(\.id).filter { log.contains($0) })))
                let horizon = time - retention
                var expired: Set<UInt64> = []
                while let first = c.retained.first, first.time <= horizon {
                    expired.formUnion(first.ids)
                    c.retained.removeFirst()
                }
                log.release(expired)
            }
            if batchID % 16 == 0 { try checkpoint.prune(db, before: time - retention) }
        }
        return outcome
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
