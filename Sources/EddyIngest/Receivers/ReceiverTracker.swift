import EddyCore

/// Knows every running receiver (Spark's ReceiverTracker): the engine asks it
/// for the generators to cut at each batch boundary, and stops and joins the
/// receiver threads at shutdown. Receivers can appear while the job runs
/// (a `listen` source gets one per connection).
public final class ReceiverTracker: Sendable {
    private struct State: Sendable {
        var generators: [BlockGenerator] = []
        var limiters: [Int: [RateLimiter]] = [:]
        var running = 0
    }

    private let state = ConditionLock(State())
    /// Fires when receivers must stop reading.
    public let stop = StopSignal()

    public init() {}

    public func register(_ generator: BlockGenerator, limiter: RateLimiter) {
        state.withLock {
            $0.generators.append(generator)
            $0.limiters[generator.source, default: []].append(limiter)
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
