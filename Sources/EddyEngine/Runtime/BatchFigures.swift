import EddyBlocks
import EddyMonitor

/// Filling a batch's metrics line from what the engine saw, kept out of the
/// engine's loop.
extension BatchMetrics {
    /// What the batch held and did. `cutMs` is the time it took to cut the
    /// batch (sealing each shard's open block), on the engine thread.
    mutating func add(_ outcome: JobRunner.Outcome, blocks: [Block], cutMs: Double) {
        records = outcome.records
        recordsPerShard = outcome.recordsPerShard
        outputRows = outcome.outputRows
        self.blocks = blocks.count
        rawBytes = blocks.reduce(0) { $0 + Int64($1.rawBytes) }
        compressedBytes = blocks.reduce(0) { $0 + Int64($1.payloadBytes) }
        blockMs = cutMs + outcome.blockReadMs
    }

    /// Where the block store stands after the batch; `logBytes` is what the
    /// write-ahead log holds on disk.
    mutating func add(_ stats: BlockStore.Stats, logBytes: Int64) {
        storeMemoryBytes = stats.memoryBytes
        storeDiskBytes = stats.diskBytes + logBytes
        spilledBlocks = stats.spilledBlocks
        readBackBlocks = stats.readBackBlocks
        receiverPauses = stats.receiverPauses
    }
}
