/// What the monitor shows besides batches. These are plain values: the
/// engine fills them from its own types, so this module needs none of them.

/// The job as `eddy check` describes it, and how it runs.
public struct JobInfo: Sendable {
    public var path: String
    public var text: String
    /// `PlanPrinter.describe`'s text.
    public var plan: String
    public var batchIntervalMs: Int64
    public var lanes: Int
    public var parallelism: Int
    /// The checkpoint directory, when there is one.
    public var checkpoint: String?
    public var replay: Bool
    public var sources: [SourceInfo]
    /// Epoch ms at which the run started.
    public var startedAtMs: Int64

    public init(path: String, text: String, plan: String, batchIntervalMs: Int64, lanes: Int, parallelism: Int,
                checkpoint: String?, replay: Bool, sources: [SourceInfo], startedAtMs: Int64) {
        self.path = path
        self.text = text
        self.plan = plan
        self.batchIntervalMs = batchIntervalMs
        self.lanes = lanes
        self.parallelism = parallelism
        self.checkpoint = checkpoint
        self.replay = replay
        self.sources = sources
        self.startedAtMs = startedAtMs
    }
}

public struct SourceInfo: Sendable {
    public var name: String
    /// "generator", "socket", "kinesis", ...
    public var connector: String

    public init(name: String, connector: String) {
        self.name = name
        self.connector = connector
    }
}

/// One receiver (a source's shard) as the receivers table shows it.
public struct ReceiverRow: Sendable, Equatable {
    public var source: String
    public var shard: String
    public var connector: String
    /// "receiving", "connecting", "retrying", "finished", "stopped", "failed".
    public var state: String
    /// Since the run started (this process): parsed records, and their bytes.
    public var records: Int64
    public var bytes: Int64
    /// Over the last second or so; nil before there are two samples.
    public var recordsPerSecond: Double?
    public var bytesPerSecond: Double?
    /// Receivers wait: the block store and its spill budget are full.
    public var paused: Bool
    /// Records/s this receiver may take (max_rate, or backpressure's rate); 0 = no limit.
    public var rateLimit: Double
    public var lastError: String?
    public var lastErrorAtMs: Int64?
    /// Where the shard stands (Kinesis: sequence number), as the checkpoint keeps it.
    public var position: String?
    /// Kinesis' MillisBehindLatest at the shard's last GetRecords.
    public var behindMs: Int64?

    public init(source: String, shard: String, connector: String, state: String, records: Int64, bytes: Int64,
                paused: Bool, rateLimit: Double) {
        self.source = source
        self.shard = shard
        self.connector = connector
        self.state = state
        self.records = records
        self.bytes = bytes
        self.paused = paused
        self.rateLimit = rateLimit
    }

    var key: String { source + "/" + shard }
}

/// A state table or a window, and how big it is.
public struct TableFigures: Sendable, Equatable {
    public enum Kind: String, Sendable { case state, window }
    public var name: String
    public var kind: Kind
    public var rows: Int64
    /// Bytes of its pages (data and indexes), when sampled.
    public var bytes: Int64?
    /// The rows are exact as of the last batch (windows), not a sample.
    public var rowsExact: Bool
    /// Epoch ms of the sample the figures come from.
    public var sampledAtMs: Int64

    public init(name: String, kind: Kind, rows: Int64, bytes: Int64?, rowsExact: Bool, sampledAtMs: Int64) {
        self.name = name
        self.kind = kind
        self.rows = rows
        self.bytes = bytes
        self.rowsExact = rowsExact
        self.sampledAtMs = sampledAtMs
    }
}

/// The block store, the write-ahead log and the checkpoint, now.
public struct RuntimeFigures: Sendable, Equatable {
    public var storeMemoryBytes: Int64 = 0
    public var storeDiskBytes: Int64 = 0
    public var storeBlocks: Int = 0
    public var memoryBudget: Int64 = 0
    public var diskBudget: Int64 = 0
    public var spilledBlocks: Int64 = 0
    public var readBackBlocks: Int64 = 0
    public var receiverPauses: Int64 = 0
    public var paused = false
    /// Batches handed to lanes and not yet committed.
    public var batchesInFlight = 0
    /// Bad records per source, since the run started.
    public var badRecords: [String: Int64] = [:]
    /// nil without a checkpoint.
    public var walBytes: Int64?
    public var walBlocks: Int?
    /// The leases this worker holds (`coordination = 'dynamodb'`).
    public var leases: [LeaseRow] = []

    public init() {}
}

/// A KCL lease this worker holds, as the leases table shows it.
public struct LeaseRow: Sendable, Equatable {
    public var source: String
    public var shard: String
    public var table: String
    public var worker: String
    public var counter: Int64
    public var checkpoint: String
    public var renewedAgoMs: Int64
    /// Until the worker drops the lease unless a renewal succeeds first.
    public var dropInMs: Int64

    public init(source: String, shard: String, table: String, worker: String, counter: Int64, checkpoint: String,
                renewedAgoMs: Int64, dropInMs: Int64) {
        self.source = source
        self.shard = shard
        self.table = table
        self.worker = worker
        self.counter = counter
        self.checkpoint = checkpoint
        self.renewedAgoMs = renewedAgoMs
        self.dropInMs = dropInMs
    }
}

/// The last batch the checkpoint committed.
public struct CommitFigures: Sendable, Equatable {
    public var batchID: Int64
    public var batchTime: Int64
    public var atMs: Int64

    public init(batchID: Int64, batchTime: Int64, atMs: Int64) {
        self.batchID = batchID
        self.batchTime = batchTime
        self.atMs = atMs
    }
}
