import EddyCore
import EddyEngine
import EddyIngest
import EddyJob
import EddySinks
import EddyFuzzSupport

/// The job parser on any bytes: statement splitting, eddy's own statements,
/// and the checks the planner makes without SQLite (settings, source and sink
/// options, window durations, the checkpoint fingerprint). Every error must
/// carry a place inside the file. SQL itself is never run: a fuzzed job could
/// ATTACH and write files.
@_cdecl("fuzz_job_main")
public func fuzzJobMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzJob(UnsafeBufferPointer(start: data, count: size)) }
}

func fuzzJob(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    let text = String(decoding: input, as: UTF8.self)
    let path = "fuzz.sql"
    let lines = text.utf8.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    func checkPlace(_ location: SourceLocation) {
        guard location.file == path, location.line >= 1, location.line <= lines, location.column >= 1 else {
            fatalError("error place \(location) outside the job (\(lines) lines)")
        }
    }
    let job: Job
    do {
        job = try JobParser.parse(path: path, text: text)
    } catch {
        guard !error.errors.isEmpty else { fatalError("a parse failure without an error") }
        for e in error.errors { checkPlace(e.location) }
        _ = error.description
        return 0
    }
    var settings = Settings()
    for statement in job.statements {
        checkPlace(statement.location)
        switch statement.kind {
        case .set(let key, let value, let at):
            checkPlace(key.location)
            checkPlace(at)
            _ = settings.set(key.value, value)
        case .source(let s):
            var options: [String: String] = [:]
            for o in s.options {
                checkPlace(o.keyLocation)
                checkPlace(o.valueLocation)
                options[o.key] = o.value
            }
            _ = SourceConfig.parse(columns: s.columns.map { ColumnSpec(name: $0.name, type: $0.type) }, options: options)
        case .sink(let s):
            var options: [String: String] = [:]
            for o in s.options { options[o.key] = o.value }
            _ = SinkConfig.parse(options)
        case .window(let w):
            checkPlace(w.rangeLocation)
            _ = Units.parseDuration(w.range)
            if let slide = w.slide { _ = Units.parseDuration(slide) }
        case .stream(let s):
            checkPlace(job.location(s.query.offset))
        case .stateTable(let t):
            checkPlace(job.location(t.definition.offset))
        case .sql(let s):
            checkPlace(job.location(s.sql.offset))
            if let target = s.insertTarget { checkPlace(target.name.location) }
        }
    }
    _ = JobChange.Fingerprint(job: job, overrides: [])
    return 0
}
