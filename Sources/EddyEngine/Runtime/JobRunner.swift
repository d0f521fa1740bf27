import EddyBlocks
import EddyCore
import EddyMonitor
import EddySQL
import EddySinks

/// The job's per-batch work on one lane's connection (Spark's JobGenerator +
/// the jobs of one batch). A batch runs in two halves inside one
/// transaction of that connection:
///
/// 1. `runLaneSteps`, at the same time as other lanes: load the batch's
///    blocks into the source tables, run the steps placed on the lane
///    (streams over sources, their SELECTs and sink INSERTs), and keep the
///    rows those SELECTs print, formatted, for later.
/// 2. `runOrderedSteps`, once the previous batch's ordered steps are done:
///    the steps that touch state tables and windows, in file order, with the
///    kept outputs printed in their places; then the sinks, the checkpoint's
///    record of the batch (`beforeCommit`), and the commit.
///
/// Owned by its lane's thread.
public final class JobRunner {
    public let prepared: PreparedJob
    var plan: Plan { prepared.plan }
    var db: Database { prepared.database }
    let schedule: Schedule
    let format: OutputFormat
    private let loaders: [BatchLoader]
    private let clearSources: [Statement]
    /// nil for a stream inlined into its one reader (a view, nothing to clear).
    private let clearStreams: [Statement?]
    /// Whether a source's (stream's) table is emptied before the batch's
    /// transaction rather than in it. Pages freed and filled again within one
    /// transaction are first copied into the in-memory rollback journal: a
    /// whole batch's worth per lane (16MB for 250k lines), for nothing. Pages
    /// freed by an earlier transaction are reused without that copy. A table
    /// with a job trigger is emptied in the batch's transaction, as its
    /// trigger's writes belong to the batch.
    let clearsSourceEarly: [Bool]
    let clearsStreamEarly: [Bool]
    let windows: [WindowRuntime]
    let sinks: SinkSet
    private let begin: Statement
    private let commit: Statement
    private let rollback: Statement
    /// Each step's name and place, for timing it.
    let templates: StepTemplates

    init(prepared: PreparedJob, format: OutputFormat, zeroTime: Int64, sinks: SinkTargets,
         windows: [WindowState]) throws {
        self.prepared = prepared
        self.format = format
        self.schedule = Schedule(plan: prepared.plan, zeroTime: zeroTime)
        let db = prepared.database
        self.sinks = try SinkSet(targets: sinks, database: db)
        loaders = try prepared.plan.sources.map { s throws(SQLiteError) in
            try BatchLoader(database: db, table: s.name, valueCount: s.config.schema.valueCount)
        }
        clearSources = try prepared.plan.sources.map { s throws(SQLiteError) in
            try db.prepare("DELETE FROM main.\(quoteIdentifier(s.name))")
        }
        clearStreams = try prepared.plan.streams.map { s throws(SQLiteError) in
            s.inlinedInto == nil ? try db.prepare("DELETE FROM main.\(quoteIdentifier(s.name))") : nil
        }
        let plan = prepared.plan
        clearsSourceEarly = plan.sources.map { plan.triggers[$0.name.lowercased()] == nil }
        clearsStreamEarly = plan.streams.map { plan.triggers[$0.name.lowercased()] == nil }
        self.windows = try windows.map { w throws(SQLiteError) in try WindowRuntime(state: w, database: db) }
        begin = try db.prepare("BEGIN")
        commit = try db.prepare("COMMIT")
        rollback = try db.prepare("ROLLBACK")
        templates = StepTemplates(plan: prepared.plan)
    }

    /// A runner on its own, with no sinks and windows of its own: one lane
    /// driven directly (the benchmarks).
    public static func standalone(prepared: PreparedJob, zeroTime: Int64, format: OutputFormat = .csv) throws -> JobRunner {
        try JobRunner(prepared: prepared, format: format, zeroTime: zeroTime, sinks: try SinkTargets(specs: []),
                      windows: prepared.plan.windows.map { WindowState(plan: $0) })
    }

    /// What a batch did.
    public struct Outcome: Sendable {
        public var records: Int64 = 0
        public var recordsPerShard: [String: Int64] = [:]
        public var outputRows: Int64 = 0
        /// Statements that ran (were due).
        public var statementsRun: Int = 0
        /// Getting the batch's blocks ready to bind: reading spilled ones
        /// back and LZ4 decompression.
        public var blockReadMs: Double = 0
        /// Each step that ran, with its time and rows, in the batch's order.
        public var steps: [StepTiming] = []
        /// Rows of this batch's sources, streams and windows (lowercased
        /// names) as far as known: the steps' rows in.
        var relationRows: [String: Int64] = [:]
    }

    /// What the lane half leaves for the ordered half: the figures so far, and
    /// the rows its SELECTs printed, by step, not yet written to stdout.
    struct LaneHalf {
        var outcome = Outcome()
        var outputs: [Int: RenderedOutput] = [:]
    }

    /// The first half of the batch at `time` (see the type's comment). The
    /// transaction stays open; `runOrderedSteps` or `rollBack` ends it.
    /// `payload` gives a block's compressed records (from memory, or read
    /// back from the spill files or the log).
    func runLaneSteps(time: Int64, batchID: Int64, blocks: [Block], payload: (Block) throws -> [UInt8]) throws -> LaneHalf {
        db.context.batchTime = time
        db.context.batchID = batchID
        db.context.window = nil
        var half = LaneHalf()
        // Each source's load step: emptying its table, then binding its blocks.
        var loadNanos = [Int64](repeating: 0, count: loaders.count)
        var loadRows = [Int64](repeating: 0, count: loaders.count)
        try clearBeforeBegin(time: time, nanos: &loadNanos)
        try begin.run()
        try clearSources(time: time, early: false, nanos: &loadNanos)
        let decompressed = loaders.reduce(0) { $0 + $1.decompressNanos }
        var fetchNanos: Int64 = 0
        for block in blocks {
            guard block.source >= 0 && block.source < loaders.count else { continue }
            let t0 = MonotonicTime.now()
            let compressed = try payload(block)
            fetchNanos += MonotonicTime.now() - t0
            let source = plan.sources[block.source]
            let rows = try writing(source.name, "loading source", source.location, time) {
                try loaders[block.source].load(block, payload: compressed)
            }
            loadNanos[block.source] += MonotonicTime.now() - t0
            loadRows[block.source] += Int64(rows)
            half.outcome.records += Int64(rows)
            half.outcome.recordsPerShard["\(plan.sources[block.source].name)/\(block.shard)", default: 0] += Int64(rows)
        }
        let decompressNanos = loaders.reduce(0) { $0 + $1.decompressNanos } - decompressed
        half.outcome.blockReadMs = Double(fetchNanos + decompressNanos) / 1_000_000
        for (i, source) in plan.sources.enumerated() {
            var load = templates.loads[i]
            load.nanos = loadNanos[i]
            load.rowsIn = loadRows[i]
            load.rowsOut = loadRows[i]
            half.outcome.steps.append(load)
            half.outcome.relationRows[source.name.lowercased()] = loadRows[i]
        }
        for k in plan.steps.indices where plan.placements[k].isLane {
            if let output = try runTimed(k, time: time, outcome: &half.outcome, onLane: true, stdout: nil) {
                half.outputs[k] = output
            }
        }
        return half
    }

    /// The second half, in batch order: the ordered steps in file order, the
    /// lane's outputs printed in their places, the sinks, then
    /// `beforeCommit` (the checkpoint records the batch there) and the commit.
    func runOrderedSteps(time: Int64, batchID: Int64, half: LaneHalf, stdout: StdoutSink,
                         beforeCommit: ((Database) throws -> Void)?) throws -> Outcome {
        db.context.batchTime = time
        db.context.batchID = batchID
        var outcome = half.outcome
        stdout.beginBatch(time: time)
        for k in plan.steps.indices {
            if plan.placements[k].isLane {
                if let output = half.outputs[k] {
                    try stdout.write(output)
                    outcome.outputRows += Int64(output.rows)
                }
            } else if let output = try runTimed(k, time: time, outcome: &outcome, onLane: false, stdout: stdout) {
                outcome.outputRows += Int64(output.rows)
            }
        }
        db.context.window = nil
        do {
            for delivery in try sinks.deliver(batchTime: time, stdout: stdout) {
                outcome.outputRows += delivery.rows
                outcome.steps.append(templates.sink(delivery))
            }
        } catch let failed as SinkDeliveryFailure {
            guard let sink = plan.sinks.first(where: { $0.name == failed.sink }) else { throw failed.error }
            throw BatchFailure(location: sink.location, time: time, error: failed.error, context: "sink \(sink.name)")
        }
        let t0 = MonotonicTime.now()
        try beforeCommit?(db)
        do {
            try commit.run()
        } catch {
            throw RuntimeError("batch \(time): the batch's transaction could not commit: \(error.message)")
        }
        var committed = beforeCommit == nil ? templates.commit : templates.checkpointCommit
        committed.nanos = MonotonicTime.now() - t0
        outcome.steps.append(committed)
        // Lane steps were timed first; show every step in the job's order.
        outcome.steps.sort { $0.order < $1.order }
        return outcome
    }

    /// Ends a batch that failed or will not finish: nothing of it stays.
    func rollBack() {
        rollback.reset()
        if db.inTransaction { try? rollback.run() }
        sinks.discard()
        db.context.window = nil
    }

    /// Both halves at once, on this thread: one lane with nothing else in
    /// flight (benchmarks, and batches re-run during recovery).
    public func runBatch(time: Int64, batchID: Int64, blocks: [Block], payload: (Block) throws -> [UInt8],
                         stdout: StdoutSink, beforeCommit: ((Database) throws -> Void)? = nil) throws -> Outcome {
        do {
            let half = try runLaneSteps(time: time, batchID: batchID, blocks: blocks, payload: payload)
            return try runOrderedSteps(time: time, batchID: batchID, half: half, stdout: stdout, beforeCommit: beforeCommit)
        } catch {
            rollBack()
            throw error
        }
    }

    /// After a restart: a batch that already ran is loaded again only to
    /// refill the windows (streams and window upkeep; no statements, no sinks,
    /// nothing written to the checkpoint).
    func rebuild(time: Int64, batchID: Int64, blocks: [Block]) throws {
        db.context.batchTime = time
        db.context.batchID = batchID
        db.context.window = nil
        var outcome = Outcome()
        var loadNanos = [Int64](repeating: 0, count: loaders.count)
        try clearBeforeBegin(time: time, nanos: &loadNanos)
        try begin.run()
        do {
            try clearSources(time: time, early: false, nanos: &loadNanos)
            for block in blocks where block.source >= 0 && block.source < loaders.count {
                let source = plan.sources[block.source]
                _ = try writing(source.name, "loading source", source.location, time) {
                    try loaders[block.source].load(block, payload: block.payload)
                }
            }
            for step in plan.steps { _ = try run(step, time: time, outcome: &outcome, statements: false, stdout: nil) }
            try commit.run()
        } catch {
            rollBack()
            throw error
        }
    }

    /// Runs per-batch step `k` if it is due, and records its time and rows
    /// in `outcome.steps`.
    private func runTimed(_ k: Int, time: Int64, outcome: inout Outcome, onLane: Bool,
                          stdout: StdoutSink?) throws -> RenderedOutput? {
        let t0 = MonotonicTime.now()
        guard let ran = try run(plan.steps[k], time: time, outcome: &outcome, statements: true, stdout: stdout) else { return nil }
        var timing = templates.steps[k]
        timing.nanos = MonotonicTime.now() - t0
        timing.onLane = onLane
        timing.rowsIn = templates.rowsIn(k, known: outcome.relationRows)
        timing.rowsOut = ran.rowsOut
        outcome.steps.append(timing)
        return ran.output
    }

    /// What a step that ran gave: an output statement's rendered rows, and
    /// the rows it wrote or printed where SQLite can tell.
    private struct StepRun {
        var output: RenderedOutput?
        var rowsOut: Int64?
    }

    /// Runs one step if it is due (nil when it is not). An output statement's
    /// rows are printed when `stdout` is given, and otherwise kept, rendered,
    /// in the result.
    private func run(_ step: BatchStep, time: Int64, outcome: inout Outcome, statements: Bool,
                     stdout: StdoutSink?) throws -> StepRun? {
        switch step {
        case .stream(let i):
            let stream = plan.streams[i]
            guard schedule.isDue(slide: stream.slide, at: time), let clear = clearStreams[i] else { return nil }
            if !clearsStreamEarly[i] {
                try writing(stream.name, "stream", stream.location, time) { try clear.run() }
            }
            do {
                try db.asJob { () throws(SQLiteError) in
                    if let counted = prepared.streamCounts[i], try counted.counter.fill() {
                        try counted.statement.run()
                    } else {
                        try prepared.streamInserts[i].run()
                    }
                }
            } catch {
                throw BatchFailure(location: triggerLocation(stream.name) ?? stream.location, time: time, error: error)
            }
            let rows = Int64(db.changes)
            outcome.relationRows[stream.name.lowercased()] = rows
            return StepRun(rowsOut: rows)
        case .window(let i):
            let w = windows[i]
            try writing(w.plan.name, "window", w.plan.location, time) { () throws in
                if schedule.isDue(slide: w.plan.parentSlide, at: time) {
                    try w.add(time: time, database: db)
                }
                try w.expire(at: time)
            }
            let held = w.state.rowCount
            outcome.relationRows[w.plan.name.lowercased()] = held
            return StepRun(rowsOut: held)
        case .statement(let i):
            let planned = plan.statements[i]
            guard statements, schedule.isDue(slide: planned.slide, at: time) else { return nil }
            if let w = planned.windows.first {
                db.context.window = (time - plan.windows[w].range, time)
            } else {
                db.context.window = nil
            }
            defer { outcome.statementsRun += 1 }
            do {
                // One statement of the job, for statement_timeout: the hash count and the query over its groups.
                let (statement, rendered) = try db.asJob { () throws -> (Statement, RenderedOutput?) in
                    var statement = prepared.statements[i]
                    if let counted = prepared.statementCounts[i], try counted.counter.fill() { statement = counted.statement }
                    guard planned.isOutput else {
                        try statement.run()
                        return (statement, nil)
                    }
                    return (statement, try StdoutSink.render(statement, format: format))
                }
                guard let output = rendered else {
                    // sqlite3_changes counts only INSERT, UPDATE and DELETE.
                    return StepRun(rowsOut: statement.isReadOnly ? nil : Int64(db.changes))
                }
                if let stdout { try stdout.write(output) }
                return StepRun(output: output, rowsOut: Int64(output.rows))
            } catch let closed as OutputClosed {
                throw closed
            } catch {
                throw BatchFailure(location: planned.location, time: time, error: error)
            }
        }
    }

    /// Empties, each in a transaction of its own, the tables that
    /// `clearsSourceEarly` and `clearsStreamEarly` say may be: the sources,
    /// and the streams due at `time`.
    private func clearBeforeBegin(time: Int64, nanos: inout [Int64]) throws {
        try clearSources(time: time, early: true, nanos: &nanos)
        for (i, stream) in plan.streams.enumerated() where clearsStreamEarly[i] {
            guard schedule.isDue(slide: stream.slide, at: time), let clear = clearStreams[i] else { continue }
            try writing(stream.name, "stream", stream.location, time) { try clear.run() }
        }
    }

    private func clearSources(time: Int64, early: Bool, nanos: inout [Int64]) throws {
        for (i, (source, clear)) in zip(plan.sources, clearSources).enumerated() where clearsSourceEarly[i] == early {
            let t0 = MonotonicTime.now()
            try writing(source.name, "clearing source", source.location, time) { try clear.run() }
            nanos[i] += MonotonicTime.now() - t0
        }
    }

    /// Runs eddy's own statement that writes `table`. A failure there is
    /// reported at the job's trigger on that table when it has one (its code
    /// runs inside the statement), else at the table's definition.
    private func writing<T>(_ table: String, _ what: String, _ location: SourceLocation, _ time: Int64,
                            _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            // Only SQLite's errors can come from the job's code; a damaged block is eddy's own.
            guard error is SQLiteError else { throw error }
            if let trigger = plan.triggers[table.lowercased()]?.first {
                throw BatchFailure(location: trigger.location, time: time, error: error, context: "trigger \(trigger.name) on \(table)")
            }
            throw BatchFailure(location: location, time: time, error: error, context: "\(what) \(table)")
        }
    }

    /// Where a failure in a statement that writes `table` points when the
    /// job has a trigger on it.
    private func triggerLocation(_ table: String) -> SourceLocation? {
        plan.triggers[table.lowercased()]?.first?.location
    }

    /// Empties the window tables (before a rebuild from retained blocks).
    func resetWindows() throws {
        for w in windows { try w.reset() }
    }
}

/// A statement failed on a batch's data: a runtime failure tied to its line.
public struct BatchFailure: EddyError {
    public var location: SourceLocation
    public var time: Int64
    public var error: any Error
    /// What eddy was doing when it is not the statement at `location` itself
    /// ("loading source lines", "trigger t on lines", "sink out").
    public var context: String? = nil
    public var exitStatus: ExitStatus { .runtime }
    public var description: String { "\(location): batch \(time): \(context.map { $0 + ": " } ?? "")\(error)" }

    /// Why the statement was cut short, when eddy cut it.
    public var interruption: Interruption? { (error as? SQLiteError)?.interruption }
}
