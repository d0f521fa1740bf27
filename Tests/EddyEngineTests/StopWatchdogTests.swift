import EddyCore
import Foundation
import Glibc
import Testing

/// The stop watchdog ends a stop that overruns `stop_timeout` with `_exit`.
/// An engine that stopped in time must leave its process alone afterwards:
/// here the process is this test run, which would die with it.
@Suite struct StopWatchdogTests {
    @Test func aStopThatFinishedInTimeLeavesTheProcessAlone() throws {
        let run = try LiveRun("""
            CREATE SOURCE g WITH (connector = 'generator', rate = 500);
            SELECT count(*) FROM g;
            """, settings: [("batch_interval", "100ms"), ("stop_timeout", "300ms")])
        run.start()
        usleep(250_000)
        #expect(run.finish() == nil)
        // Past the timeout: the watchdog, had it not stood down, would _exit now.
        usleep(900_000)
        #expect(getpid() > 0, "still running")
        #expect(run.rows.count > 0)
    }
}
