import EddyCore
import EddyEngine
import Foundation
import Glibc
import Testing

/// The stop watchdog ends a stop that overruns `stop_timeout`: it interrupts
/// the running statement, and `_exit`s if the engine still does not stop.
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

    @Test func aStopInsideARunawayStatementInterruptsItAtTheTimeout() throws {
        let run = try LiveRun("""
            CREATE SOURCE g WITH (connector = 'generator', rate = 100);
            WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r;
            """, settings: [("batch_interval", "100ms"), ("stop_timeout", "300ms")])
        let ended = ConditionLock<(done: Bool, end: RunEnd?)>((false, nil))
        try startThread(name: "test-engine") {
            let end = try? run.engine.run()
            ended.update { $0 = (true, end) }
        }
        // The first batch, due within 200 ms, is inside the statement that never ends.
        usleep(600_000)
        let asked = MonotonicTime.now()
        run.stop.request()
        let result = ended.wait(until: { $0.done }, timeoutMs: 10_000, then: { $0 })
        let ms = MonotonicTime.millisSince(asked)
        #expect(result?.end == .stopTimedOut)
        #expect(ms >= 300 && ms < 2000, "\(ms) ms")
        #expect(run.engine.history.isEmpty, "the interrupted batch was rolled back, not recorded")
    }
}
