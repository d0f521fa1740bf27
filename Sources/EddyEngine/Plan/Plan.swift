import EddyCore
import EddyIngest
import EddyJob
import EddySQL
import EddySinks

/// Something a statement can read that changes with every batch, and how
/// often it does: a source and a plain stream every batch, a window every
/// slide, a stream over a window at the window's slide.
public enum RelationKind: Sendable, Equatable {
    case source(Int)
    case stream(Int)
    case window(Int)
    case stateTable(Int)
    case sink(Int)
}

public struct PlannedSource: Sendable {
    public var index: Int
    public var name: String
    public var config: SourceConfig
    public var location: SourceLocation
}

public struct PlannedStream: Sendable {
    public var index: Int
    public var name: String
    public var query: SQLFragment
    public var location: SourceLocation
    /// Lowercased relation names the query reads.
    public var reads: Set<String>
    /// Everything its query reads, as SQLite's authorizer reported it.
    public var access: TableAccess
    /// Emits every `slide` ms (a multiple of batch_interval).
    public var slide: Int64
    /// The one step that reads it, when the stream is not materialized but
    /// a view that step's query reads through (see Inlining.swift).
    public var inlinedInto: Int?
    /// Made by eddy from the rows of this statement (by index), so that they
    /// are made on the lane (see RowsOnLanes.swift); nil for the job's own.
    public var rowsOf: Int? = nil
    /// Its query's groups are counted in a hash table (see HashCounting.swift).
    public var hashCounted = false
}

public struct PlannedWindow: Sendable {
    public var index: Int
    public var name: String
    public var parent: String
    public var range: Int64
    public var slide: Int64
    /// The parent's slide: the window takes one parent emission per parent slide.
    public var parentSlide: Int64
    public var location: SourceLocation
}

public struct PlannedStateTable: Sendable {
    public var index: Int
    public var name: String
    /// `CREATE TABLE` text, for creating it.
    public var createSQL: String
    /// The column list and table options as written, for comparing schemas across restarts.
    public var definition: String
    public var initial: SQLFragment?
    public var location: SourceLocation
}

public struct PlannedSink: Sendable {
    public var index: Int
    public var name: String
    /// The options as written, for the plan printout and job comparison.
    public var options: [String: String]
    /// The options parsed once, at planning: a sink the planner accepted is
    /// the sink that runs (a bad one is a job error at `eddy check`).
    public var config: SinkConfig
    public var location: SourceLocation
    /// Columns of the collector table, from the first statement that writes to it.
    public var columns: [String]
}

/// A per-batch statement of the job.
public struct PlannedStatement: Sendable {
    public var index: Int
    public var sql: SQLFragment
    public var location: SourceLocation
    public var access: TableAccess
    /// Runs when `(T - zero) % slide == 0`.
    public var slide: Int64
    /// Rows go to stdout (a SELECT, or DML with RETURNING).
    public var isOutput: Bool
    /// Windows it reads, for window_start() / window_end() and the plan.
    public var windows: [Int]
    /// The sink it inserts into, if any.
    public var sink: Int?
    /// The stream eddy made of its rows (see RowsOnLanes.swift): `sql` is
    /// the statement as written, and what runs reads its rows from there.
    public var rowsFrom: Int? = nil
    /// Its query's groups are counted in a hash table (see HashCounting.swift).
    public var hashCounted = false
}

/// The per-batch work, in file order.
public enum BatchStep: Sendable, Equatable {
    case stream(Int)
    case window(Int)
    case statement(Int)
}

/// Where a per-batch step runs (see Placement.swift).
public enum StepPlacement: Sendable, Equatable {
    /// On the batch's own lane, while other lanes work on other batches: it
    /// depends only on its own batch's rows and on tables no batch changes.
    case lane
    /// In batch order, after the previous batch's in-order steps, for this
    /// reason ("reads state table totals").
    case ordered(String)

    public var isLane: Bool { self == .lane }
}

/// A start-up statement as it ran, for the plan printout.
public struct StartStatement: Sendable {
    public var sql: SQLFragment
    public var location: SourceLocation
    /// How `eddy check` ran it, when not as written (an ATTACH's stand-in).
    public var note: String?
    /// It makes or changes objects of its own connection only (ATTACH,
    /// PRAGMA, tables in main or temp), so every lane runs it; otherwise it
    /// changed a shared file, and only the first lane does.
    public var everyLane = true
}

/// A trigger the job created: its code runs inside whatever statement writes
/// its table, eddy's own included, so failures there are reported at it.
public struct PlannedTrigger: Sendable {
    public var name: String
    public var location: SourceLocation
}

/// Everything `eddy check` prints and `eddy run` runs.
public struct Plan: Sendable {
    public var jobPath: String
    public var jobText: String
    public var settings: Settings
    public var sources: [PlannedSource] = []
    public var streams: [PlannedStream] = []
    public var windows: [PlannedWindow] = []
    public var stateTables: [PlannedStateTable] = []
    public var sinks: [PlannedSink] = []
    public var statements: [PlannedStatement] = []
    public var startStatements: [StartStatement] = []
    public var steps: [BatchStep] = []
    /// Where each of `steps` runs, by the same index.
    public var placements: [StepPlacement] = []
    /// Why the job runs on one lane whatever `parallelism` says; nil when it
    /// may use several.
    public var singleLaneReason: String?
    /// Lowercased name → what it is.
    public var relations: [String: RelationKind] = [:]
    /// The job's triggers by the (lowercased) table they are on.
    public var triggers: [String: [PlannedTrigger]] = [:]

    /// How often a relation changes: batch_interval for sources and streams
    /// over them, the slide for windows. nil for tables that are not streams.
    /// How many lanes the job runs on.
    public var lanes: Int { singleLaneReason == nil ? settings.parallelism : 1 }

    public func slide(of name: String) -> Int64? {
        switch relations[name] {
        case .source: return settings.batchInterval
        case .stream(let i): return streams[i].slide
        case .window(let i): return windows[i].slide
        default: return nil
        }
    }
}

func gcd(_ a: Int64, _ b: Int64) -> Int64 { b == 0 ? a : gcd(b, a % b) }
func lcm(_ a: Int64, _ b: Int64) -> Int64 { a / gcd(a, b) * b }
