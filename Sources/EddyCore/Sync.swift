import Glibc

/// A mutex with a condition variable, for the few places where a thread must
/// sleep until another thread changes something: a paused receiver waiting
/// for budget, the scheduler waiting for the next batch or a stop request.
///
/// pthreads needs the mutex and the condition at addresses that never move,
/// and Swift promises no fixed address for a stored property; so both live in
/// memory this lock allocates itself and frees in `deinit` (as swift-nio's
/// `NIOLock` keeps its storage in a `ManagedBuffer`). Every pthread call's
/// return code is checked: a failure means the lock is broken, and going on
/// would race, so it stops the process.
///
/// Everything guarded by it is only touched inside `withLock`, which is what
/// makes the `@unchecked Sendable` sound.
///
/// The state lives in memory of its own too, not in a stored property: a
/// stored property of an empty type (`ConditionLock(())`, a plain mutex) sits
/// at the object's first address, so ThreadSanitizer took each `&state` access
/// for a write to the object header that other threads read unlocked, and
/// reported a race (scripts/sanitize.sh thread, BlockGenerator's seal lock).
public final class ConditionLock<State>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private let state: UnsafeMutablePointer<State>

    public init(_ state: State) {
        self.state = .allocate(capacity: 1)
        self.state.initialize(to: state)
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var mutexAttr = pthread_mutexattr_t()
        check(pthread_mutexattr_init(&mutexAttr), "pthread_mutexattr_init")
        // An error-checking mutex: relocking or unlocking from the wrong
        // thread is reported (and stops eddy) instead of deadlocking silently.
        check(pthread_mutexattr_settype(&mutexAttr, Int32(PTHREAD_MUTEX_ERRORCHECK)), "pthread_mutexattr_settype")
        check(pthread_mutex_init(mutex, &mutexAttr), "pthread_mutex_init")
        check(pthread_mutexattr_destroy(&mutexAttr), "pthread_mutexattr_destroy")
        var condAttr = pthread_condattr_t()
        check(pthread_condattr_init(&condAttr), "pthread_condattr_init")
        #if os(Linux)
        // Deadlines are measured on the monotonic clock, so a wall-clock jump
        // cannot make a waiting thread oversleep or spin.
        check(pthread_condattr_setclock(&condAttr, CLOCK_MONOTONIC), "pthread_condattr_setclock")
        #endif
        check(pthread_cond_init(cond, &condAttr), "pthread_cond_init")
        check(pthread_condattr_destroy(&condAttr), "pthread_condattr_destroy")
    }

    deinit {
        check(pthread_cond_destroy(cond), "pthread_cond_destroy")
        check(pthread_mutex_destroy(mutex), "pthread_mutex_destroy")
        cond.deinitialize(count: 1)
        cond.deallocate()
        mutex.deinitialize(count: 1)
        mutex.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    private func lock() { check(pthread_mutex_lock(mutex), "pthread_mutex_lock") }
    private func unlock() { check(pthread_mutex_unlock(mutex), "pthread_mutex_unlock") }

    @discardableResult
    public func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body(&state.pointee)
    }

    /// Changes the state and wakes every waiter.
    @discardableResult
    public func update<R>(_ body: (inout State) throws -> R) rethrows -> R {
        lock()
        defer {
            check(pthread_cond_broadcast(cond), "pthread_cond_broadcast")
            unlock()
        }
        return try body(&state.pointee)
    }

    /// Waits until `ready` holds or `timeoutMs` passes, then runs `body` under
    /// the lock. Returns nil on timeout.
    public func wait<R>(until ready: (State) -> Bool, timeoutMs: Int64? = nil,
                        then body: (inout State) throws -> R) rethrows -> R? {
        lock()
        defer { unlock() }
        if let timeoutMs {
            let deadline = MonotonicTime.now() + max(0, timeoutMs) * 1_000_000
            while !ready(state.pointee) {
                let remaining = deadline - MonotonicTime.now()
                if remaining <= 0 { return nil }
                var ts = timespec()
                clock_gettime(CLOCK_MONOTONIC, &ts)
                let target = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) + remaining
                ts.tv_sec = Int(target / 1_000_000_000)
                ts.tv_nsec = Int(target % 1_000_000_000)
                let rc = pthread_cond_timedwait(cond, mutex, &ts)
                if rc != ETIMEDOUT { check(rc, "pthread_cond_timedwait") }
            }
        } else {
            while !ready(state.pointee) { check(pthread_cond_wait(cond, mutex), "pthread_cond_wait") }
        }
        return try body(&state.pointee)
    }
}

/// A pthread call failed: the lock or thread is unusable, and carrying on
/// could corrupt what it guards. Stops the process with the call's name.
@inline(__always)
func check(_ rc: Int32, _ call: StaticString) {
    if rc != 0 { fatalError("\(call) failed: \(String(cString: strerror(rc))) (\(rc))") }
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

/// A thread could not be started (the process is out of threads or memory).
public struct ThreadStartError: EddyError {
    public var name: String
    public var code: Int32
    public var exitStatus: ExitStatus { .runtime }
    public var description: String { "cannot start thread \(name): \(String(cString: strerror(code)))" }
}

/// Starts a named OS thread. Receivers and timers each own one, so a slow
/// producer or a blocking read never holds up the engine thread. When no
/// thread can be made, it throws: running `body` inline instead would block
/// the caller on work meant to run beside it.
public func startThread(name: String, stackSize: Int = 1 << 20,
                        _ body: @escaping @Sendable () -> Void) throws(ThreadStartError) {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        let name: String
        init(_ body: @escaping @Sendable () -> Void, _ name: String) { self.body = body; self.name = name }
    }
    var attr = pthread_attr_t()
    check(pthread_attr_init(&attr), "pthread_attr_init")
    defer { check(pthread_attr_destroy(&attr), "pthread_attr_destroy") }
    let sized = pthread_attr_setstacksize(&attr, stackSize)
    guard sized == 0 else { throw ThreadStartError(name: name, code: sized) }
    let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attr, { raw in
        guard let raw else { return nil }
        let box = Unmanaged<AnyObject>.fromOpaque(raw).takeRetainedValue()
        guard let work = box as? Box else { return nil }
        work.body()
        return nil
    }, box)
    guard rc == 0 else {
        Unmanaged<AnyObject>.fromOpaque(box).release()
        throw ThreadStartError(name: name, code: rc)
    }
    check(pthread_detach(thread), "pthread_detach")
}
