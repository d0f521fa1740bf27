import EddyCore

/// A piece of SQL from the job file, with where it starts, so that an error
/// SQLite reports at an offset inside it maps back to `file:line:col`.
public struct SQLFragment: Sendable, Equatable {
    public var text: String
    /// Byte offset of `text` in the job file.
    public var offset: Int

    public init(text: String, offset: Int) {
        self.text = text
        self.offset = offset
    }
}

/// A name with the place it was written.
public struct Name: Sendable, Equatable, CustomStringConvertible {
    public var value: String
    public var location: SourceLocation
    public var key: String { value.lowercased() }
    public var description: String { value }
}

/// One `key = value` in a `WITH (...)` list.
public struct WithOption: Sendable, Equatable {
    public var key: String
    public var value: String
    public var keyLocation: SourceLocation
    public var valueLocation: SourceLocation
}

/// `CREATE SOURCE name (columns) WITH (options)`.
public struct SourceStatement: Sendable, Equatable {
    public var name: Name
    public var columns: [(name: String, type: String)]
    public var options: [WithOption]
    public var withLocation: SourceLocation

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.options == b.options && a.columns.map { $0.name + " " + $0.type } == b.columns.map { $0.name + " " + $0.type }
    }
}

/// `CREATE STREAM name AS SELECT ...`: recomputed for every batch.
public struct StreamStatement: Sendable, Equatable {
    public var name: Name
    public var query: SQLFragment
}

/// `CREATE WINDOW name ON parent RANGE 'L' SLIDE 'S'`.
public struct WindowStatement: Sendable, Equatable {
    public var name: Name
    public var parent: Name
    public var range: String
    public var rangeLocation: SourceLocation
    /// nil: slide by one batch (or by the parent's slide).
    public var slide: String?
    public var slideLocation: SourceLocation?
}

/// `CREATE STATE TABLE name (...) [INITIAL AS SELECT ...]`.
public struct StateTableStatement: Sendable, Equatable {
    public var name: Name
    /// Everything after the name up to `INITIAL`: the column list and table
    /// options, as SQLite's CREATE TABLE takes them.
    public var definition: SQLFragment
    public var initial: SQLFragment?
}

/// `CREATE SINK name WITH (options)`.
public struct SinkStatement: Sendable, Equatable {
    public var name: Name
    public var options: [WithOption]
    public var withLocation: SourceLocation
}

/// A statement eddy passes to SQLite.
public struct SQLStatement: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        /// Schema and settings: once at every start, before the first batch.
        case start
        /// Queries and DML: once per batch, in file order.
        case perBatch
    }

    public var sql: SQLFragment
    public var phase: Phase
    /// The leading keyword, uppercased (`SELECT`, `INSERT`, `CREATE`, ...).
    public var keyword: String
    /// For `INSERT INTO x ...`: the target, and where its rows' query starts
    /// (for sinks, whose columns come from that query).
    public var insertTarget: InsertTarget?
}

public struct InsertTarget: Sendable, Equatable {
    public var name: Name
    /// The statement with `INSERT INTO name [(cols)]` cut out: the bare query
    /// whose columns the rows have.
    public var query: SQLFragment
    /// Column names listed after the target, if any.
    public var columns: [String]?
    /// The statement cut around its rows, when they come from a SELECT.
    public var split: InsertSplit?
}

/// An `INSERT ... SELECT` in three parts, so that the query making the rows
/// can run apart from the write (the planner runs a state table's batch
/// aggregation on the lanes this way: see RowsOnLanes.swift).
public struct InsertSplit: Sendable, Equatable {
    /// From the verb through the column list: `INSERT INTO t (a, b)`.
    public var verb: String
    /// The query alone, with the statement's WITH clause in front.
    public var rows: SQLFragment
    /// What follows the query: `ON CONFLICT ...`, `RETURNING ...`, or "".
    public var tail: String
}

public struct JobStatement: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case set(key: Name, value: String, valueLocation: SourceLocation)
        case source(SourceStatement)
        case stream(StreamStatement)
        case window(WindowStatement)
        case stateTable(StateTableStatement)
        case sink(SinkStatement)
        case sql(SQLStatement)
    }

    public var kind: Kind
    /// The whole statement, without its `;`.
    public var text: SQLFragment
    public var location: SourceLocation
    /// 1-based position in the file, for the plan and messages.
    public var index: Int
}

/// A parsed job file: its statements in file order.
public struct Job: Sendable {
    public var path: String
    public var text: String
    public var statements: [JobStatement]
    public let lines: LineMap

    public func location(_ offset: Int) -> SourceLocation { lines.location(offset) }
}
