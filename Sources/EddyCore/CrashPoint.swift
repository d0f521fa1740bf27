import Glibc

/// Places on the commit path where the kill -9 tests make eddy kill itself
/// with SIGKILL, so that a crash lands exactly there rather than wherever a
/// timer happens to fire: between a batch's allocation and its commit, in
/// the middle of a batch, just after a commit, during recovery.
///
/// Off unless `EDDY_CRASH_AT=POINT[:N]` is set (kill at the Nth time the
/// point is reached in this process, default 1). Nothing a user runs sets it;
/// it costs one load of a constant per point reached.
public enum CrashPoint: String, Sendable, CaseIterable {
    /// A batch's allocation is recorded in the checkpoint; nothing of it ran.
    case allocated
    /// A batch is loaded and its statements ran; its transaction is not committed.
    case inBatch = "in-batch"
    /// A batch committed; sinks that deliver after the commit (stdout, acks) have not.
    case committed
    /// Recovery rebuilt the windows and is about to re-run the batch in flight.
    case recovery
    /// A sealed block is in the write-ahead log; it is not acknowledged yet.
    case logged

    private static let armed: (point: CrashPoint, hit: Int)? = {
        guard let raw = getenv("EDDY_CRASH_AT") else { return nil }
        let parts = String(cString: raw).split(separator: ":")
        guard let first = parts.first, let point = CrashPoint(rawValue: String(first)) else { return nil }
        let hit = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
        return (point, max(1, hit))
    }()

    private static let hits = Counter()

    /// Kills the process here when this point is armed and its turn has come.
    @inline(__always)
    public func reached() {
        guard let armed = Self.armed, armed.point == self else { return }
        if Self.hits.increment() == armed.hit {
            StandardError.write("eddy: EDDY_CRASH_AT=\(rawValue):\(armed.hit): killing myself with SIGKILL\n")
            raise(SIGKILL)
        }
    }

    private final class Counter: @unchecked Sendable {
        private let lock = ConditionLock(0)
        func increment() -> Int { lock.withLock { $0 += 1; return $0 } }
    }
}
