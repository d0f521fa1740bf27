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

    init(plan: Plan, database: Database, streamInserts: [Statement], statements: [Statement]) {
        self.plan = plan
        self.database = database
        self.streamInserts = streamInserts
        self.statements = statements
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
        plan.steps = orderedSteps.sorted { $0.position < $1.position }.map(\.step)
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
        return PreparedJob(plan: plan, database: db, streamInserts: streamInserts, statements: statements)
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

    // MARK: definitions

    mutating func claim(_ name: Name, as kind: RelationKind) throws(JobError) {
        if let existing = plan.relations[name.key] {
            throw JobError(name.location, "'\(name.value)' is already defined as \(describe(existing))")
        }
        plan.relations[name.key] = kind
    }

    func describe(_ kind: RelationKind) -> String {
        switch kind {
        case .source(let i): return "a source (\(plan.sources[i].location))"
        case .stream(let i): return "a stream (\(plan.streams[i].location))"
        case .window(let i): return "a window (\(plan.windows[i].location))"
        case .stateTable(let i): return "a state table (\(plan.stateTables[i].location))"
        case .sink(let i): return "a sink (\(plan.sinks[i].location))"
        }
    }

    mutating func defineSource(_ s: SourceStatement, _ db: Database) throws(JobError) {
        var options: [String: String] = [:]
        for o in s.options { options[o.key] = o.value }
        if options["connector"]?.lowercased() == "kinesis" && options["app_name"] == nil {
            // Like a KCL application name: keys where positions are kept without --checkpoint.
            let base = job.path.split(separator: "/").last.map { String($0.split(separator: ".").first ?? $0) } ?? "job"
            options["app_name"] = "\(base)-\(s.name.value)"
        }
        let columns = s.columns.map { ColumnSpec(name: $0.name, type: $0.type) }
        let config: SourceConfig
        switch SourceConfig.parse(columns: columns, options: options) {
        case .failure(let e):
            let at = e.key.flatMap { k in s.options.first { $0.key == k } }
            let location = e.key == "connector" || e.key == "format" || e.key == "address"
                ? (at?.valueLocation ?? s.withLocation) : (at?.keyLocation ?? s.withLocation)
            throw JobError(location, "source \(s.name.value): \(e.message)")
        case .success(let c):
            config = c
        }
        try claim(s.name, as: .source(plan.sources.count))
        let defs = config.schema.tableColumns.map { "\(quoteIdentifier($0.name)) \($0.type)" }.joined(separator: ", ")
        do {
            try db.execute("CREATE TABLE main.\(quoteIdentifier(s.name.value)) (\(defs))")
        } catch {
            throw JobError(s.name.location, "source \(s.name.value): \(error.message)")
        }
        db.reserve(table: s.name.value, as: "a source")
        plan.sources.append(PlannedSource(index: plan.sources.count, name: s.name.value, config: config,
                                          location: s.name.location))
    }

    mutating func defineStream(_ s: StreamStatement, _ db: Database) throws(JobError) {
        let (_, access) = try prepareTracing(s.query, db)
        try claim(s.name, as: .stream(plan.streams.count))
        let reads = access.reads.filter { plan.relations[$0] != nil }
        var slide = plan.settings.batchInterval
        for r in reads { if let sl = plan.slide(of: r) { slide = lcm(slide, sl) } }
        do {
            try db.asJob { () throws(SQLiteError) in
                try db.execute("CREATE TABLE main.\(quoteIdentifier(s.name.value)) AS SELECT * FROM (\(s.query.text)) LIMIT 0")
            }
        } catch {
            throw JobError(s.name.location, "stream \(s.name.value): \(error.message)")
        }
        db.reserve(table: s.name.value, as: "a stream")
        let prefix = "INSERT INTO main.\(quoteIdentifier(s.name.value)) "
        do {
            streamInserts.append(try db.asJob { () throws(SQLiteError) in try db.prepare(prefix + s.query.text) })
        } catch {
            throw mapError(error, s.query, prefixBytes: prefix.utf8.count)
        }
        plan.streams.append(PlannedStream(index: plan.streams.count, name: s.name.value, query: s.query,
                                          location: s.name.location, reads: Set(reads), access: access, slide: slide))
        orderedSteps.append((position, .stream(plan.streams.count - 1)))
    }

    mutating func defineWindow(_ w: WindowStatement, _ db: Database) throws(JobError) {
        let bi = plan.settings.batchInterval
        guard let parentKind = plan.relations[w.parent.key] else {
            throw JobError(w.parent.location, "window \(w.name.value): unknown stream '\(w.parent.value)' (a window is over a source, a stream or another window defined before it)")
        }
        let parentSlide: Int64
        switch parentKind {
        case .source, .stream, .window: parentSlide = plan.slide(of: w.parent.key) ?? bi
        default:
            throw JobError(w.parent.location, "window \(w.name.value): '\(w.parent.value)' is \(describe(parentKind)), not a source, stream or window")
        }
        func duration(_ text: String, _ at: SourceLocation, _ what: String) throws(JobError) -> Int64 {
            switch Units.parseDuration(text) {
            case .failure(let e): throw JobError(at, "window \(w.name.value): \(what): \(e.message)")
            case .success(let ms):
                guard ms > 0 else { throw JobError(at, "window \(w.name.value): \(what) must be greater than 0") }
                guard ms <= Settings.maxWindowSpan else {
                    throw JobError(at, "window \(w.name.value): \(what) must be at most \(Units.formatDuration(Settings.maxWindowSpan)), not \(text)")
                }
                return ms
            }
        }
        let range = try duration(w.range, w.rangeLocation, "RANGE")
        let slide = try w.slide.map { s throws(JobError) in try duration(s, w.slideLocation ?? w.rangeLocation, "SLIDE") } ?? parentSlide
        let unit = parentSlide == bi ? "the batch interval (\(Units.formatDuration(bi)))"
                                     : "the slide of \(w.parent.value) (\(Units.formatDuration(parentSlide)))"
        guard range % parentSlide == 0 else {
            throw JobError(w.rangeLocation, "window \(w.name.value): RANGE \(Units.formatDuration(range)) must be a multiple of \(unit)")
        }
        guard slide % parentSlide == 0 else {
            throw JobError(w.slideLocation ?? w.rangeLocation, "window \(w.name.value): SLIDE \(Units.formatDuration(slide)) must be a multiple of \(unit)")
        }
        try claim(w.name, as: .window(plan.windows.count))
        do {
            // In the shared database: every lane reads the window, and the
            // ordered tail of each batch keeps it.
            try db.execute("CREATE TABLE IF NOT EXISTS \(Lanes.sharedSchema).\(quoteIdentifier(w.name.value)) AS SELECT * FROM \(quoteIdentifier(w.parent.value)) LIMIT 0")
        } catch {
            throw JobError(w.name.location, "window \(w.name.value): \(error.message)")
        }
        db.reserve(table: w.name.value, as: "a window")
        plan.windows.append(PlannedWindow(index: plan.windows.count, name: w.name.value, parent: w.parent.key,
                                          range: range, slide: slide, parentSlide: parentSlide, location: w.name.location))
        orderedSteps.append((position, .window(plan.windows.count - 1)))
    }

    mutating func defineStateTable(_ t: StateTableStatement, _ db: Database) throws(JobError) {
        try claim(t.name, as: .stateTable(plan.stateTables.count))
        let schema = options.stateSchema
        let table = "\(quoteIdentifier(schema)).\(quoteIdentifier(t.name.value))"
        let createSQL = "CREATE TABLE \(table) \(t.definition.text)"
        // Another lane finds the table in the shared file the first lane made it in.
        let existed = options.replica || (options.stateTableExists?(db, t.name.value) ?? false)
        let insertPrefix = "INSERT INTO \(table) "
        var seed: Statement?
        // The table and its INITIAL rows commit together: a stop or a crash
        // between the two would leave a state table that is never seeded.
        if !existed { try runEddySQL(db, "BEGIN", at: t.name.location) }
        do throws(JobError) {
            if !existed {
                do {
                    try db.asJob { () throws(SQLiteError) in try db.execute(createSQL) }
                } catch {
                    throw mapError(error, t.definition, prefixBytes: "CREATE TABLE \(table) ".utf8.count)
                }
            }
            if let initial = t.initial {
                do {
                    seed = try db.asJob { () throws(SQLiteError) in try db.prepare(insertPrefix + initial.text, persistent: false) }
                } catch {
                    throw mapError(error, initial, prefixBytes: insertPrefix.utf8.count)
                }
                if !existed, let seed {
                    do {
                        try db.asJob { () throws(SQLiteError) in try seed.run() }
                    } catch {
                        noteInterruption(error, at: job.location(initial.offset))
                        throw mapError(error, initial, prefixBytes: insertPrefix.utf8.count)
                    }
                }
            }
            if !existed { try runEddySQL(db, "COMMIT", at: t.name.location) }
        } catch {
            if db.inTransaction { try? db.execute("ROLLBACK") }
            throw error
        }
        db.reserve(table: t.name.value, as: "a state table")
        plan.stateTables.append(PlannedStateTable(index: plan.stateTables.count, name: t.name.value, createSQL: createSQL,
                                                  definition: t.definition.text, initial: t.initial, location: t.name.location))
    }

    /// eddy's own statement during planning; its failure is reported at `location`.
    func runEddySQL(_ db: Database, _ sql: String, at location: SourceLocation) throws(JobError) {
        do {
            try db.execute(sql)
        } catch {
            throw JobError(location, error.message)
        }
    }

    mutating func defineSink(_ s: SinkStatement) throws(JobError) {
        var options: [String: String] = [:]
        for o in s.options { options[o.key] = o.value }
        let config: SinkConfig
        switch SinkConfig.parse(options) {
        case .failure(let e):
            let at = e.key.flatMap { k in s.options.first { $0.key == k } }
            throw JobError(at?.keyLocation ?? s.withLocation, "sink \(s.name.value): \(e.message)")
        case .success(let c):
            config = c
        }
        try claim(s.name, as: .sink(plan.sinks.count))
        plan.sinks.append(PlannedSink(index: plan.sinks.count, name: s.name.value, options: options, config: config,
                                      location: s.name.location, columns: []))
    }

    // MARK: per-batch statements

    mutating func prepareBatchStatement(_ s: SQLStatement, _ statement: JobStatement, _ db: Database) throws(JobError) {
        var sinkIndex: Int?
        if let target = s.insertTarget, case .sink(let k) = plan.relations[target.name.key] {
            sinkIndex = k
            if plan.sinks[k].columns.isEmpty { try createCollector(k, target, db) }
        }
        let (prepared, access) = try prepareTracing(s.sql, db)
        let reads = access.reads.filter { plan.relations[$0] != nil }
        var slide = plan.settings.batchInterval
        var windows: [Int] = []
        for r in reads.sorted() {
            if let sl = plan.slide(of: r) { slide = lcm(slide, sl) }
            if case .window(let w) = plan.relations[r] { windows.append(w) }
        }
        let planned = PlannedStatement(index: plan.statements.count, sql: s.sql, location: statement.location,
                                       access: access, slide: slide, isOutput: prepared.columnCount > 0,
                                       windows: windows.sorted(), sink: sinkIndex)
        plan.statements.append(planned)
        statements.append(prepared)
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
