import EddyBlocks
import EddyCore
import EddySQL
import EddySinks

/// Runs one batch on the engine's connection (Spark's JobGenerator + the
/// jobs of one batch): loads its blocks into the source tables, then runs the
/// job's per-batch work in file order (streams, window upkeep, statements),
/// hands sink rows over, and commits, all in one transaction.
public final class JobRunner {
    public let prepared: PreparedJob
    var plan: Plan { prepared.plan }
    var db: Database { prepared.database }
    let schedule: Schedule
    private let loaders: [BatchLoader]
    private let clearSources: [Statement]
    private let clearStreams: [Statement]
    private(set) var windows: [WindowRuntime]
    public let stdout: StdoutSink
    let sinks: SinkSet
    private let begin: Statement
    private let commit: Statement
    private let rollback: Statement

    public init(prepared: PreparedJob, stdout: StdoutSink, zeroTime: Int64, sinks: SinkSet) throws(SQLiteError) {
        self.prepared = prepared
        self.stdout = stdout
        self.sinks = sinks
        self.schedule = Schedule(plan: prepared.plan, zeroTime: zeroTime)
        let db = prepared.database
        loaders = try prepared.plan.sources.map { s throws(SQLiteError) in
            try BatchLoader(database: db, table: s.name, valueCount: s.config.schema.valueCount)
        }
        clearSources = try prepared.plan.sources.map { s throws(SQLiteError) in
            try db.prepare("DELETE FROM main.\(quoteIdentifier(s.name))")
        }
        clearStreams = try prepared.plan.streams.map { s throws(SQLiteError) in
            try db.prepare("DELETE FROM main.\(quoteIdentifier(s.name))")
        }
        windows = try prepared.plan.windows.map { w throws(SQLiteError) in try WindowRuntime(plan: w, database: db) }
        begin = try db.prepare("BEGIN")
        commit = try db.prepare("COMMIT")
        rollback = try db.prepare("ROLLBACK")
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
    }

    /// Loads and runs the batch at `time`. `payload` gives a block's
    /// compressed records (from memory or read back from disk). `beforeCommit`
    /// runs inside the transaction, last: the checkpoint records the batch there.
    public func runBatch(time: Int64, batchID: Int64, blocks: [Block],
                         payload: (Block) throws -> [UInt8],
                         beforeCommit: ((Database) throws -> Void)? = nil) throws -> Outcome {
        db.context.batchTime = time
        db.context.batchID = batchID
        db.context.window = nil
        stdout.beginBatch(time: time)
        var outcome = Outcome()
        try begin.run()
        do {
            try clearSources(time: time)
            let decompressed = loaders.reduce(0) { $0 + $1.decompressNanos }
            var fetchNanos: Int64 = 0
            for block in blocks {
                guard block.source >= 0 && block.source < loaders.count else { continue }
                let t0 = MonotonicTime.now()
                let compressed = try payload(block)
                fetchNanos += MonotonicTime.now() - t0
                let rows = try writing(plan.sources[block.source].name, "loading source", plan.sources[block.source].location, time) {
                    try loaders[block.source].load(block, payload: compressed)
                }
                outcome.records += Int64(rows)
                outcome.recordsPerShard["\(plan.sources[block.source].name)/\(block.shard)", default: 0] += Int64(rows)
            }
            let decompressNanos = loaders.reduce(0) { $0 + $1.decompressNanos } - decompressed
            outcome.blockReadMs = Double(fetchNanos + decompressNanos) / 1_000_000
            try runSteps(time: time, outcome: &outcome, statements: true)
            do {
                outcome.outputRows += try sinks.deliver(batchTime: time, database: db, stdout: stdout)
            } catch let failed as SinkDeliveryFailure {
                guard let sink = plan.sinks.first(where: { $0.name == failed.sink }) else { throw failed.error }
                throw BatchFailure(location: sink.location, time: time, error: failed.error, context: "sink \(sink.name)")
            }
            try beforeCommit?(db)
            do {
                try commit.run()
            } catch {
                throw RuntimeError("batch \(time): the batch's transaction could not commit: \(error.message)")
            }
        } catch {
            rollback.reset()
            if db.inTransaction { try? rollback.run() }
            throw error
        }
        db.context.window = nil
        return outcome
    }

    /// After a restart: a batch that already ran is loaded again only to
    /// refill the windows (streams and window upkeep; no statements, no sinks,
    /// nothing written to the checkpoint).
    public func rebuild(time: Int64, batchID: Int64, blocks: [Block]) throws {
        db.context.batchTime = time
        db.context.batchID = batchID
        db.context.window = nil
        var outcome = Outcome()
        try begin.run()
        do {
            try clearSources(time: time)
            for block in blocks where block.source >= 0 && block.source < loaders.count {
                _ = try writing(plan.sources[block.source].name, "loading source", plan.sources[block.source].location, time) {
                    try loaders[block.source].load(block, payload: block.payload)
                }
            }
            try runSteps(time: time, outcome: &outcome, statements: false)
            try commit.run()
        } catch {
            rollback.reset()
            if db.inTransaction { try? rollback.run() }
            throw error
        }
    }

    private func runSteps(time: Int64, outcome: inout Outcome, statements: Bool) throws {
        for step in plan.steps {
            switch step {
            case .stream(let i):
                let stream = plan.streams[i]
                guard schedule.isDue(slide: stream.slide, at: time) else { continue }
                try writing(stream.name, "stream", stream.location, time) { try clearStreams[i].run() }
                do {
                    try db.asJob { () throws(SQLiteError) in try prepared.streamInserts[i].run() }
                } catch {
                    throw BatchFailure(location: triggerLocation(stream.name) ?? stream.location, time: time, error: error)
                }
            case .window(let i):
                let w = windows[i]
                try writing(w.plan.name, "window", w.plan.location, time) { () throws in
                    if schedule.isDue(slide: w.plan.parentSlide, at: time) {
                        try w.add(time: time, database: db)
                    }
                    try w.expire(at: time)
                }
            case .statement(let i):
                let planned = plan.statements[i]
                guard statements, schedule.isDue(slide: planned.slide, at: time) else { continue }
                if let w = planned.windows.first {
                    db.context.window = (time - plan.windows[w].range, time)
                } else {
                    db.context.window = nil
                }
                let statement = prepared.statements[i]
                do {
                    if planned.isOutput {
                        outcome.outputRows += Int64(try db.asJob { try stdout.emit(statement) })
                    } else {
                        try db.asJob { () throws(SQLiteError) in try statement.run() }
                    }
                } catch let closed as OutputClosed {
                    throw closed
                } catch {
                    throw BatchFailure(location: planned.location, time: time, error: error)
                }
                outcome.statementsRun += 1
            }
        }
        db.context.window = nil
    }

    private func clearSources(time: Int64) throws {
        for (source, clear) in zip(plan.sources, clearSources) {
            try writing(source.name, "clearing source", source.location, time) { try clear.run() }
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

    func windowTimes() -> [[Int64]] { windows.map(\.times) }
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
