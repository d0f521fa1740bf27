import EddyCore

/// Knows every running receiver (Spark's ReceiverTracker): the engine asks it
/// for the generators to cut at each batch boundary, and stops and joins the
/// receiver threads at shutdown. Receivers can appear while the job runs
/// (a `listen` source gets one per connection).
public final class ReceiverTracker: Sendable {
    private struct State: Sendable {
        var generators: [BlockGenerator] = []
        var limiters: [Int: [RateLimiter]] = [:]
        /// Each receiver's generator, limiter and status, in the order they registered.
        var receivers: [(generator: BlockGenerator, limiter: RateLimiter, status: ReceiverStatus)] = []
        var running = 0
    }

    private let state = ConditionLock(State())
    /// Fires when receivers must stop reading.
    public let stop = StopSignal()

    public init() {}

    public func register(_ generator: BlockGenerator, limiter: RateLimiter, status: ReceiverStatus) {
        state.withLock {
            $0.generators.append(generator)
            $0.limiters[generator.source, default: []].append(limiter)
            $0.receivers.append((generator, limiter, status))
        }
    }

    /// Every receiver's figures now, for the monitor. The tracker's lock is
    /// held only to copy the list; each receiver's figures are then read
    /// under its own short locks, so a receiver waits at most for one copy.
    public func snapshot() -> [ReceiverSnapshot] {
        let receivers = state.withLock { $0.receivers }
        let stopping = stop.isRequested
        return receivers.map { r in
            let status = r.status.snapshot
            return ReceiverSnapshot(source: r.generator.source, shard: r.generator.shard, phase: status.phase,
                                    stopping: stopping, lastError: status.lastError, lastErrorAtMs: status.lastErrorAtMs,
                                    received: r.generator.received, rateLimit: r.limiter.rate)
        }
    }

    public var generators: [BlockGenerator] { state.withLock { $0.generators } }

    public func generators(source: Int) -> [BlockGenerator] {
        state.withLock { $0.generators.filter { $0.source == source } }
    }

    public func limiters(source: Int) -> [RateLimiter] { state.withLock { $0.limiters[source] ?? [] } }

    /// Runs `body` on a new thread, counted until it returns.
    public func launch(name: String, _ body: @escaping @Sendable () -> Void) throws(ThreadStartError) {
        state.withLock { $0.running += 1 }
        do {
            try startThread(name: name) { [self] in
                body()
                self.state.update { $0.running -= 1 }
            }
        } catch {
            state.update { $0.running -= 1 }
            throw error
        }
    }

    public var runningCount: Int { state.withLock { $0.running } }

    /// Asks every receiver to stop and waits up to `timeoutMs` for them to exit.
    @discardableResult
    public func stopAll(timeoutMs: Int64 = 5000) -> Bool {
        stop.request()
        return state.wait(until: { $0.running == 0 }, timeoutMs: timeoutMs, then: { _ in true }) ?? false
    }
}
