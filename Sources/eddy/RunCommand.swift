import ArgumentParser
import EddyCore
import EddyEngine
import EddyIngest
import EddyJob
import EddySinks
import Glibc

/// Options shared by `run` and `check`.
struct JobOptions: ParsableArguments {
    @Argument(help: "The job file (.sql).")
    var job: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a setting, e.g. --set batch_interval=200ms. Repeatable.", valueName: "key=value"))
    var settings: [String] = []

    func overrides() throws(UsageError) -> [(String, String)] {
        try settings.map { (item: String) throws(UsageError) -> (String, String) in
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw UsageError("--set \(item): expected key=value, like --set batch_interval=500ms")
            }
            return (String(item[..<eq]).trimmingSpaces, String(item[item.index(after: eq)...]).trimmingSpaces)
        }
    }

    func loadJob() throws -> Job {
        if let size = Files.status(job)?.size, size > JobParser.maxBytes {
            throw JobError(SourceLocation(file: job, line: 1, column: 1), JobParser.tooLarge(bytes: size))
        }
        let bytes: [UInt8]
        do {
            bytes = try Files.readAll(job)
        } catch {
            throw UsageError("cannot read job file \(job): \(String(cString: strerror(error.code)))")
        }
        return try JobParser.parse(path: job, text: String(decoding: bytes, as: UTF8.self))
    }
}

struct RunCommand: ParsableCommand, EddySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a job: receive its sources, run its SQL on every batch, print or sink the results.")

    @OptionGroup var job: JobOptions

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
        EddyLog.bootstrap(quiet: quiet)
        do {
            let options = try runOptions()
            var planOptions = PlanOptions()
            planOptions.overrides = try job.overrides()
            planOptions.stop = Signals.stop
            let parsed = try job.loadJob()
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
            StandardError.write("eddy: \(stopped.description)\n")
            return .ok
        } catch {
            return report(error)
        }
    }
}

struct CheckCommand: ParsableCommand, EddySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Parse and validate a job, and print its plan; errors read file:line:col.")

    @OptionGroup var job: JobOptions

    func execute() -> ExitStatus {
        EddyLog.bootstrap(quiet: false)
        do {
            var planOptions = PlanOptions()
            planOptions.overrides = try job.overrides()
            planOptions.checkOnly = true
            planOptions.stop = Signals.stop
            let prepared = try Planner.prepare(try job.loadJob(), options: planOptions)
            print(PlanPrinter.describe(prepared.plan), terminator: "")
            return .ok
        } catch {
            return report(error)
        }
    }
}
