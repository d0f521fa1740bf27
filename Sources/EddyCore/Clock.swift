import Atomics

/// Where batch times come from. The real clock aligns batches to the epoch and
/// sleeps between them; the virtual clock of `--replay` and the tests jumps to
/// the next batch at once, so no test depends on wall time.
public protocol BatchClock: Sendable {
    /// Milliseconds since the epoch (real) or since zero (virtual).
    func now() -> Int64
    /// Blocks until `time`, or returns early (false) when `stop` fires.
    func sleep(until time: Int64, stop: StopSignal) -> Bool
    var isVirtual: Bool { get }
}

public struct RealClock: BatchClock {
    public init() {}
    public func now() -> Int64 { WallClock.nowMs() }
    public var isVirtual: Bool { false }

    public func sleep(until time: Int64, stop: StopSignal) -> Bool {
        while true {
            let remaining = time - now()
            if remaining <= 0 { return true }
            if stop.wait(timeoutMs: min(remaining, 1000)) { return false }
        }
    }
}

/// Time that moves only when the scheduler says so.
public final class VirtualClock: BatchClock, @unchecked Sendable {
    private let current: ConditionLock<Int64>

    public init(start: Int64 = 0) { current = ConditionLock(start) }

    public func now() -> Int64 { current.withLock { $0 } }
    public var isVirtual: Bool { true }

    public func sleep(until time: Int64, stop: StopSignal) -> Bool {
        if stop.isRequested { return false }
        current.update { $0 = max($0, time) }
        return true
    }

    public func advance(to time: Int64) { current.update { $0 = max($0, time) } }
}

/// A stop request that sleeping threads can wait on. The first request asks
/// for a graceful stop; `count` lets the signal handler tell a second one apart.
///
/// `isRequested` reads an atomic, not the lock: SQLite's progress handler
/// asks it every few thousand instructions of a running statement.
public final class StopSignal: Sendable {
    private struct State {
        var count = 0
        var observers: [@Sendable (Int) -> Void] = []
    }

    private let state = ConditionLock(State())
    private let requested = ManagedAtomic<Bool>(false)

    public init() {}

    public var isRequested: Bool { requested.load(ordering: .acquiring) }
    public var count: Int { state.withLock { $0.count } }

    /// Returns how many stop requests there have been, this one included.
    /// Observers run on the requesting thread, after the request is visible.
    @discardableResult
    public func request() -> Int {
        let (n, observers) = state.update { s -> (Int, [@Sendable (Int) -> Void]) in
            s.count += 1
            return (s.count, s.observers)
        }
        requested.store(true, ordering: .releasing)
        for observe in observers { observe(n) }
        return n
    }

    /// Calls `observer` with the request count at every later request, so
    /// work can start the moment a stop is asked for, wherever the thread
    /// that owns the work is. Returns the requests made before it was added.
    @discardableResult
    public func observe(_ observer: @escaping @Sendable (Int) -> Void) -> Int {
        state.withLock { s in
            s.observers.append(observer)
            return s.count
        }
    }

    /// Sleeps up to `timeoutMs`; true if a stop was requested meanwhile.
    public func wait(timeoutMs: Int64) -> Bool {
        state.wait(until: { $0.count > 0 }, timeoutMs: timeoutMs, then: { _ in true }) ?? false
    }
}
