import ArgumentParser
import EddyCore
import EddyEngine
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

    @Option(help: ArgumentHelp("Serve a live metrics page on HOST:PORT (not built yet).", valueName: "HOST:PORT"))
    var ui: String?

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
        if let ui { throw UsageError("--ui \(ui): the live metrics page is not built yet; metrics are on stderr, one line per batch") }
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
            let prepared = try Planner.prepare(parsed, options: planOptions)
            let engine = Engine(prepared: prepared, options: options, stop: Signals.stop, checkpoint: store)
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
