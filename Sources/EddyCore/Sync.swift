import Glibc

/// A mutex with a condition variable, for the few places where a thread must
/// sleep until another thread changes something: a paused receiver waiting
/// for budget, the scheduler waiting for the next batch or a stop request.
///
/// Everything guarded by it is only touched inside `withLock`, which is what
/// makes the `@unchecked Sendable` sound.
public final class ConditionLock<State>: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var state: State

    public init(_ state: State) {
        self.state = state
        pthread_mutex_init(&mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        #if os(Linux)
        // Deadlines are measured on the monotonic clock, so a wall-clock jump
        // cannot make a waiting thread oversleep or spin.
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(&cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(&cond)
        pthread_mutex_destroy(&mutex)
    }

    @discardableResult
    public func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(&state)
    }

    /// Changes the state and wakes every waiter.
    @discardableResult
    public func update<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer {
            pthread_cond_broadcast(&cond)
            pthread_mutex_unlock(&mutex)
        }
        return try body(&state)
    }

    /// Waits until `ready` holds or `timeoutMs` passes, then runs `body` under
    /// the lock. Returns nil on timeout.
    public func wait<R>(until ready: (State) -> Bool, timeoutMs: Int64? = nil,
                        then body: (inout State) throws -> R) rethrows -> R? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let timeoutMs {
            let deadline = MonotonicTime.now() + max(0, timeoutMs) * 1_000_000
            while !ready(state) {
                let remaining = deadline - MonotonicTime.now()
                if remaining <= 0 { return nil }
                var ts = timespec()
                clock_gettime(CLOCK_MONOTONIC, &ts)
                let target = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) + remaining
                ts.tv_sec = Int(target / 1_000_000_000)
                ts.tv_nsec = Int(target % 1_000_000_000)
                _ = pthread_cond_timedwait(&cond, &mutex, &ts)
            }
        } else {
            while !ready(state) { pthread_cond_wait(&cond, &mutex) }
        }
        return try body(&state)
    }
}

/// Nanoseconds on the monotonic clock: for measuring how long work took.
public enum MonotonicTime {
    public static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    public static func millisSince(_ start: Int64) -> Double {
        Double(now() - start) / 1_000_000
    }
}

/// Wall-clock milliseconds since the epoch: what batch times are aligned to.
public enum WallClock {
    public static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// Starts a named OS thread. Receivers and timers each own one, so a slow
/// producer or a blocking read never holds up the engine thread.
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        let name: String
        init(_ body: @escaping @Sendable () -> Void, _ name: String) { self.body = body; self.name = name }
    }
    let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setstacksize(&attr, 1 << 20)
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attr, { raw in
        guard let raw else { return nil }
        let box = Unmanaged<AnyObject>.fromOpaque(raw).takeRetainedValue()
        guard let work = box as? Box else { return nil }
        work.body()
        return nil
    }, box)
    pthread_attr_destroy(&attr)
    if rc == 0 {
        pthread_detach(thread)
    } else {
        // No thread: run inline rather than lose the work.
        let orphan = Unmanaged<AnyObject>.fromOpaque(box).takeRetainedValue()
        (orphan as? Box)?.body()
    }
}
