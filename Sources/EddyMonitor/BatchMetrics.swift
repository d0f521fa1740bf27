import EddyCore

/// What one batch did: the stderr line, the monitor's ring of recent
/// batches (the page, `/api/batches`, `/metrics`) and `--metrics-file`.
public struct BatchMetrics: Sendable, Equatable {
    public var batchTime: Int64
    public var batchID: Int64
    /// The lane that ran it, and the batches in flight (itself included)
    /// when the scheduler handed it over.
    public var lane: Int = 0
    public var inFlight: Int = 1
    public var records: Int64 = 0
    /// Records per shard, as `source/shard`.
    public var recordsPerShard: [String: Int64] = [:]
    public var blocks: Int = 0
    public var rawBytes: Int64 = 0
    public var compressedBytes: Int64 = 0
    public var outputRows: Int64 = 0
    public var badRecords: Int64 = 0
    public var processingMs: Double = 0
    public var schedulingDelayMs: Int64 = 0
    public var totalDelayMs: Int64 = 0
    public var storeMemoryBytes: Int64 = 0
    public var storeDiskBytes: Int64 = 0
    public var spilledBlocks: Int64 = 0
    public var readBackBlocks: Int64 = 0
    /// The engine thread's time on blocks rather than SQL: cutting the batch
    /// (sealing each shard's open block), reading spilled blocks back, and
    /// LZ4 decompression. It shows what the block store costs the batch.
    public var blockMs: Double = 0
    public var receiverPauses: Int64 = 0
    /// Records/s per receiver after backpressure, when it is on.
    public var rate: Double?
    /// Per-shard figures, as `source/name/shard` (Kinesis: behind_ms, from MillisBehindLatest).
    public var gauges: [String: Int64] = [:]
    /// Each step that ran, in the batch's order (see `StepTiming.order`).
    public var steps: [StepTiming] = []
    /// How long the batch waited, its lane half done, for the batch before
    /// it to commit (not part of its processing time; part of its total delay).
    public var turnWaitMs: Double = 0
    /// Wall-clock time at which it committed, epoch ms.
    public var committedAtMs: Int64 = 0

    public init(batchTime: Int64, batchID: Int64) {
        self.batchTime = batchTime
        self.batchID = batchID
    }

    public var compressionRatio: Double {
        compressedBytes > 0 ? Double(rawBytes) / Double(compressedBytes) : 0
    }

    /// One `key=value` line, easy to read and to grep or awk.
    public var line: String {
        fields.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// The line's fields, in order; `--log-format json` writes them as members.
    public var fields: [LogField] {
        var parts = [
            LogField("batch", "\(batchTime)"),
            LogField("records", "\(records)"),
            LogField("processing_ms", "\(Self.fixed(processingMs))"),
            LogField("scheduling_delay_ms", "\(schedulingDelayMs)"),
            LogField("total_delay_ms", "\(totalDelayMs)"),
            LogField("blocks", "\(blocks)"),
            LogField("raw_bytes", "\(rawBytes)"),
            LogField("lz4_bytes", "\(compressedBytes)"),
            LogField("lz4_ratio", "\(Self.fixed(compressionRatio))"),
            LogField("store_mem", "\(storeMemoryBytes)"),
            LogField("store_disk", "\(storeDiskBytes)"),
            LogField("spilled", "\(spilledBlocks)"),
            LogField("read_back", "\(readBackBlocks)"),
            LogField("block_ms", "\(Self.fixed(blockMs))"),
            LogField("pauses", "\(receiverPauses)"),
            LogField("out_rows", "\(outputRows)"),
            LogField("bad_records", "\(badRecords)"),
            LogField("lane", "\(lane)"),
            LogField("in_flight", "\(inFlight)"),
        ]
        if let rate { parts.append(LogField("rate", "\(Int(rate))")) }
        let lag = behindMs
        if !lag.isEmpty {
            parts.append(LogField("behind_ms", lag.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")))
        }
        if !recordsPerShard.isEmpty {
            parts.append(LogField("shards", recordsPerShard.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")))
        }
        return parts
    }

    static func fixed(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}

/// Prints one metrics line per batch to stderr unless `--quiet`.
public struct MetricsReporter: Sendable {
    public let quiet: Bool
    public init(quiet: Bool) { self.quiet = quiet }

    public func report(_ m: BatchMetrics) {
        guard !quiet else { return }
        EddyLog.write(.info, "", fields: m.fields)
    }
}
