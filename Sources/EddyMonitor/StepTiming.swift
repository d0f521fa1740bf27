/// One step of a batch and what it cost: the view that tells a user which
/// statement to fix. Steps are timed where they run (on the batch's lane or
/// in batch order on the tail), so the figures hold whatever the lanes do.
public struct StepTiming: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Binding a source's blocks into its table (reading spilled blocks back and LZ4 included).
        case load
        case stream
        /// Adding the parent's rows to a window and dropping those that left it.
        case window
        /// A per-batch statement of the job: a query, a state update, an insert into a sink.
        case statement
        /// Handing a sink its rows.
        case sink
        /// The checkpoint's record of the batch and the transaction's commit.
        case commit
    }

    public var kind: Kind
    /// What it is, as a user reads it: "stream words", "sink top", "load lines",
    /// "statement" for a statement (its text says which).
    public var name: String
    /// The source, stream, window or sink it works on; empty for statements and the commit.
    public var subject: String
    /// `file:line:col` of its definition in the job; empty for the commit.
    public var location: String
    /// The statement's text on one line, shortened.
    public var text: String
    /// Ran on the batch's lane, at the same time as other batches; else in batch order.
    public var onLane: Bool
    /// Its place in the batch's work (sources' loads, then the job's steps in
    /// file order, then sinks, then the commit). The same step has the same
    /// place in every batch: it is the step's identity across batches.
    public var order: Int
    public var nanos: Int64 = 0
    /// Rows it read from this batch's sources, streams and windows, where
    /// eddy knows them (state tables and lookup tables are not counted).
    public var rowsIn: Int64?
    /// Rows it wrote or printed (`sqlite3_changes`, or rows output).
    public var rowsOut: Int64?

    public init(kind: Kind, name: String, subject: String = "", location: String = "", text: String = "",
                onLane: Bool, order: Int) {
        self.kind = kind
        self.name = name
        self.subject = subject
        self.location = location
        self.text = text
        self.onLane = onLane
        self.order = order
    }

    public var milliseconds: Double { Double(nanos) / 1_000_000 }

    /// "stream words [job.sql:4:1]", "[job.sql:7:1] SELECT word, count(*) …".
    public var label: String {
        switch kind {
        case .statement: return "[\(location)] \(text)"
        case .commit: return name
        default: return location.isEmpty ? name : "\(name) [\(location)]"
        }
    }
}
