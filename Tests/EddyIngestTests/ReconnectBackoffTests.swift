@testable import EddyIngest
import Testing

/// The `socket` receiver's reconnect schedule: 100 ms, doubling, capped at 5 s.
@Suite struct ReconnectBackoffTests {
    @Test func doublesFromAHundredMillisecondsToAFiveSecondCap() {
        var backoff = ReconnectBackoff()
        #expect(backoff.delayMs == 100)
        let waits = (0..<10).map { _ in backoff.failed() }
        #expect(waits == [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000])
        #expect(backoff.delayMs == 5000)
    }

    @Test func aConnectionMakesTheNextWaitShortAgain() {
        var backoff = ReconnectBackoff()
        for _ in 0..<8 { _ = backoff.failed() }
        backoff.connected()
        // After a dropped connection the receiver waits the short delay...
        #expect(backoff.delayMs == 100)
        // ...and a server still down starts the schedule from the beginning.
        #expect((0..<3).map { _ in backoff.failed() } == [100, 200, 400])
    }
}
