/// What eddy's SQL functions report: set by the engine before it runs each
/// statement. Lives on the engine thread with its connection.
public final class SQLContext {
    public var batchTime: Int64 = 0
    public var batchID: Int64 = 0
    /// Set only while a statement that reads a window runs.
    public var window: (start: Int64, end: Int64)?

    public init() {}
}
