import CSQLite
import EddyCore

/// Why SQLite cut a statement short.
public enum Interruption: Sendable, Equatable {
    /// The job's `statement_timeout` (ms) passed while the statement ran.
    case statementTimeout(Int64)
    /// A stop asked for it: a stop request during start-up, or `stop_timeout`
    /// passing during a batch.
    case stopRequested

    public var message: String {
        switch self {
        case .statementTimeout(let ms):
            return "statement_timeout (\(Units.formatDuration(ms))) passed: the statement was interrupted"
        case .stopRequested:
            return "interrupted by a stop request"
        }
    }
}

/// Cuts the statement running on a connection short, through SQLite's
/// progress handler: SQLite calls it every `checkEvery` virtual-machine
/// instructions, and a non-zero answer interrupts the statement (SQLite then
/// rolls the statement back). A recursive CTE that never ends still executes
/// instructions, so it is caught too.
///
/// Owned by the connection's thread; `stop` is the only part other threads
/// touch, and it is Sendable.
final class StatementWatch {
    /// About 20-100 µs of work between checks: cheap, and still prompt.
    static let checkEvery: Int32 = 10_000

    /// The job's statement_timeout in ms; 0 = none.
    var timeoutMs: Int64 = 0
    /// When the running job statement must end (monotonic ns); 0 = none armed.
    var deadline: Int64 = 0
    /// A request on this signal interrupts whatever statement runs.
    var stop: StopSignal?
    /// Why the last statement was interrupted, until the error is reported.
    var interruption: Interruption?

    func shouldInterrupt() -> Bool {
        if let stop, stop.isRequested {
            interruption = .stopRequested
            return true
        }
        if deadline != 0 && MonotonicTime.now() > deadline {
            interruption = .statementTimeout(timeoutMs)
            return true
        }
        return false
    }
}

let progressCallback: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { raw in
    guard let raw else { return 0 }
    return Unmanaged<StatementWatch>.fromOpaque(raw).takeUnretainedValue().shouldInterrupt() ? 1 : 0
}
