import EddyCore
import EddyIngest
import EddyJob
import EddySQL
import EddySinks

/// A job checked against SQLite and ready to run: the plan, the connection it
/// was validated on, and every per-batch statement already prepared.
public final class PreparedJob {
    public let plan: Plan
    public let database: Database
    /// `INSERT INTO stream <query>` per stream.
    let streamInserts: [Statement]
    /// Per-batch statements, by `PlannedStatement.index`.
    let statements: [Statement]
    /// The hash count that replaces a stream's INSERT (a statement), when
    /// its query has that shape (HashCounting.swift).
    let streamCounts: [HashCounted?]
    let statementCounts: [HashCounted?]

    init(plan: Plan, database: Database, streamInserts: [Statement], statements: [Statement],
         streamCounts: [HashCounted?], statementCounts: [HashCounted?]) {
        self.plan = plan
        self.database = database
        self.streamInserts = streamInserts
        self.statements = statements
        self.streamCounts = streamCounts
        self.statementCounts = statementCounts
    }
}

/// Options that shape planning.
public struct PlanOptions: Sendable {
    /// `--set key=value` pairs, applied after the job's own SETs.
    public var overrides: [(String, String)] = []
    /// Schema that holds STATE tables: the lanes' shared database, or the
    /// attached checkpoint.
    public var stateSchema: String = Lanes.sharedSchema
    /// The file of the database every lane shares (windows, and state
    /// tables without a checkpoint); nil for a private in-memory one, enough
    /// for `eddy check` and a single connection.
    public var sharedPath: String?
    /// Plans another lane of a job already planned: its connection gets the
    /// batch tables, the job's private start-up tables and prepared
    /// statements, but what lives in shared files (state tables, windows,
    /// tables made in attached databases) already exists and is not made or
    /// seeded again.
    public var replica = false
    /// The first lane's plan, for a replica: which start-up statements only
    /// the first lane runs.
    public var firstLane: Plan?
    /// The lanes the job will run on, so each connection takes its share of `sqlite_cache`.
    public var laneCount = 1
    /// Runs before any statement; the checkpoint attaches its database here.
    public var prepareDatabase: (@Sendable (Database) throws -> Void)?
    /// Whether a state table was already in the checkpoint, so INITIAL must not seed it again.
    public var stateTableExists: (@Sendable (Database, String) -> Bool)?
    /// `eddy check`: plan without writing anything (ATTACH gets an in-memory stand-in).
    public var checkOnly = false
    /// A stop request interrupts the start-up statement that is running.
    public var stop: StopSignal?

    public init() {}
}

/// Turns a parsed job into a plan, running its start-up statements on a fresh
/// engine connection and preparing everything else, so that every error in
/// the job is found before a batch runs, with its place in the file.
public struct Planner {
    let job: Job
    let options: PlanOptions
    var plan: Plan
    var errors: [JobError] = []
    var streamInserts: [Statement] = []
    var statements: [Statement] = []
    var streamCounts: [HashCounted?] = []
    var statementCounts: [HashCounted?] = []
    /// Per-batch steps with the file position of their statement: the two
    /// passes find them out of order, and they run in file order.
    var orderedSteps: [(position: Int, step: BatchStep)] = []
    var position = 0
    /// A start-up statement that was cut short: planning stops there.
    var interrupted: StartupInterrupted?
    /// `eddy check`: schemas attached read-only as stand-ins (too large to copy).
    var readOnlyStandIns: Set<String> = []

    public static func prepare(_ job: Job, options: PlanOptions = PlanOptions()) throws -> PreparedJob {
        var planner = Planner(job: job, options: options)
        return try planner.run()
    }

    init(job: Job, options: PlanOptions) {
        self.job = job
        self.options = options
        self.plan = Plan(jobPath: job.path, jobText: job.text, settings: Settings())
    }

    mutating func run() throws -> PreparedJob {
        try applySettings()
        let db: Database
        do {
            db = try EngineDatabase.open(settings: plan.settings, lanes: options.laneCount)
            try EngineDatabase.attachShared(db, path: options.sharedPath, settings: plan.settings, lanes: options.laneCount)
            try options.prepareDatabase?(db)
        } catch let e as SQLiteError {
            throw RuntimeError("cannot open SQLite: \(e.message)")
        }
        if options.stateSchema == CheckpointStore.schema { db.protectCheckpoint(schema: options.stateSchema) }
        db.checkOnly = options.checkOnly
        db.statementTimeoutMs = plan.settings.statementTimeout
        db.interruptStatements(on: options.stop)
        // Start-up is over once planning is: from here the engine decides what interrupts.
        defer { db.interruptStatements(on: nil) }

        // Pass 1, in file order: eddy's definitions and SQLite's start-up statements.
        for statement in job.statements where interrupted == nil {
            position = statement.index
            do throws(JobError) {
                switch statement.kind {
                case .set: break
                case .source(let s): try defineSource(s, db)
                case .stream(let s): try defineStream(s, db)
                case .window(let w): try defineWindow(w, db)
                case .stateTable(let t): try defineStateTable(t, db)
                case .sink(let s): try defineSink(s)
                case .sql(let s) where s.phase == .start: try runStartStatement(s, statement, db)
                case .sql: break
                }
            } catch {
                errors.append(error)
            }
        }
        if let interrupted { throw interrupted }
        // Pass 2: per-batch statements, which may use anything created at start.
        for statement in job.statements {
            guard case .sql(let s) = statement.kind, s.phase == .perBatch else { continue }
            position = statement.index
            do throws(JobError) {
                try prepareBatchStatement(s, statement, db)
            } catch {
                errors.append(error)
            }
        }
        // By file position; a statement's rows stream (RowsOnLanes.swift) shares
        // its position and goes first, as it was added first.
        plan.steps = orderedSteps.enumerated()
            .sorted { ($0.element.position, $0.offset) < ($1.element.position, $1.offset) }
            .map(\.element.step)
        if errors.isEmpty { checkOrder() }
        (plan.placements, plan.singleLaneReason) = Placement(plan: plan).decide()
        if errors.isEmpty { probeTriggers(db) }
        if errors.isEmpty { inlineStreams(db) }
        if errors.isEmpty && plan.sources.isEmpty {
            errors.append(JobError(job.location(0), "the job has no CREATE SOURCE: eddy needs at least one source to read"))
        }
        for sink in plan.sinks where sink.columns.isEmpty && !options.replica {
            JobWarnings.warn("\(sink.location): sink \(sink.name) is never written to (no INSERT INTO \(sink.name) ...)")
        }
        if !errors.isEmpty { throw JobErrors(errors) }
        return PreparedJob(plan: plan, database: db, streamInserts: streamInserts, statements: statements,
                           streamCounts: streamCounts, statementCounts: statementCounts)
    }

    // MARK: settings

    mutating func applySettings() throws {
        var settings = Settings()
        var seen: [String: SourceLocation] = [:]
        for statement in job.statements {
            guard case .set(let key, let value, let valueLocation) = statement.kind else { continue }
            if let first = seen[key.key] {
                errors.append(JobError(key.location, "\(key.key) is already set at \(first); a job sets each key once (--set on the command line overrides the job)"))
                continue
            }
            seen[key.key] = key.location
            if case .failure(let e) = settings.set(key.value, value) {
                let at = e.message.hasPrefix("unknown setting") ? key.location : valueLocation
                errors.append(JobError(at, e.message))
            }
        }
        for (key, value) in options.overrides {
            if case .failure(let e) = settings.set(key, value) {
                throw UsageError("--set \(key)=\(value): \(e.message)")
            }
        }
        plan.settings = settings
    }

    // MARK: per-batch statements

    mutating func prepareBatchStatement(_ s: SQLStatement, _ statement: JobStatement, _ db: Database) throws(JobError) {
        var sinkIndex: Int?
        if let target = s.insertTarget, case .sink(let k) = plan.relations[target.name.key] {
            sinkIndex = k
            if plan.sinks[k].columns.isEmpty { try createCollector(k, target, db) }
        }
        let prepared: Statement
        let access: TableAccess
        let split = rowsOnLane(s, statement, db)
        if let split {
            (prepared, access) = (split.prepared, split.access)
        } else {
            (prepared, access) = try prepareTracing(s.sql, db)
        }
        let reads = access.reads.filter { plan.relations[$0] != nil }
        let slide = self.slide(reading: reads)
        var windows: [Int] = []
        for r in reads.sorted() {
            if case .window(let w) = plan.relations[r] { windows.append(w) }
        }
        var planned = PlannedStatement(index: plan.statements.count, sql: s.sql, location: statement.location,
                                       access: access, slide: slide, isOutput: prepared.columnCount > 0,
                                       windows: windows.sorted(), sink: sinkIndex, rowsFrom: split?.stream)
        var counted: HashCounted?
        if split == nil {
            if s.keyword == "SELECT" {
                counted = hashCounted(s.sql, access: access, location: statement.location, db)
            } else if let parts = s.insertTarget?.split {
                counted = hashCounted(parts.rows, prefix: parts.verb + " ", suffix: parts.tail.isEmpty ? "" : " " + parts.tail,
                                      access: access, location: statement.location, db)
            }
        }
        planned.hashCounted = counted != nil
        plan.statements.append(planned)
        statements.append(prepared)
        statementCounts.append(counted)
        orderedSteps.append((position, .statement(planned.index)))
    }

    /// A sink is a table that collects a batch's rows; its columns are those
    /// of the first query that writes to it.
    mutating func createCollector(_ k: Int, _ target: InsertTarget, _ db: Database) throws(JobError) {
        var columns: [String]
        if let listed = target.columns, !listed.isEmpty {
            columns = listed
        } else {
            do {
                let q = try db.asJob { () throws(SQLiteError) in try db.prepare(target.query.text, persistent: false) }
                columns = q.columnNames
            } catch {
                throw mapError(error, target.query)
            }
        }
        // Unique names, so `SELECT a, a` still makes a valid table.
        var seen: [String: Int] = [:]
        columns = columns.map { c in
            let n = seen[c.lowercased(), default: 0]
            seen[c.lowercased()] = n + 1
            return n == 0 ? c : "\(c)_\(n + 1)"
        }
        let defs = columns.map(quoteIdentifier).joined(separator: ", ")
        do {
            try db.execute("CREATE TABLE main.\(quoteIdentifier(plan.sinks[k].name)) (\(defs))")
        } catch {
            throw JobError(target.name.location, "sink \(plan.sinks[k].name): \(error.message)")
        }
        db.reserve(table: plan.sinks[k].name, as: "a sink")
        plan.sinks[k].columns = columns
    }

    func prepareTracing(_ fragment: SQLFragment, _ db: Database) throws(JobError) -> (Statement, TableAccess) {
        do {
            return try db.asJob { () throws(SQLiteError) in try db.prepareTracingAccess(fragment.text) }
        } catch {
            throw mapError(error, fragment)
        }
    }

    /// Maps a SQLite error back to the job file. SQLite's message is kept, and
    /// "no such table" says what eddy knows instead.
    func mapError(_ error: SQLiteError, _ fragment: SQLFragment, prefixBytes: Int = 0) -> JobError {
        var offset = error.offset.map { max(0, $0 - prefixBytes) } ?? 0
        var message = error.message
        if message.hasPrefix("no such table: ") {
            let name = String(message.dropFirst("no such table: ".count))
            // SQLite gives no offset for this one: point at the name itself.
            if error.offset == nil, let at = Self.findWord(name, in: fragment.text) { offset = at }
            message = "unknown table, source or stream '\(name)'"
            let known = plan.relations.keys.sorted()
            if !known.isEmpty { message += " (defined so far: \(known.joined(separator: ", ")))" }
        }
        return JobError(job.location(fragment.offset + min(offset, fragment.text.utf8.count)), message)
    }

    /// Where `VIEW` or `TRIGGER` starts in a `CREATE VIEW name` or `CREATE
    /// TRIGGER name` with no TEMP and no schema before the name, or nil for
    /// any other statement.
    static func plainCreateViewOrTrigger(_ text: String) -> String.Index? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        guard words.count >= 3, words[0].lowercased() == "create",
              words[1].lowercased() == "view" || words[1].lowercased() == "trigger" else { return nil }
        var name = words[2]
        if name.lowercased() == "if", words.count >= 6 { name = words[5] }
        // A schema-qualified name (`x.v`, `"x".v`) keeps its schema.
        if name.contains(".") { return nil }
        return words[1].startIndex
    }

    /// Byte offset of `word` as a whole word (case-insensitive), ignoring a
    /// schema prefix such as `main.`.
    static func findWord(_ word: String, in text: String) -> Int? {
        let bare = word.split(separator: ".").last.map(String.init) ?? word
        let hay = Array(text.lowercased().utf8)
        let needle = Array(bare.lowercased().utf8)
        guard !needle.isEmpty, hay.count >= needle.count else { return nil }
        func isWord(_ b: UInt8) -> Bool { b == 0x5F || (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7A) || b >= 0x80 }
        for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) {
            let before = i == 0 || !isWord(hay[i - 1])
            let after = i + needle.count == hay.count || !isWord(hay[i + needle.count])
            if before && after { return i }
        }
        return nil
    }

    /// A per-batch statement that reads a stream or window defined later in
    /// the file would see the previous batch's rows: refuse it.
    mutating func checkOrder() {
        var defined: Set<String> = []
        for (key, kind) in plan.relations {
            if case .source = kind { defined.insert(key) }
        }
        for step in plan.steps {
            switch step {
            case .stream(let i):
                for r in plan.streams[i].reads where !defined.contains(r) && isBatchRelation(r) {
                    errors.append(JobError(plan.streams[i].location, "stream \(plan.streams[i].name) reads '\(r)', which is defined after it; define '\(r)' first"))
                }
                defined.insert(plan.streams[i].name.lowercased())
            case .window(let i):
                defined.insert(plan.windows[i].name.lowercased())
            case .statement(let i):
                for r in plan.statements[i].access.reads where !defined.contains(r) && isBatchRelation(r) {
                    errors.append(JobError(plan.statements[i].location, "this statement reads '\(r)', which is defined after it in the file; move the statement after that definition"))
                }
            }
        }
    }

    func isBatchRelation(_ name: String) -> Bool {
        switch plan.relations[name] {
        case .stream, .window: return true
        default: return false
        }
    }
}

/// Job-level warnings that are not errors (printed on stderr).
enum JobWarnings {
    static func warn(_ message: String) { EddyLog.write(.warning, message) }
}
