import CSQLite
import EddySQL

/// Rows of bare SELECTs and RETURNING clauses, printed to stdout in the
/// chosen format. At-least-once: after a crash, a re-run batch prints again.
public final class StdoutSink {
    public let format: OutputFormat
    public let writer: OutputWriter
    private var batchHeaderDone = false
    private var batchTime: Int64 = 0
    private var outputsInBatch = 0

    public init(format: OutputFormat, writer: OutputWriter) {
        self.format = format
        self.writer = writer
    }

    public func beginBatch(time: Int64) {
        batchTime = time
        batchHeaderDone = false
        outputsInBatch = 0
    }

    /// Steps `statement` to its end, printing every row. Returns the row count.
    /// A statement that ran prints, in table format, even with no rows: the
    /// batch header says it ran, as Spark's pprint does for empty batches.
    @discardableResult
    public func emit(_ statement: Statement) throws -> Int {
        let output = try Self.render(statement, format: format)
        try write(output)
        return output.rows
    }

    /// Steps `statement` to its end and keeps its rows, formatted, without
    /// printing them: a lane renders a batch's output while another batch
    /// prints, and the ordered tail `write`s it in batch order. Touches
    /// nothing shared, so any lane may call it.
    public static func render(_ statement: Statement, format: OutputFormat) throws -> RenderedOutput {
        let columns = statement.columnCount
        var rows = 0
        switch format {
        case .table:
            var table: [[String]] = []
            var numeric: [Bool] = Array(repeating: true, count: columns)
            while try statement.step() {
                var row: [String] = []
                row.reserveCapacity(columns)
                for i in 0..<columns {
                    let t = statement.type(i)
                    if t == SQLITE_NULL {
                        row.append("NULL")
                    } else {
                        if t != SQLITE_INTEGER && t != SQLITE_FLOAT { numeric[i] = false }
                        row.append(String(decoding: statement.textBytes(i), as: UTF8.self))
                    }
                }
                table.append(row)
            }
            statement.reset()
            return RenderedOutput(rows: table.count, body: .table(names: statement.columnNames, rows: table, numeric: numeric))
        case .csv, .tsv, .jsonl:
            let writer = OutputWriter.memory()
            let names = format == .jsonl ? statement.columnNames.map { Array($0.utf8) } : []
            while try statement.step() {
                switch format {
                case .csv: try RowEncoder.csv(statement, columns: columns, to: writer)
                case .tsv: try RowEncoder.tsv(statement, columns: columns, to: writer)
                default: try RowEncoder.jsonl(statement, names: names, to: writer)
                }
                rows += 1
            }
            statement.reset()
            return RenderedOutput(rows: rows, body: .bytes(writer.take()))
        }
    }

    /// Prints an output rendered by `render`.
    public func write(_ output: RenderedOutput) throws(OutputClosed) {
        switch output.body {
        case .table(let names, let rows, let numeric):
            try writeTable(names: names, rows: rows, numeric: numeric)
        case .bytes(let bytes):
            try bytes.withUnsafeBufferPointer { (p: UnsafeBufferPointer<UInt8>) throws(OutputClosed) in try writer.write(p) }
        }
    }

    private func writeTable(names: [String], rows: [[String]], numeric: [Bool]) throws(OutputClosed) {
        if !batchHeaderDone {
            try writer.write("--- batch \(batchTime) ---\n")
            batchHeaderDone = true
        } else {
            try writer.endLine()
        }
        outputsInBatch += 1
        var widths = names.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where cell.count > widths[i] { widths[i] = cell.count }
        }
        func pad(_ s: String, _ width: Int, right: Bool) -> String {
            let gap = String(repeating: " ", count: max(0, width - s.count))
            return right ? gap + s : s + gap
        }
        func line(_ cells: [String], alignNumbers: Bool) -> String {
            var parts: [String] = []
            for (i, c) in cells.enumerated() {
                let last = i == cells.count - 1
                let right = alignNumbers && numeric[i] && !rows.isEmpty
                parts.append(last && !right ? c : pad(c, widths[i], right: right))
            }
            return parts.joined(separator: "  ")
        }
        try writer.write(line(names, alignNumbers: true) + "\n")
        try writer.write(widths.map { String(repeating: "-", count: max(1, $0)) }.joined(separator: "  ") + "\n")
        if rows.isEmpty {
            try writer.write("(no rows)\n")
        }
        for row in rows { try writer.write(line(row, alignNumbers: true) + "\n") }
    }

    public func endBatch() throws(OutputClosed) {
        try writer.flush()
    }
}

/// A statement's rows, formatted for stdout but not printed yet.
public struct RenderedOutput: Sendable {
    public enum Body: Sendable {
        /// Table format: the column widths depend on every row, so cells are kept.
        case table(names: [String], rows: [[String]], numeric: [Bool])
        /// csv, tsv, jsonl: the bytes as they will be printed.
        case bytes([UInt8])
    }

    public var rows: Int
    public var body: Body
}
