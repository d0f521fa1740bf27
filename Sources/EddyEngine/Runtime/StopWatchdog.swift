import EddyCore
import EddySQL
import Glibc

/// Bounds how long a graceful stop may take (`stop_timeout`), counted from
/// the moment the stop is asked for, wherever the engine is then: recovering,
/// between batches, or deep in a statement that never ends. With a
/// checkpoint nothing is lost by leaving early: what was received is in its
/// log.
///
/// When the time runs out, the watchdog first interrupts the statement that
/// is running (`abandon`, which SQLite's progress handler watches), so the
/// batch rolls back and the engine ends with a message that names the
/// statement. If the engine is stuck where SQLite cannot interrupt it, the
/// watchdog exits the process `graceMs` later.
///
/// The watchdog stands down once the run has ended (`standDown`): an engine
/// that stopped in time must not take its host process with it later, as it
/// would an in-process test that goes on running.
final class StopWatchdog: Sendable {
    let timeoutMs: Int64
    let checkpointed: Bool
    /// Requested when `stop_timeout` passes: interrupts the running statement.
    let abandon = StopSignal()
    private let finished = StopSignal()
    private let started = ConditionLock(false)
    static let graceMs: Int64 = 2000

    init(timeoutMs: Int64, checkpointed: Bool) {
        self.timeoutMs = timeoutMs
        self.checkpointed = checkpointed
    }

    /// Starts the timer for a stop asked for now; later calls do nothing.
    func start() {
        let first = started.withLock { wasStarted -> Bool in
            defer { wasStarted = true }
            return !wasStarted
        }
        guard first else { return }
        let timeout = timeoutMs
        let safe = checkpointed
        let finished = finished
        let abandon = abandon
        do {
            try startThread(name: "eddy-stop-timer") {
                if finished.wait(timeoutMs: timeout) { return }
                EddyLog.write(.warning, "stop_timeout (\(Units.formatDuration(timeout))) passed before the last batch finished; interrupting it", plain: .unlabelled)
                abandon.request()
                if finished.wait(timeoutMs: StopWatchdog.graceMs) { return }
                EddyLog.write(.error, "the engine did not stop; exiting\(safe ? " (what was received is in the checkpoint's log)" : "")", plain: .unlabelled)
                _exit(safe ? ExitStatus.ok.rawValue : ExitStatus.runtime.rawValue)
            }
        } catch {
            EddyLog.write(.warning, "stop_timeout is not enforced for this stop: \(error); a second signal exits at once", plain: .unlabelled)
        }
    }

    /// The run is over: the timer must not fire any more.
    func standDown() { finished.request() }

    /// Whether `error` is the running statement giving way to `abandon`.
    func abandoned(_ error: any Error) -> Bool {
        guard abandon.isRequested else { return false }
        if let failure = error as? BatchFailure { return failure.interruption == .stopRequested }
        return (error as? SQLiteError)?.interruption == .stopRequested
    }
}
