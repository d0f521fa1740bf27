import EddyBlocks
import EddyCore
import EddyIngest
import EddyJob
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
    /// `--ui HOST:PORT`: serve the monitor there; overrides the job's `SET ui`.
    public var ui: HostPort?
    /// `--ui-token`: every request to the monitor must carry it. A
    /// non-loopback `ui` needs one.
    public var uiToken: String?
    /// `--metrics-file PATH`: one JSON line per batch.
    public var metricsFile: String?

    public init() {}
}

/// How a run ended.
public enum RunEnd: Sendable, Equatable {
    /// Input ended, the batch limit or duration was reached, or a stop was requested.
    case finished
    /// The reader of stdout went away.
    case outputClosed
    /// A stop ran past `stop_timeout`: the batches in flight were interrupted
    /// and rolled back (with a checkpoint they run again at the next start).
    case stopTimedOut
}

/// Runs a job: plans it on every lane, starts its receivers (or replay
/// input), recovers from its checkpoint when it has one, and then the
/// scheduler (`Scheduler.swift`) cuts batches on the engine thread and hands
/// them to the lanes (`Lanes.swift`), whose ordered tail (`OrderedTail.swift`)
/// prints, sinks and commits them in batch order.
public final class Engine {
    let job: Job
    let planOptions: PlanOptions
    let options: RunOptions
    let stop: StopSignal
    let checkpoint: CheckpointStore?
    let logger = Logger(label: "eddy.engine")
    /// Metrics of the batches run (the last `RunMonitor.capacity`; tests and the benchmark read them).
    public private(set) var history: [BatchMetrics] = []
    /// Every step's time over the whole run (printed at its end unless quiet).
    public private(set) var summary = StepSummary()
    /// What the run publishes for the UI, once it is planned.
    public private(set) var monitor: RunMonitor?
    /// The monitor's HTTP server, while the run serves one.
    public private(set) var server: MonitorServer?
    /// The plan of the run (after `run` or `resumeOnly`).
    public private(set) var plan: Plan?

    public init(job: Job, planOptions: PlanOptions = PlanOptions(), options: RunOptions, stop: StopSignal,
                checkpoint: CheckpointStore? = nil) {
        self.job = job
        self.planOptions = planOptions
        self.options = options
        self.stop = stop
        self.checkpoint = checkpoint
    }

    /// What the scheduler and recovery work with, once everything is set up.
    final class Context {
        let plan: Plan
        let input: BatchInput
        let lanes: Lanes
        let tail: OrderedTail
        let clock: BatchClock
        let zero: Int64
        let sources: [LiveSource]
        let log: WriteAheadLog?
        /// The scheduler's own connection to the checkpoint (allocations).
        let ledger: Database?
        /// The lanes' shared database file, removed at the end of the run.
        var sharedPath: String?
        /// The monitor's HTTP server (`--ui`).
        var server: MonitorServer?
        var nextTime: Int64
        var nextID: Int64

        init(plan: Plan, input: BatchInput, lanes: Lanes, tail: OrderedTail, clock: BatchClock, zero: Int64,
             sources: [LiveSource], log: WriteAheadLog?, ledger: Database?, nextTime: Int64, nextID: Int64) {
            self.plan = plan
            self.input = input
            self.lanes = lanes
            self.tail = tail
            self.clock = clock
            self.zero = zero
            self.sources = sources
            self.log = log
            self.ledger = ledger
            self.nextTime = nextTime
            self.nextID = nextID
        }

        func close() {
            // First, so that no request reads figures while things close.
            server?.close()
            lanes.close()
            input.close()
            log?.close()
            if let sharedPath {
                for suffix in ["", "-journal", "-wal", "-shm"] { unlink(sharedPath + suffix) }
            }
        }
    }

    public func run() throws -> RunEnd {
        // stop_timeout counts from the stop request, wherever the engine is.
        let settings = previewSettings()
        let watchdog = StopWatchdog(timeoutMs: settings.stopTimeout, checkpointed: checkpoint != nil)
        if stop.observe({ _ in watchdog.start() }) > 0 { watchdog.start() }
        defer { watchdog.standDown() }
        do {
            let started = MonotonicTime.now()
            let context = try setUp(interruptOn: watchdog.abandon)
            defer {
                history = context.tail.monitor.recent
                summary = context.tail.summary
                server = nil
                context.tail.monitor.detach()
                context.close()
            }
            let end: RunEnd
            do {
                end = try schedule(context)
            } catch {
                context.tail.monitor.set(phase: .failed, failure: "\(error)")
                throw error
            }
            context.tail.monitor.set(phase: .finished)
            if end == .finished && !options.quiet {
                let runMs = (MonotonicTime.now() - started) / 1_000_000
                if EddyLog.format == .json {
                    for e in context.tail.summary.events(runMs: runMs) { EddyLog.write(.info, e.message, fields: e.fields) }
                } else {
                    for line in context.tail.summary.lines(runMs: runMs) { StandardError.write(line + "\n") }
                }
            }
            return end
        } catch let error where watchdog.abandoned(error) {
            let place = (error as? BatchFailure).map { "\($0.location): batch \($0.time)" } ?? "the batch in flight"
            EddyLog.write(.warning, "\(place) was interrupted at stop_timeout and rolled back\(checkpoint != nil ? "; it runs again at the next start" : "")", plain: .unlabelled)
            return .stopTimedOut
        }
    }

    /// The settings as the job and the command line give them, before
    /// planning (which needs some of them: the spill dir, the lanes).
    func previewSettings() -> Settings {
        var settings = Settings()
        for statement in job.statements {
            if case .set(let key, let value, _) = statement.kind { _ = settings.set(key.value, value) }
        }
        for (k, v) in planOptions.overrides { _ = settings.set(k, v) }
        return settings
    }

    /// Everything `run()` does before its first batch, and nothing after:
    /// how long a restart takes to be ready (the recovery benchmark). Returns
    /// the blocks waiting for the next batch.
    public func resumeOnly() throws -> Int {
        let context = try setUp(interruptOn: nil)
        defer { context.close() }
        return context.input.store.pendingCount
    }

    // MARK: setup

    /// `interruptOn`: a request on it interrupts the statement running on
    /// any lane (the stop watchdog giving up on the batches in flight).
    private func setUp(interruptOn abandon: StopSignal?) throws -> Context {
        let replay = options.replayDir != nil

        // Spill files and the lanes' shared database: under the checkpoint
        // when there is one, else in a private temp dir.
        let preview = previewSettings()
        let spill: (dir: String, owned: Bool)
        if let dir = preview.spillDir {
            spill = (dir, false)
        } else if let checkpoint {
            Files.removeTree(checkpoint.spillDirectory)
            spill = (checkpoint.spillDirectory, false)
        } else {
            do {
                spill = (try Files.makeTempDirectory(prefix: "eddy-spill"), true)
            } catch {
                // Never a fallback path: a predictable name in a shared /tmp
                // is one another user can create first.
                throw RuntimeError("\(error); set TMPDIR to a writable directory, or SET spill_dir = 'DIR'")
            }
        }
        // A private spill dir is the store's to remove at close; until the
        // store is handed over in the context, a failed set-up removes it here.
        var handedOver = false
        defer { if spill.owned && !handedOver { Files.removeTree(spill.dir) } }
        do {
            try Files.makeDirectories(spill.dir)
        } catch {
            throw RuntimeError("spill_dir \(spill.dir): \(error)")
        }
        let sharedPath = spill.dir + "/lanes-shared.db"
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(sharedPath + suffix) }
        defer { if !handedOver { for suffix in ["", "-journal", "-wal", "-shm"] { unlink(sharedPath + suffix) } } }

        // Plan the job on the first lane: every job error is found here.
        var first = planOptions
        first.sharedPath = sharedPath
        first.laneCount = preview.parallelism
        let prepared = try Planner.prepare(job, options: first)
        let plan = prepared.plan
        self.plan = plan
        let settings = plan.settings
        let bi = settings.batchInterval

        // The monitor, its server and the metrics file, before anything
        // starts receiving: a port in use or a bad path stops the run here.
        let monitor = RunMonitor(job: jobInfo(plan: plan))
        self.monitor = monitor
        let metricsFile = try options.metricsFile.map { path throws(UsageError) in
            try MetricsFile(path: path, batchIntervalMs: bi)
        }
        let server = try startServer(plan: plan, monitor: monitor)
        var serverHandedOver = false
        defer { if !serverHandedOver { server?.close() } }

        // The checkpoint: the job it belongs to, and its zero time.
        let ledger = try checkpoint.map { ckpt -> Database in
            let db = try Database(path: "")
            try ckpt.attach(to: db)
            // The ledger waits for lanes that are committing; they never wait for it long.
            db.waitWhenBusy(milliseconds: 600_000)
            return db
        }
        var stored: CheckpointStore.StoredJob?
        if let checkpoint, let ledger {
            stored = try checkpoint.storedJob(ledger)
            // The job was checked against it before planning (CheckpointStore.verify);
            // a forced change now makes the checkpoint the new job's.
            if let stored, stored.text != plan.jobText { try checkpoint.updateJobText(ledger, plan.jobText) }
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
        if let checkpoint, let ledger, stored == nil { try checkpoint.storeJob(ledger, plan: plan, zeroTime: zero, replay: replay) }

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
        var resume = Resume()
        if let checkpoint, let ledger { resume = try Resume(checkpoint: checkpoint, db: ledger, recovered: recovered) }
        let ids = BlockIDSource(next: resume.maxBlockID + 1)
        let sources = try plan.sources.map { try LiveSource(index: $0.index, name: $0.name, config: $0.config, jobText: plan.jobText) }

        // The other lanes: the same job prepared again on connections of their own.
        var preparedLanes = [prepared]
        var replica = first
        replica.replica = true
        replica.laneCount = plan.lanes
        replica.firstLane = plan
        for _ in 1..<max(1, plan.lanes) { preparedLanes.append(try Planner.prepare(job, options: replica)) }

        let clock: BatchClock
        let input: BatchInput
        if let dir = options.replayDir {
            let replayInput = try ReplayInput(dir: dir, sources: sources, store: store, ids: ids,
                                              batchInterval: bi, blockMaxBytes: Int(settings.blockMaxBytes))
            replayInput.endTime = Schedule(plan: plan, zeroTime: 0).drainEnd(lastInput: replayInput.lastInputTime)
            replayInput.setNextSeq(resume.offsets.mapValues { $0.values.max() ?? 0 })
            clock = VirtualClock()
            input = replayInput
        } else {
            input = try startLive(plan: plan, store: store, ids: ids, sources: sources, resume: resume,
                                  firstRun: stored == nil, log: log, ledger: ledger)
            clock = liveClock
        }

        // The next batch: after the last one recorded, and (live) not before now.
        let next = try resume.point.nextBatch(zero: zero, batchInterval: bi, now: replay ? nil : clock.now())
        let nextTime = next.time, nextID = next.id

        let context: Context
        do {
            let targets = try SinkTargets(specs: plan.sinks.map { s in
                SinkSpec(name: s.name, config: s.config, columns: s.columns)
            }, rerunsPossible: checkpoint != nil)
            let windows = plan.windows.map { WindowState(plan: $0) }
            let runners = try preparedLanes.map { p in
                try JobRunner(prepared: p, format: options.format, zeroTime: zero, sinks: targets, windows: windows)
            }
            for p in preparedLanes { p.database.interruptStatements(on: abandon) }
            let firstBatch = resume.inFlight.first?.batchID ?? nextID
            let tail = OrderedTail(firstBatch: firstBatch, clock: clock,
                                   stdout: StdoutSink(format: options.format, writer: OutputWriter(fd: options.outputFD)),
                                   input: input, checkpoint: checkpoint, log: log, sources: sources, plan: plan,
                                   quiet: options.quiet, monitor: monitor, metricsFile: metricsFile,
                                   tables: TableSampler(plan: plan, stateSchema: planOptions.stateSchema, windows: windows))
            let lanes = Lanes(runners: runners, tail: tail)
            context = Context(plan: plan, input: input, lanes: lanes, tail: tail, clock: clock, zero: zero,
                              sources: sources, log: log, ledger: ledger, nextTime: nextTime, nextID: nextID)
            context.sharedPath = sharedPath
            context.server = server
            serverHandedOver = true
            attachFigures(monitor, input: input, lanes: lanes, sources: sources, log: log)
        } catch {
            input.close()
            throw error
        }
        do {
            if let checkpoint, let ledger {
                try Recovery(engine: self, context: context, checkpoint: checkpoint, ledger: ledger, resume: resume,
                             recovered: recovered).run()
            }
            context.tail.setNext(context.nextID)
            try context.lanes.start()
        } catch {
            context.close()
            throw error
        }
        handedOver = true
        monitor.set(phase: .running)
        self.server = server
        return context
    }

    private func startLive(plan: Plan, store: BlockStore, ids: BlockIDSource, sources: [LiveSource], resume: Resume,
                           firstRun: Bool, log: WriteAheadLog?, ledger: Database?) throws -> LiveInput {
        let settings = plan.settings
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
        let offsets = resume.offsets, positions = resume.positions
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
            if let seen = resume.seenFiles[source.index] {
                fs.markSeen(seen)
            }
            if firstRun {
                fs.skipExisting()
                if let checkpoint, let ledger { try checkpoint.markFilesSeen(ledger, source: source.index, paths: Array(fs.seenFiles)) }
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
}

/// Where a run resumes: the checkpoint's resume point, moved on by what its
/// log holds beyond the last commit.
struct Resume {
    var point = CheckpointStore.ResumePoint()
    /// `_seq` to continue from, per source and shard, the log included.
    var offsets: [Int: [String: Int64]] = [:]
    var positions: [Int: [String: String]] = [:]
    var maxBlockID: UInt64 = 0

    var committedOffsets: [Int: [String: Int64]] { point.offsets }
    var seenFiles: [Int: [String]] { point.seenFiles }
    var last: CheckpointStore.ResumePoint.CommittedBatch? { point.lastCommitted }
    /// Batches allocated but not committed (up to one per lane), oldest first.
    var inFlight: [Allocation] { point.inFlight }

    init() {}

    init(checkpoint: CheckpointStore, db: Database, recovered: [(Block, WriteAheadLog.Location)]) throws {
        point = try checkpoint.resumePoint(db)
        offsets = point.offsets
        positions = point.positions
        maxBlockID = point.maxBlockID
        for (block, _) in recovered {
            maxBlockID = max(maxBlockID, block.id)
            offsets[block.source, default: [:]][block.shard] = max(offsets[block.source]?[block.shard] ?? 0, block.nextSeq)
            // The log is newer than the last commit: resume after what it holds.
            if let p = block.position { positions[block.source, default: [:]][block.shard] = p }
        }
    }
}

extension Double {
    /// The lower of two rates where 0 means unlimited.
    func applyingCap(_ cap: Int64) -> Double {
        guard cap > 0 else { return self }
        return self > 0 ? Swift.min(self, Double(cap)) : Double(cap)
    }
}
