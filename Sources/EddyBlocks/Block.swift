/// A sealed run of records from one shard: the unit that receivers hand over,
/// the block store keeps within its budget, the write-ahead log persists and
/// a batch loads. Records inside are already parsed, so the engine thread only
/// decodes and binds.
///
/// Immutable once sealed; shared freely between receiver, store and engine.
public struct Block: Sendable, Equatable {
    /// Unique within a run and, with a checkpoint, across restarts.
    public var id: UInt64
    /// Index of the source in the job's plan.
    public var source: Int
    /// The receiver's shard name: `0`, `host:port`, `shardId-000000000001`, a file name.
    public var shard: String
    /// `_seq` of the first record; the others follow one by one.
    public var firstSeq: Int64
    public var count: Int
    /// Values per record (the source's declared columns, plus `_raw` for jsonl).
    public var columns: Int
    /// The block-interval boundary the block was sealed at: the batch at T
    /// takes the blocks labelled in (T - batch_interval, T].
    public var sealTime: Int64
    /// `_arrival_ms` values are stored as differences from this.
    public var baseArrival: Int64
    /// Size of the encoded records before compression.
    public var rawBytes: Int
    /// The LZ4-compressed records (empty while the block store keeps them on disk).
    public var payload: [UInt8]
    /// Size of the compressed records, wherever they are.
    public var payloadBytes: Int
    /// Where the source stands after this block's last record (a Kinesis
    /// sequence:sub-sequence, or END for a shard read to its end), for
    /// sources that can be read again from a position. Logged with the block,
    /// so a restart resumes after what the log holds.
    public var position: String?

    public init(id: UInt64, source: Int, shard: String, firstSeq: Int64, count: Int, columns: Int,
                sealTime: Int64, baseArrival: Int64, rawBytes: Int, payload: [UInt8], position: String? = nil) {
        self.id = id
        self.source = source
        self.shard = shard
        self.firstSeq = firstSeq
        self.count = count
        self.columns = columns
        self.sealTime = sealTime
        self.baseArrival = baseArrival
        self.rawBytes = rawBytes
        self.payload = payload
        self.payloadBytes = payload.count
        self.position = position
    }

    public var lastSeq: Int64 { firstSeq + Int64(count) - 1 }

    /// `_seq` of the record after this block's last: where its shard goes on.
    public var nextSeq: Int64 { firstSeq + Int64(count) }
}

/// The tags of the values inside an encoded record. A value's header varint is
/// `length << 3 | tag`.
public enum ValueTag: UInt8, Sendable {
    case null = 0
    case integer = 1
    case real = 2
    case text = 3
    case blob = 4
}
