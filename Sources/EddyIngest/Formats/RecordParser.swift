import EddyBlocks

/// What became of one framed record.
public enum ParseOutcome: Sendable, Equatable {
    case added
    /// Not data: an empty line in csv/tsv/jsonl, or a header row.
    case skipped
    case malformed(String)
}

/// Parses framed records in a source's format straight into a block builder,
/// on the receiver's thread.
public struct RecordParser: Sendable {
    public let schema: SourceSchema
    private var json: JSONRecordParser
    private var scratch: [UInt8] = []
    /// For `header = on`: the next record is a header to skip.
    public var expectHeader: Bool

    public init(schema: SourceSchema) {
        self.schema = schema
        self.json = JSONRecordParser(columns: schema.columns.map(\.name))
        self.expectHeader = schema.header
    }

    public mutating func parse(_ record: UnsafeRawBufferPointer, arrival: Int64,
                               into builder: inout BlockBuilder) -> ParseOutcome {
        switch schema.format {
        case .lines:
            _ = builder.beginRecord(arrival: arrival)
            builder.appendText(record)
            builder.endRecord()
            return .added
        case .tsv:
            if record.isEmpty { return .skipped }
            if expectHeader { expectHeader = false; return .skipped }
            return parseTSV(record, arrival: arrival, into: &builder)
        case .csv:
            if record.isEmpty { return .skipped }
            if expectHeader { expectHeader = false; return .skipped }
            return CSV.parse(record, columns: schema.columns.count, arrival: arrival,
                             scratch: &scratch, into: &builder)
        case .jsonl:
            if isBlank(record) { return .skipped }
            return json.parse(record, arrival: arrival, into: &builder)
        }
    }

    private func isBlank(_ record: UnsafeRawBufferPointer) -> Bool {
        for b in record where b != UInt8(ascii: " ") && b != UInt8(ascii: "\t") { return false }
        return true
    }

    /// Tab-separated fields, no quoting. An empty field or `\N` is NULL.
    private func parseTSV(_ record: UnsafeRawBufferPointer, arrival: Int64,
                          into builder: inout BlockBuilder) -> ParseOutcome {
        let expected = schema.columns.count
        var fields = 1
        for b in record where b == UInt8(ascii: "\t") { fields += 1 }
        guard fields == expected else {
            return .malformed("expected \(expected) tab-separated field\(expected == 1 ? "" : "s"), found \(fields)")
        }
        _ = builder.beginRecord(arrival: arrival)
        var start = 0
        for i in 0...record.count {
            if i == record.count || record[i] == UInt8(ascii: "\t") {
                let field = UnsafeRawBufferPointer(rebasing: record[start..<i])
                if field.isEmpty || (field.count == 2 && field[0] == UInt8(ascii: "\\") && field[1] == UInt8(ascii: "N")) {
                    builder.appendNull()
                } else {
                    builder.appendText(field)
                }
                start = i + 1
            }
        }
        builder.endRecord()
        return .added
    }
}

/// RFC 4180 records: fields separated by commas, optionally in double quotes,
/// with `""` standing for a quote inside a quoted field.
enum CSV {
    /// An unquoted empty field is NULL; a quoted empty field (`""`) is ''.
    static func parse(_ record: UnsafeRawBufferPointer, columns: Int, arrival: Int64,
                      scratch: inout [UInt8], into builder: inout BlockBuilder) -> ParseOutcome {
        let mark = builder.beginRecord(arrival: arrival)
        let n = record.count
        var i = 0
        var fields = 0
        while true {
            fields += 1
            if fields > columns {
                builder.discardRecord(mark)
                return .malformed("expected \(columns) field\(columns == 1 ? "" : "s"), found more")
            }
            if i < n && record[i] == UInt8(ascii: "\"") {
                // Quoted field: copy out, folding "" into ".
                scratch.removeAll(keepingCapacity: true)
                i += 1
                var closed = false
                while i < n {
                    let c = record[i]
                    if c == UInt8(ascii: "\"") {
                        if i + 1 < n && record[i + 1] == UInt8(ascii: "\"") {
                            scratch.append(c)
                            i += 2
                            continue
                        }
                        closed = true
                        i += 1
                        break
                    }
                    scratch.append(c)
                    i += 1
                }
                guard closed else {
                    builder.discardRecord(mark)
                    return .malformed("unterminated quoted field \(fields)")
                }
                if i < n && record[i] != UInt8(ascii: ",") {
                    builder.discardRecord(mark)
                    return .malformed("unexpected character after the closing quote of field \(fields)")
                }
                scratch.withUnsafeBytes { builder.appendText($0) }
            } else {
                let start = i
                while i < n && record[i] != UInt8(ascii: ",") {
                    if record[i] == UInt8(ascii: "\"") {
                        builder.discardRecord(mark)
                        return .malformed("quote inside unquoted field \(fields)")
                    }
                    i += 1
                }
                if i == start {
                    builder.appendNull()
                } else {
                    builder.appendText(UnsafeRawBufferPointer(rebasing: record[start..<i]))
                }
            }
            if i >= n { break }
            i += 1 // the comma
            if i == n {
                // A trailing comma: one more, empty field.
                fields += 1
                if fields > columns { break }
                builder.appendNull()
                break
            }
        }
        guard fields == columns else {
            builder.discardRecord(mark)
            return .malformed("expected \(columns) field\(columns == 1 ? "" : "s"), found \(fields)")
        }
        builder.endRecord()
        return .added
    }
}
