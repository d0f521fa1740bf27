import EddyCore

/// What a receiver is doing and the last thing that went wrong with it, for
/// the monitor's receivers table. The receiver's own thread sets it at each
/// change (a connection made or lost, a retry, the end of its input); the
/// monitor reads it. Nothing else depends on it.
public final class ReceiverStatus: Sendable {
    public enum Phase: String, Sendable {
        /// Not connected yet (a `socket` source's first attempt).
        case connecting
        case receiving
        /// Waiting to try again after an error (reconnect, throttling, backoff).
        case retrying
        /// Its input ended: stdin at EOF, a producer that hung up, a Kinesis shard read to its end.
        case finished
        /// It gave up for good; the run stops with its error.
        case failed
    }

    public struct Snapshot: Sendable, Equatable {
        public var phase: Phase
        public var lastError: String?
        /// Wall-clock ms of `lastError`.
        public var lastErrorAtMs: Int64?
    }

    private let state: ConditionLock<Snapshot>

    public init(_ phase: Phase = .receiving) {
        state = ConditionLock(Snapshot(phase: phase))
    }

    public func set(_ phase: Phase) { state.withLock { $0.phase = phase } }

    /// Records an error and the phase it leaves the receiver in.
    public func error(_ message: String, phase: Phase = .retrying) {
        let now = WallClock.nowMs()
        state.withLock {
            $0.phase = phase
            $0.lastError = message
            $0.lastErrorAtMs = now
        }
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
}

/// One receiver's figures at a moment, for the monitor.
public struct ReceiverSnapshot: Sendable {
    public var source: Int
    public var shard: String
    public var phase: ReceiverStatus.Phase
    /// The tracker was asked to stop: a receiver that has not finished is stopping.
    public var stopping: Bool
    public var lastError: String?
    public var lastErrorAtMs: Int64?
    public var received: BlockGenerator.Received
    /// Records/s it may take; 0 = no limit.
    public var rateLimit: Double
}
