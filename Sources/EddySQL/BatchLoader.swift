import CSQLite
import EddyBlocks
import EddyCore

/// Loads blocks into a source's table through one INSERT prepared once and
/// reused for every row of every batch. Text is bound straight out of the
/// decoded block (no copy); the engine thread does nothing else per row.
public final class BatchLoader {
    private let insert: Statement
    public let valueCount: Int
    /// Decompressed records of the block being loaded; reused across blocks.
    private var buffer: [UInt8] = []
    /// Time spent decompressing so far, so the engine can tell what reading
    /// blocks costs apart from what SQLite costs (`block_ms`).
    public private(set) var decompressNanos: Int64 = 0

    /// `valueCount` values per record, then `_shard`, `_seq`, `_arrival_ms`.
    public init(database: Database, table: String, valueCount: Int) throws(SQLiteError) {
        self.valueCount = valueCount
        let placeholders = Array(repeating: "?", count: valueCount + 3).joined(separator: ",")
        insert = try database.prepare("INSERT INTO \(quoteIdentifier(table)) VALUES (\(placeholders))")
    }

    /// Inserts every record of `block`, whose compressed records are `payload`.
    /// Returns the rows inserted.
    @discardableResult
    public func load(_ block: Block, payload: [UInt8]) throws -> Int {
        guard block.count > 0 else { return 0 }
        guard block.columns == valueCount else {
            throw BlockError.corrupt("block \(block.id) has \(block.columns) values per record, table expects \(valueCount)")
        }
        let t0 = MonotonicTime.now()
        try LZ4.decompress(payload, rawBytes: block.rawBytes, into: &buffer)
        decompressNanos += MonotonicTime.now() - t0
        let shard = Array(block.shard.utf8)
        let stmt = insert
        let n = valueCount
        let shardIndex = Int32(n + 1)
        return try buffer.withUnsafeBufferPointer { raw in
            try shard.withUnsafeBufferPointer { shardBytes in
                var cursor = RecordCursor(raw, baseArrival: block.baseArrival)
                let shardPointer = shardBytes.baseAddress ?? UnsafePointer(RecordCursor.emptyByte)
                // Drop the static pointers before the buffers go away, also
                // when a bind or a step fails halfway.
                defer {
                    stmt.reset()
                    stmt.clearBindings()
                }
                try stmt.bindStaticText(shardIndex, shardPointer, shardBytes.count)
                var seq = block.firstSeq
                var rows = 0
                while rows < block.count {
                    let arrival = try cursor.nextArrival()
                    for c in 0..<n {
                        let index = Int32(c + 1)
                        switch try cursor.nextValue() {
                        case .null: try stmt.bindNull(index)
                        case .integer(let v): try stmt.bind(index, v)
                        case .real(let v): try stmt.bind(index, v)
                        case .text(let p, let len): try stmt.bindStaticText(index, p, len)
                        case .blob(let p, let len): try stmt.bindBlob(index, p, len)
                        }
                    }
                    try stmt.bind(shardIndex + 1, seq)
                    try stmt.bind(shardIndex + 2, arrival)
                    _ = try stmt.step()
                    stmt.reset()
                    seq += 1
                    rows += 1
                }
                return rows
            }
        }
    }
}
