import EddyCore
import EddyIngest
import EddyJob
import EddySQL
import EddySinks

/// The job's named relations: sources, streams, windows, state tables and
/// sinks. Each definition claims its name once, so a clash points at both
/// places, and makes its tables on the planning connection so that later
/// statements are checked against real schemas.
extension Planner {
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
        do {
            try db.asJob { () throws(SQLiteError) in try db.execute(Self.streamTableSQL(s.name.value, s.query)) }
        } catch {
            throw JobError(s.name.location, "stream \(s.name.value): \(error.message)")
        }
        let prefix = Self.streamInsertPrefix(s.name.value)
        let insert: Statement
        do {
            insert = try db.asJob { () throws(SQLiteError) in try db.prepare(prefix + s.query.text) }
        } catch {
            throw mapError(error, s.query, prefixBytes: prefix.utf8.count)
        }
        addStream(s.name.value, query: s.query, location: s.name.location, access: access, insert: insert, db)
    }

    /// The table a stream's rows go to each batch, in the lane's own `main`.
    static func streamTableSQL(_ name: String, _ query: SQLFragment) -> String {
        "CREATE TABLE main.\(quoteIdentifier(name)) AS SELECT * FROM (\(query.text)) LIMIT 0"
    }

    static func streamInsertPrefix(_ name: String) -> String { "INSERT INTO main.\(quoteIdentifier(name)) " }

    /// Puts a stream whose table and INSERT are made into the plan, as the
    /// next per-batch step at the current file position.
    mutating func addStream(_ name: String, query: SQLFragment, location: SourceLocation, access: TableAccess,
                            insert: Statement, rowsOf: Int? = nil, _ db: Database) {
        let index = plan.streams.count
        let reads = access.reads.filter { plan.relations[$0] != nil }
        plan.relations[name.lowercased()] = .stream(index)
        db.reserve(table: name, as: "a stream")
        let counted = hashCounted(query, prefix: Self.streamInsertPrefix(name), access: access, location: location, db)
        plan.streams.append(PlannedStream(index: index, name: name, query: query, location: location, reads: Set(reads),
                                          access: access, slide: slide(reading: reads), rowsOf: rowsOf,
                                          hashCounted: counted != nil))
        streamInserts.append(insert)
        streamCounts.append(counted)
        orderedSteps.append((position, .stream(index)))
    }

    /// How often a step over these relations runs: the least common multiple
    /// of their slides and the batch interval.
    func slide(reading relations: some Sequence<String>) -> Int64 {
        var slide = plan.settings.batchInterval
        for r in relations { if let sl = plan.slide(of: r) { slide = lcm(slide, sl) } }
        return slide
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
}
