import EddyCore
import Glibc

extension Engine {
    /// After a stop request, `stop_timeout` bounds how long finishing may
    /// take. With a checkpoint nothing is lost by leaving early: what was
    /// received is in its log.
    ///
    /// The watchdog stands down once the loop has ended (`finished`): an
    /// engine that stopped in time must not take its host process with it
    /// later, as it would an in-process test that goes on running.
    func startStopWatchdog(finished: StopSignal, settings: Settings) {
        let timeout = settings.stopTimeout
        let safe = checkpoint != nil
        do {
            try startThread(name: "eddy-stop-timer") {
                if finished.wait(timeoutMs: timeout) { return }
                StandardError.write("eddy: stop_timeout (\(Units.formatDuration(timeout))) passed before the last batch finished; exiting\(safe ? " (what was received is in the checkpoint's log)" : "")\n")
                _exit(safe ? ExitStatus.ok.rawValue : ExitStatus.runtime.rawValue)
            }
        } catch {
            logger.warning("stop_timeout is not enforced for this stop: \(error); a second signal exits at once")
        }
    }
}
