/// How a source's bytes become records.
public enum RecordFormat: String, Sendable, CaseIterable {
    /// One TEXT column per line.
    case lines
    /// RFC 4180: comma-separated, `"` quoting with `""` escapes, quoted newlines.
    case csv
    /// Tab-separated, no quoting.
    case tsv
    /// One JSON object per line; declared columns are taken from its fields
    /// and the whole line is kept in `_raw`.
    case jsonl
}

/// A declared column of a source: `(name TYPE)`.
public struct ColumnSpec: Sendable, Equatable {
    public var name: String
    /// The declared SQLite type (`TEXT`, `INTEGER`, ...), or empty for none.
    public var type: String

    public init(name: String, type: String) {
        self.name = name
        self.type = type
    }
}

/// What a receiver needs to know to turn bytes into block records.
public struct SourceSchema: Sendable, Equatable {
    public var columns: [ColumnSpec]
    public var format: RecordFormat
    /// csv/tsv: the first record of every file or connection is a header and is skipped.
    public var header: Bool

    public init(columns: [ColumnSpec], format: RecordFormat, header: Bool = false) {
        self.columns = columns
        self.format = format
        self.header = header
    }

    /// Whether records carry the whole input line in `_raw`.
    public var hasRaw: Bool { format == .jsonl }

    /// Values per encoded record.
    public var valueCount: Int { columns.count + (hasRaw ? 1 : 0) }

    /// Every column of the source's table, eddy's own columns included.
    public var tableColumns: [ColumnSpec] {
        var all = columns
        if hasRaw { all.append(ColumnSpec(name: "_raw", type: "TEXT")) }
        all.append(ColumnSpec(name: "_shard", type: "TEXT"))
        all.append(ColumnSpec(name: "_seq", type: "INTEGER"))
        all.append(ColumnSpec(name: "_arrival_ms", type: "INTEGER"))
        return all
    }

    /// Records longer than this are refused as malformed, so one runaway line
    /// cannot take all memory. Well above the 10 MB lines users do send.
    public static let maxRecordBytes = 64 << 20
}
