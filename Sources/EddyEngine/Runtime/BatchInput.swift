import EddyBlocks
import EddyCore
import EddyIngest
import Logging

/// Where a batch's blocks come from: live receivers and watched directories,
/// or the files of a replay.
protocol BatchInput: AnyObject {
    /// The blocks of the batch at `time`. With `final`, everything received so
    /// far, because no later batch will run.
    func blocks(for time: Int64, final: Bool) throws -> [Block]
    func payload(of block: Block) throws -> [UInt8]
    /// The batch that took these blocks is committed.
    func release(_ blocks: [Block])
    /// No more input will come after the batch at `time`.
    func ended(after time: Int64) -> Bool
    /// Stop receiving (a graceful stop); data already received is still served.
    func stopReceiving()
    func close()
    var store: BlockStore { get }
    /// Files taken by the last `blocks(for:final:)`, as (source, path).
    var takenFiles: [(Int, String)] { get }
    /// The blocks of a recorded batch, made again from where they came from:
    /// the write-ahead log, the files it read, or the replay files.
    func reload(_ allocation: Allocation, log: WriteAheadLog?) throws -> [Block]
}

/// Live input: receivers on their threads fill the block store; the engine
/// cuts every receiver's current block at the batch boundary and takes every
/// block labelled up to the batch time. `file` sources are read here, per batch.
final class LiveInput: BatchInput {
    let store: BlockStore
    let tracker: ReceiverTracker
    let ids: BlockIDSource
    let sources: [LiveSource]
    let fileSources: [FileSource]
    let blockMaxBytes: Int
    private let logger = Logger(label: "eddy.input")
    private(set) var takenFiles: [(Int, String)] = []

    init(store: BlockStore, tracker: ReceiverTracker, ids: BlockIDSource, sources: [LiveSource],
         fileSources: [FileSource], blockMaxBytes: Int) {
        self.store = store
        self.tracker = tracker
        self.ids = ids
        self.sources = sources
        self.fileSources = fileSources
        self.blockMaxBytes = blockMaxBytes
    }

    func blocks(for time: Int64, final: Bool) throws -> [Block] {
        for generator in tracker.generators { generator.sealForBatch(at: time) }
        takenFiles = []
        for fs in fileSources {
            for path in fs.takeNewFiles(batchTime: final ? Int64.max : time) {
                takenFiles.append((fs.source.index, path))
                do {
                    for block in try fs.readBlocks(path: path, batchTime: time, blockMaxBytes: blockMaxBytes, ids: ids) {
                        store.put(block)
                    }
                } catch {
                    logger.warning("source \(fs.source.name): cannot read \(path): \(error)")
                }
            }
        }
        return store.allocate(upTo: final ? Int64.max : time)
    }

    func payload(of block: Block) throws -> [UInt8] { try store.payload(of: block) }

    func release(_ blocks: [Block]) { store.release(blocks.map(\.id)) }

    func reload(_ allocation: Allocation, log: WriteAheadLog?) throws -> [Block] {
        var blocks: [Block] = []
        for ref in allocation.blocks where ref.logged {
            guard let log, let block = try log.read(id: ref.id) else {
                throw RuntimeError("batch \(allocation.time): block \(ref.id) of source \(ref.source) is not in the write-ahead log any more")
            }
            blocks.append(block)
        }
        for (source, path) in allocation.files {
            guard let fs = fileSources.first(where: { $0.source.index == source }) else { continue }
            guard Files.exists(path) else {
                throw RuntimeError("batch \(allocation.time) read \(path), which is gone: it cannot be run again")
            }
            blocks += try fs.readBlocks(path: path, batchTime: allocation.time, blockMaxBytes: blockMaxBytes, ids: ids)
        }
        return blocks
    }

    /// Live input ends only when every source is finite (stdin) and done, and
    /// nothing received is left.
    func ended(after time: Int64) -> Bool {
        guard !sources.isEmpty, sources.allSatisfy({ $0.config.connector.isFinite }) else { return false }
        let generators = tracker.generators
        guard !generators.isEmpty, generators.allSatisfy({ $0.finished && $0.unsealedCount == 0 }) else { return false }
        return store.pendingCount == 0
    }

    func stopReceiving() { tracker.stopAll() }

    func close() {
        tracker.stopAll(timeoutMs: 2000)
        // After the last batch committed: lease-mode sources write its checkpoints and give their leases up.
        for source in sources { source.close() }
        store.close()
    }
}

/// Replay input: batch k of source S is the file `DIR/S/00000k.txt` (any
/// number of digits), in the source's format; a missing file is an empty
/// batch. Batch k has time k × batch_interval.
final class ReplayInput: BatchInput {
    let store: BlockStore
    let ids: BlockIDSource
    let sources: [LiveSource]
    let dir: String
    let batchInterval: Int64
    let blockMaxBytes: Int
    /// Source index → batch number → file.
    private var files: [Int: [Int: String]] = [:]
    private var seq: [Int: Int64] = [:]
    /// Time of the last batch that has a file.
    let lastInputTime: Int64
    var endTime: Int64

    init(dir: String, sources: [LiveSource], store: BlockStore, ids: BlockIDSource, batchInterval: Int64,
         blockMaxBytes: Int) throws {
        self.dir = dir
        self.sources = sources
        self.store = store
        self.ids = ids
        self.batchInterval = batchInterval
        self.blockMaxBytes = blockMaxBytes
        guard Files.isDirectory(dir) else {
            throw UsageError("--replay \(dir): not a directory")
        }
        var last = 0
        for source in sources {
            let sourceDir = dir + "/" + source.name
            var byBatch: [Int: String] = [:]
            for name in (try? Files.list(sourceDir)) ?? [] {
                guard name.hasSuffix(".txt"), let k = Int(name.dropLast(4)), k > 0 else { continue }
                byBatch[k] = sourceDir + "/" + name
                last = max(last, k)
            }
            files[source.index] = byBatch
        }
        lastInputTime = Int64(last) * batchInterval
        endTime = lastInputTime
    }

    let takenFiles: [(Int, String)] = []

    func blocks(for time: Int64, final: Bool) throws -> [Block] {
        for block in try make(time: time, firstSeq: seq) {
            seq[block.source] = block.firstSeq + Int64(block.count)
            store.put(block)
        }
        return store.allocate(upTo: time)
    }

    /// Batch `time`'s blocks, each source's `_seq` starting at `firstSeq`.
    private func make(time: Int64, firstSeq: [Int: Int64]) throws -> [Block] {
        let k = Int(time / batchInterval)
        var out: [Block] = []
        for source in sources {
            guard let path = files[source.index]?[k] else { continue }
            let bytes = try Files.readAll(path)
            out += FileSource.blocks(from: bytes, source: source, shard: "0", firstSeq: firstSeq[source.index, default: 0],
                                     label: time, arrival: time, blockMaxBytes: blockMaxBytes, ids: ids)
        }
        return out
    }

    func reload(_ allocation: Allocation, log: WriteAheadLog?) throws -> [Block] {
        var first: [Int: Int64] = [:]
        for ref in allocation.blocks { first[ref.source] = min(first[ref.source] ?? Int64.max, ref.firstSeq) }
        let blocks = try make(time: allocation.time, firstSeq: first)
        // Later batches go on after what this one held.
        for b in blocks { seq[b.source] = max(seq[b.source, default: 0], b.firstSeq + Int64(b.count)) }
        return blocks
    }

    func payload(of block: Block) throws -> [UInt8] { try store.payload(of: block) }
    func release(_ blocks: [Block]) { store.release(blocks.map(\.id)) }
    func ended(after time: Int64) -> Bool { time >= endTime }
    func stopReceiving() {}
    func close() { store.close() }

    /// Where each source's `_seq` continues (for a replay resumed from a checkpoint).
    func setNextSeq(_ next: [Int: Int64]) { seq = next }
}
