import EddyBlocks

/// Framing and parsing together: bytes in, block records out, bad records to
/// the error log. One per shard, owned by the thread that reads that shard.
public struct RecordDecoder: Sendable {
    public let schema: SourceSchema
    private var framer: RecordFramer
    private var parser: RecordParser
    private var reportedOversized = 0

    public init(schema: SourceSchema) {
        self.schema = schema
        self.framer = RecordFramer(quoteAware: schema.format == .csv)
        self.parser = RecordParser(schema: schema)
    }

    /// Parses every complete record in `chunk` into `builder`; returns how
    /// many were added.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, arrival: Int64, shard: String,
                              errors: ErrorLog?, into builder: inout BlockBuilder) -> Int {
        var added = 0
        var parser = self.parser
        framer.feed(chunk) { record in
            added += Self.handle(parser.parse(record, arrival: arrival, into: &builder), record, shard, errors)
        }
        self.parser = parser
        reportOversized(shard: shard, errors: errors)
        return added
    }

    /// End of input: parses a last record that had no newline.
    public mutating func finish(arrival: Int64, shard: String, errors: ErrorLog?,
                                into builder: inout BlockBuilder) -> Int {
        var added = 0
        var parser = self.parser
        framer.finish { record in
            added += Self.handle(parser.parse(record, arrival: arrival, into: &builder), record, shard, errors)
        }
        self.parser = parser
        reportOversized(shard: shard, errors: errors)
        // A new file or connection starts with its own header again.
        self.parser.expectHeader = schema.header
        return added
    }

    /// Parses a whole input (a file, a replay batch) at once.
    public mutating func decodeAll(_ bytes: [UInt8], arrival: Int64, shard: String, errors: ErrorLog?,
                                   into builder: inout BlockBuilder) -> Int {
        var n = bytes.withUnsafeBytes { feed($0, arrival: arrival, shard: shard, errors: errors, into: &builder) }
        n += finish(arrival: arrival, shard: shard, errors: errors, into: &builder)
        return n
    }

    private static func handle(_ outcome: ParseOutcome, _ record: UnsafeRawBufferPointer, _ shard: String,
                               _ errors: ErrorLog?) -> Int {
        switch outcome {
        case .added: return 1
        case .skipped: return 0
        case .malformed(let reason):
            errors?.record(shard: shard, reason: reason, bytes: record)
            return 0
        }
    }

    private mutating func reportOversized(shard: String, errors: ErrorLog?) {
        while reportedOversized < framer.oversizedRecords {
            reportedOversized += 1
            errors?.record(shard: shard, reason: "record longer than \(SourceSchema.maxRecordBytes >> 20) MB",
                           bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }
}
