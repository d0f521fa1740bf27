import ArgumentParser
import CMalloc
import EddyCore
import Glibc

/// The executable only parses arguments and wires modules together; anything
/// a test needs to reach lives in the library modules.
@main
struct EddyMain {
    static func main() {
        // regexp() and the C library see text as UTF-8 characters, not bytes.
        _ = setlocale(LC_CTYPE, "C.UTF-8")
        // Memory the lanes free goes back to the system (see the shim). A
        // refusal only costs memory, so eddy runs on.
        _ = eddy_malloc_fix_mmap_threshold()
        Signals.install()
        do {
            let command = try Eddy.parseAsRoot()
            if let runnable = command as? EddySubcommand {
                exit(runnable.execute().rawValue)
            }
            var other = command
            try other.run()
            exit(0)
        } catch {
            let code = Eddy.exitCode(for: error)
            if code == .success {
                print(Eddy.fullMessage(for: error))
                exit(0)
            }
            StandardError.write(Eddy.fullMessage(for: error) + "\n")
            exit(ExitStatus.usage.rawValue)
        }
    }
}

/// A subcommand that reports its own exit status (SPEC: 0 ok, 1 job error,
/// 2 usage, 3 runtime failure).
protocol EddySubcommand {
    func execute() -> ExitStatus
}

struct Eddy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eddy",
        abstract: "A stream processor for one box: receive streams, cut them into micro-batches, run SQL over them.",
        discussion: """
            A job is one .sql file of eddy statements (SET, CREATE SOURCE, CREATE STREAM,
            CREATE WINDOW, CREATE STATE TABLE, CREATE SINK) and plain SQLite statements.
            Schema statements run once at start; queries and DML run once per batch.
            A bare SELECT prints its rows to stdout. See README.md for the language.

            Exit codes: 0 ok, 1 job error (bad SQL, bad option, invalid window),
            2 usage error, 3 runtime failure. SIGINT, SIGTERM and SIGHUP stop
            gracefully; a second one exits at once with 128 + the signal number.
            """,
        version: VersionInfo.text,
        subcommands: [RunCommand.self, CheckCommand.self, GenCommand.self, StatusCommand.self]
    )
}

/// Reports an error the way SPEC promises and returns its exit status.
func report(_ error: any Error) -> ExitStatus {
    switch error {
    case let e as EddyError:
        if e is JobError || e is JobErrors {
            EddyLog.write(.error, e.description, plain: .bare)
        } else if e is UsageError {
            EddyLog.write(.error, e.description, plain: .unlabelled)
        } else {
            EddyLog.write(.error, e.description)
        }
        return e.exitStatus
    default:
        EddyLog.write(.error, "\(error)")
        return .runtime
    }
}

/// SIGINT, SIGTERM and SIGHUP are taken by a dedicated thread (they are
/// blocked in every other thread), so a stop request is handled in normal
/// code: the first asks for a graceful stop, a second exits at once. SIGHUP
/// is a stop too: a closed terminal or `systemctl stop` of a session should
/// not lose the batch in flight.
enum Signals {
    static let stop = StopSignal()

    static func install() {
        signal(SIGPIPE, SIG_IGN)
        // A file over the size limit fails its write (EFBIG) instead of killing eddy.
        signal(SIGXFSZ, SIG_IGN)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        // Unblocked, a stop signal would kill eddy mid-batch instead of
        // reaching the signal thread: better not to run than to run without
        // a graceful stop.
        let masked = pthread_sigmask(SIG_BLOCK, &set, nil)
        guard masked == 0 else {
            StandardError.write("eddy: cannot block SIGINT/SIGTERM/SIGHUP for a graceful stop: pthread_sigmask: \(String(cString: strerror(masked)))\n")
            exit(ExitStatus.runtime.rawValue)
        }
        let blocked = set
        do {
            try startThread(name: "eddy-signals") {
                var set = blocked
                while true {
                    var signo: Int32 = 0
                    guard sigwait(&set, &signo) == 0 else { continue }
                    if stop.request() == 1 {
                        EddyLog.write(.info, "stopping: finishing the data already received (signal again to exit at once)")
                    } else {
                        _exit(128 + signo)
                    }
                }
            }
        } catch {
            // Without the signal thread, SIGINT/SIGTERM would stay blocked and never stop eddy.
            StandardError.write("eddy: \(error)\n")
            exit(ExitStatus.runtime.rawValue)
        }
    }
}
