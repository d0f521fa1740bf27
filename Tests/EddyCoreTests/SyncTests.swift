import Glibc
import Testing
@testable import EddyCore

/// A flag one thread sets and another waits for, with a generous safety
/// timeout so a broken implementation fails the test instead of hanging it.
final class Flag: Sendable {
    private let lock = ConditionLock(false)
    func set() { lock.update { $0 = true } }
    var isSet: Bool { lock.withLock { $0 } }
    /// True when set within `timeoutMs`.
    func wait(timeoutMs: Int64 = 10_000) -> Bool {
        lock.wait(until: { $0 }, timeoutMs: timeoutMs, then: { _ in true }) ?? false
    }
}

@Suite("ConditionLock")
struct ConditionLockTests {
    @Test func waitTimesOutWithNil() {
        let lock = ConditionLock(0)
        let start = MonotonicTime.now()
        let result = lock.wait(until: { $0 > 0 }, timeoutMs: 50, then: { _ in "ready" })
        let elapsedMs = MonotonicTime.millisSince(start)
        #expect(result == nil)
        #expect(elapsedMs >= 50, "a timed-out wait must have waited its whole timeout, not \(elapsedMs) ms")
    }

    @Test func zeroAndNegativeTimeoutsReturnAtOnce() {
        let lock = ConditionLock(0)
        #expect(lock.wait(until: { $0 > 0 }, timeoutMs: 0, then: { _ in 1 }) == nil)
        #expect(lock.wait(until: { $0 > 0 }, timeoutMs: -5, then: { _ in 1 }) == nil)
    }

    @Test func readyStateRunsBodyWithoutWaiting() {
        let lock = ConditionLock(3)
        let result = lock.wait(until: { $0 == 3 }, timeoutMs: 0) { state -> Int in
            state += 1
            return state
        }
        #expect(result == 4)
        #expect(lock.withLock { $0 } == 4)
    }

    @Test func waitWakesOnUpdateFromAnotherThread() throws {
        let lock = ConditionLock(0)
        let started = Flag()
        try startThread(name: "test-updater") {
            started.set()
            usleep(20_000)
            lock.update { $0 = 42 }
        }
        #expect(started.wait())
        let seen = lock.wait(until: { $0 == 42 }, timeoutMs: 10_000, then: { $0 })
        #expect(seen == 42)
    }

    @Test func waitWithoutTimeout() throws {
        let lock = ConditionLock([Int]())
        try startThread(name: "test-appender") {
            for i in 1...5 { lock.update { $0.append(i) } }
        }
        let all = lock.wait(until: { $0.count == 5 }, then: { $0 })
        #expect(all == [1, 2, 3, 4, 5])
    }

    @Test func withLockSerializesThreads() throws {
        let lock = ConditionLock(0)
        let done = ConditionLock(0)
        for t in 0..<4 {
            try startThread(name: "test-counter-\(t)") {
                for _ in 0..<10_000 { lock.withLock { $0 += 1 } }
                done.update { $0 += 1 }
            }
        }
        let finished = done.wait(until: { $0 == 4 }, timeoutMs: 30_000, then: { $0 })
        #expect(finished == 4)
        #expect(lock.withLock { $0 } == 40_000)
    }
}

@Suite("StopSignal")
struct StopSignalTests {
    @Test func startsUnrequested() {
        let stop = StopSignal()
        #expect(!stop.isRequested)
        #expect(stop.count == 0)
        #expect(stop.wait(timeoutMs: 10) == false)
    }

    @Test func requestsAreCounted() {
        let stop = StopSignal()
        #expect(stop.request() == 1)
        #expect(stop.isRequested)
        #expect(stop.request() == 2)
        #expect(stop.count == 2)
        #expect(stop.wait(timeoutMs: 0) == true)
        #expect(stop.wait(timeoutMs: 10_000) == true, "an already requested stop returns at once")
    }

    @Test func requestWakesAWaiter() throws {
        let stop = StopSignal()
        let result = ConditionLock<Bool?>(nil)
        try startThread(name: "test-waiter") {
            let woke = stop.wait(timeoutMs: 60_000)
            result.update { $0 = woke }
        }
        usleep(20_000)
        stop.request()
        let woke = result.wait(until: { $0 != nil }, timeoutMs: 10_000, then: { $0 })
        #expect(woke == .some(true))
    }

    @Test func virtualClockSleepStopsOnRequest() {
        let clock = VirtualClock(start: 100)
        let stop = StopSignal()
        #expect(clock.sleep(until: 500, stop: stop))
        #expect(clock.now() == 500)
        #expect(clock.sleep(until: 200, stop: stop))
        #expect(clock.now() == 500, "virtual time never goes back")
        stop.request()
        #expect(clock.sleep(until: 900, stop: stop) == false)
        #expect(clock.now() == 500)
    }

    @Test func realClockSleepReturnsFalseWhenStopped() {
        let stop = StopSignal()
        stop.request()
        let clock = RealClock()
        #expect(clock.sleep(until: clock.now() + 60_000, stop: stop) == false)
        #expect(clock.sleep(until: clock.now() - 1, stop: stop) == true, "a time already past needs no sleep")
    }
}

@Suite("startThread")
struct StartThreadTests {
    /// A thread that cannot be made is an error for the caller, never the
    /// body run inline on the caller's thread (which would block it).
    @Test func aThreadThatCannotStartThrowsAndNeverRunsTheBody() throws {
        let ran = Flag()
        // No machine maps a 64 TiB stack: pthread_create fails.
        #expect(throws: ThreadStartError.self) {
            try startThread(name: "test-too-big", stackSize: 1 << 46) { ran.set() }
        }
        #expect(!ran.wait(timeoutMs: 200))
    }

    @Test func aStartedThreadRunsTheBody() throws {
        let ran = Flag()
        try startThread(name: "test-runs") { ran.set() }
        #expect(ran.wait())
    }
}

@Suite("ConditionLock storage")
struct ConditionLockStorageTests {
    /// Many short-lived locks used from several threads at once: the pthread
    /// objects live in storage of their own, so nothing moves under a waiter.
    @Test func manyLocksHandedBetweenThreadsAllWakeTheirWaiters() throws {
        for round in 0..<200 {
            let lock = ConditionLock(0)
            let woke = Flag()
            try startThread(name: "test-waiter-\(round % 10)") {
                if lock.wait(until: { $0 == 1 }, timeoutMs: 10_000, then: { _ in true }) == true { woke.set() }
            }
            lock.update { $0 = 1 }
            #expect(woke.wait())
        }
    }
}
