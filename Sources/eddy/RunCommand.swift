import ArgumentParser
import EddyCore
import EddyEngine
import EddyIngest
import EddyJob
import EddySinks
import Glibc

/// Options shared by `run` and `check`.
struct JobOptions: ParsableArguments {
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a setting, e.g. --set batch_interval=200ms. Repeatable.", valueName: "key=value"))
    var settings: [String] = []

    @Option(name: .customLong("log-format"), help: ArgumentHelp("Stderr lines as plain text (default) or one JSON object per line, for log shippers.", valueName: "plain|json"))
    var logFormat: String = "plain"

    /// Sets up logging in the format asked for; an unknown format is a usage
    /// error, reported in plain lines.
    func bootstrapLogging(quiet: Bool) throws(UsageError) {
        guard let format = LogFormat(rawValue: logFormat.lowercased()) else {
            EddyLog.bootstrap(quiet: quiet)
            throw UsageError("--log-format \(logFormat): expected plain or json")
        }
        EddyLog.bootstrap(quiet: quiet, format: format)
    }

    func overrides() throws(UsageError) -> [(String, String)] {
        try settings.map { (item: String) throws(UsageError) -> (String, String) in
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw UsageError("--set \(item): expected key=value, like --set batch_interval=500ms")
            }
            return (String(item[..<eq]).trimmingSpaces, String(item[item.index(after: eq)...]).trimmingSpaces)
        }
    }

    func loadJob(_ job: String) throws -> Job {
        if let size = Files.status(job)?.size, size > JobParser.maxBytes {
            throw JobError(SourceLocation(file: job, line: 1, column: 1), JobParser.tooLarge(bytes: size))
        }
        let bytes: [UInt8]
        do {
            bytes = try Files.readAll(job)
        } catch {
            throw JobFileUnreadable(path: job, reason: String(cString: strerror(error.code)))
        }
        return try JobParser.parse(path: job, text: String(decoding: bytes, as: UTF8.self))
    }
}

/// A job file that cannot be read (missing, a directory, no permission) is a
/// job error, exit 1, like any other problem with the job: the command line
/// itself was well formed. A service manager can then tell "the job is
/// wrong" (1) from "the unit's command line is wrong" (2).
struct JobFileUnreadable: EddyError {
    let path: String
    let reason: String
    var exitStatus: ExitStatus { .jobError }
    var description: String { "cannot read job file \(path): \(reason)" }
}

struct RunCommand: ParsableCommand, EddySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a job: receive its sources, run its SQL on every batch, print or sink the results.")

    @Argument(help: "The job file (.sql).")
    var job: String

    @OptionGroup var jobOptions: JobOptions

    @Option(help: ArgumentHelp("Keep state, offsets and logged input in DIR, so a restart resumes where it stopped.", valueName: "DIR"))
    var checkpoint: String?

    @Option(help: "Output format for rows printed to stdout: table, csv, tsv or jsonl.")
    var format: String = "table"

    @Option(help: ArgumentHelp("Serve the monitor on HOST:PORT while the job runs: a live page at /, Prometheus /metrics, JSON /api/status and /api/batches. Use 127.0.0.1:PORT (port 0 picks a free one); another address needs --ui-token.", valueName: "HOST:PORT"))
    var ui: String?

    @Option(name: .customLong("ui-token"), help: ArgumentHelp("Every request to the monitor must carry 'Authorization: Bearer TOKEN' (needed to serve a non-loopback address). The EDDY_UI_TOKEN environment variable is read when this option is not given, and keeps the token out of the process list.", valueName: "TOKEN"))
    var uiToken: String?

    @Option(name: .customLong("metrics-file"), help: ArgumentHelp("Append one JSON line per batch to PATH: its figures and each step's time and rows.", valueName: "PATH"))
    var metricsFile: String?

    @Option(help: ArgumentHelp("Stop after this long, e.g. 30s.", valueName: "duration"))
    var duration: String?

    @Option(help: "Stop after N batches.")
    var batches: Int?

    @Option(help: ArgumentHelp("Run over recorded input DIR/SOURCE/000001.txt, ... with a virtual clock.", valueName: "DIR"))
    var replay: String?

    @Flag(help: "Only print errors on stderr (no per-batch metrics).")
    var quiet = false

    @Flag(help: "Start from a checkpoint made by a different job text when the state tables are unchanged.")
    var force = false

    func runOptions() throws(UsageError) -> RunOptions {
        var options = RunOptions()
        guard let f = OutputFormat(rawValue: format.lowercased()) else {
            throw UsageError("--format \(format): expected table, csv, tsv or jsonl")
        }
        options.format = f
        if let duration {
            switch Units.parseDuration(duration) {
            case .failure(let e): throw UsageError("--duration \(duration): \(e.message)")
            case .success(let ms):
                guard ms > 0 else { throw UsageError("--duration must be greater than 0") }
                options.duration = ms
            }
        }
        if let batches {
            guard batches > 0 else { throw UsageError("--batches must be at least 1, not \(batches)") }
            options.batches = batches
        }
        if let ui {
            switch HostPort.parse(ui) {
            case .success(let address): options.ui = address
            case .failure(let e): throw UsageError("--ui \(ui): \(e.message)")
            }
        }
        let token = uiToken ?? getenv("EDDY_UI_TOKEN").map { String(cString: $0) }
        if let token {
            // What an HTTP header carries as it is: printable ASCII, no spaces.
            guard !token.isEmpty, token.allSatisfy({ ($0.asciiValue ?? 0) > 32 && ($0.asciiValue ?? 127) < 127 }) else {
                throw UsageError("--ui-token: the token must be printable ASCII without spaces, and not empty")
            }
            options.uiToken = token
        }
        if let metricsFile {
            guard !metricsFile.isEmpty else { throw UsageError("--metrics-file: expected a path") }
            options.metricsFile = metricsFile
        }
        options.replayDir = replay
        options.force = force
        options.quiet = quiet
        return options
    }

    func execute() -> ExitStatus {
        do {
            try jobOptions.bootstrapLogging(quiet: quiet)
            let options = try runOptions()
            var planOptions = PlanOptions()
            planOptions.overrides = try jobOptions.overrides()
            planOptions.stop = Signals.stop
            let parsed = try jobOptions.loadJob(job)
            var store: CheckpointStore?
            if let checkpoint {
                let s = try CheckpointStore(directory: checkpoint)
                try s.verify(JobChange.Fingerprint(job: parsed, overrides: planOptions.overrides),
                             replay: replay != nil, force: force)
                planOptions.stateSchema = CheckpointStore.schema
                planOptions.prepareDatabase = { db in try s.attach(to: db) }
                planOptions.stateTableExists = { db, name in CheckpointStore.stateTableExists(db, name) }
                store = s
            }
            let engine = Engine(job: parsed, planOptions: planOptions, options: options, stop: Signals.stop, checkpoint: store)
            switch try engine.run() {
            case .finished, .outputClosed: return .ok
            // With a checkpoint the interrupted batch runs again at the next start.
            case .stopTimedOut: return store != nil ? .ok : .runtime
            }
        } catch let stopped as StartupInterrupted where stopped.isStop {
            // A stop asked for before the first batch: nothing was received, nothing is lost.
            EddyLog.write(.info, stopped.description)
            return .ok
        } catch {
            return report(error)
        }
    }
}

struct CheckCommand: ParsableCommand, EddySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Parse and validate jobs, and print their plans; errors read file:line:col.",
        discussion: "With several files, each plan follows a `==> FILE <==` line, and the exit status is the worst of them.")

    @Argument(help: "The job files (.sql).")
    var jobs: [String]

    @OptionGroup var jobOptions: JobOptions

    func validate() throws {
        if jobs.isEmpty { throw ValidationError("Missing expected argument '<jobs> ...'") }
    }

    func execute() -> ExitStatus {
        do {
            try jobOptions.bootstrapLogging(quiet: false)
        } catch {
            return report(error)
        }
        var worst = ExitStatus.ok
        for (index, path) in jobs.enumerated() {
            if jobs.count > 1 { print("\(index == 0 ? "" : "\n")==> \(path) <==") }
            let status = check(path)
            // Plans go to stdout, errors straight to stderr: keep them in order.
            fflush(nil)
            if status.rawValue > worst.rawValue { worst = status }
        }
        return worst
    }

    private func check(_ path: String) -> ExitStatus {
        do {
            var planOptions = PlanOptions()
            planOptions.overrides = try jobOptions.overrides()
            planOptions.checkOnly = true
            planOptions.stop = Signals.stop
            let prepared = try Planner.prepare(try jobOptions.loadJob(path), options: planOptions)
            print(PlanPrinter.describe(prepared.plan), terminator: "")
            return .ok
        } catch {
            return report(error)
        }
    }
}
