import EddyBlocks
import EddyCore
import Atomics

/// Hands out block ids, unique across the run (and across restarts, when a
/// checkpoint seeds `next`).
public final class BlockIDSource: Sendable {
    private let counter: ManagedAtomic<UInt64>
    public init(next: UInt64 = 1) { counter = ManagedAtomic(next) }
    public func next() -> UInt64 { counter.loadThenWrappingIncrement(ordering: .relaxed) }
    public var peek: UInt64 { counter.load(ordering: .relaxed) }
}

/// One shard's current block (Spark's BlockGenerator). The receiver appends
/// parsed records; the block is sealed every `block_interval`, early at
/// `block_max_bytes`, and at every batch boundary by the engine.
///
/// Ordering invariant: seals of one generator are serialized and labels never
/// go backwards, so a shard's blocks reach the store, and batches, in order,
/// and `_seq` increases strictly across the whole run.
public final class BlockGenerator: Sendable {
    public let source: Int
    public let shard: String
    private let blockInterval: Int64
    private let blockMaxBytes: Int
    private let store: BlockStore
    private let ids: BlockIDSource
    private let wal: (@Sendable (Block) throws -> Void)?

    private struct State: Sendable {
        var builder: BlockBuilder
        var nextSeq: Int64
        /// Label of the last sealed block.
        var lastLabel: Int64 = Int64.min
        /// The next block-interval boundary at which to seal.
        var nextBoundary: Int64 = Int64.min
        var finished = false
        /// Where the source stands after the last record appended.
        var position: String?
        /// Seal even when empty, to log `position` (see `mark`).
        var marker = false
        var received = Received()

        /// Counts an append for the monitor (under the lock the append holds anyway).
        mutating func count(added: Int, bytes: Int, now: Int64) {
            guard added > 0 else { return }
            received.records += Int64(added)
            received.bytes += Int64(max(0, bytes))
            received.lastRecordAtMs = now
        }
    }

    /// What this shard took in during this run, for the monitor.
    public struct Received: Sendable, Equatable {
        /// Records appended, and their bytes as parsed into the block.
        public var records: Int64 = 0
        public var bytes: Int64 = 0
        /// Where the source stands after the last record (Kinesis: sequence number).
        public var position: String?
        /// Wall-clock ms of the last append that added records.
        public var lastRecordAtMs: Int64?
    }

    private let state: ConditionLock<State>
    /// Told, after each seal, the `_seq` below which everything is sealed
    /// (and logged, with a checkpoint): receivers that acknowledge use it.
    private let sealedListener = ConditionLock<(@Sendable (Int64) -> Void)?>(nil)
    /// Held for a whole seal (cut, compress, log, store) so seals keep order.
    private let sealing = ConditionLock(())

    /// `wal`, when given, persists each sealed block before the store sees it:
    /// with a checkpoint a record counts as received only once it is logged.
    public init(source: Int, shard: String, columns: Int, firstSeq: Int64, blockInterval: Int64,
                blockMaxBytes: Int, store: BlockStore, ids: BlockIDSource,
                wal: (@Sendable (Block) throws -> Void)? = nil) {
        self.source = source
        self.shard = shard
        self.blockInterval = max(1, blockInterval)
        self.blockMaxBytes = blockMaxBytes
        self.store = store
        self.ids = ids
        self.wal = wal
        self.state = ConditionLock(State(builder: BlockBuilder(columns: columns), nextSeq: firstSeq))
    }

    /// Adds records under the generator's lock. `body` writes them into the
    /// builder and returns how many it added. Seals when the block is full.
    @discardableResult
    public func append(now: Int64, position: String? = nil, _ body: (inout BlockBuilder) -> Int) -> Int {
        let (added, full) = state.withLock { s -> (Int, Bool) in
            let before = s.builder.byteCount
            let added = body(&s.builder)
            if let position { s.position = position }
            s.count(added: added, bytes: s.builder.byteCount - before, now: now)
            return (added, s.builder.byteCount >= blockMaxBytes)
        }
        if full { seal(label: floor(now)) }
        return added
    }

    /// Like `append`, for sources that are read from a position: `body`
    /// returns the records added and where the source stands after them, and
    /// both change together, so a sealed block never carries a position its
    /// records have not reached.
    @discardableResult
    public func appendPositioned(now: Int64, _ body: (inout BlockBuilder) -> (Int, String?)) -> Int {
        let (added, full) = state.withLock { s -> (Int, Bool) in
            let before = s.builder.byteCount
            let (added, position) = body(&s.builder)
            if let position { s.position = position }
            s.count(added: added, bytes: s.builder.byteCount - before, now: now)
            return (added, s.builder.byteCount >= blockMaxBytes)
        }
        if full { seal(label: floor(now)) }
        return added
    }

    /// Called by the receiver's loop: seals when a block-interval boundary passed.
    public func tick(now: Int64) {
        let due: Bool = state.withLock { s in
            if s.nextBoundary == Int64.min { s.nextBoundary = floor(now) + blockInterval }
            if now >= s.nextBoundary {
                s.nextBoundary = floor(now) + blockInterval
                return true
            }
            return false
        }
        if due { seal(label: floor(now)) }
    }

    /// How long the receiver may wait for input before its next tick is due.
    public func millisUntilTick(now: Int64) -> Int64 {
        let boundary = state.withLock { $0.nextBoundary }
        if boundary == Int64.min { return blockInterval }
        return max(1, min(blockInterval, boundary - now))
    }

    /// The engine's cut at batch time T: everything appended so far goes to
    /// the batch at T, unless this shard already sealed a later label.
    public func sealForBatch(at time: Int64) {
        seal(label: time)
    }

    /// What this shard took in so far (a copy, under the generator's lock).
    public var received: Received {
        state.withLock { s in
            var r = s.received
            r.position = s.position
            return r
        }
    }

    /// The next `_seq` this shard will hand out.
    public var nextSeq: Int64 { state.withLock { $0.nextSeq } }

    /// The `_seq` the next appended record will get.
    public var appendSeq: Int64 { state.withLock { $0.nextSeq + Int64($0.builder.count) } }

    public func onSealed(_ listener: (@Sendable (Int64) -> Void)?) { sealedListener.withLock { $0 = listener } }

    /// Seals what is left with `position`, even if nothing is, so the log
    /// and the checkpoint learn where the source stands with no record to
    /// carry it: the end of a closed shard, or where a shard began reading.
    public func mark(position: String, now: Int64) {
        state.withLock { s in
            s.position = position
            s.marker = true
        }
        seal(label: floor(now))
    }

    /// The input behind this generator ended (stdin EOF); set by its receiver.
    public var finished: Bool {
        get { state.withLock { $0.finished } }
    }

    public func markFinished() { state.withLock { $0.finished = true } }

    /// Records appended but not yet sealed.
    public var unsealedCount: Int { state.withLock { $0.builder.count } }

    private func floor(_ t: Int64) -> Int64 {
        t >= 0 ? t - t % blockInterval : t - ((t % blockInterval) + blockInterval) % blockInterval
    }

    /// What `seal` takes out of the state under its lock.
    private struct Cut {
        var builder: BlockBuilder
        var firstSeq: Int64
        var label: Int64
        var position: String?
    }

    private func seal(label requested: Int64) {
        sealing.withLock { _ in
            let taken: Cut? = state.withLock { s in
                guard !s.builder.isEmpty || s.marker else { return nil }
                s.marker = false
                var fresh = BlockBuilder(columns: s.builder.columns, reserve: min(s.builder.byteCount, blockMaxBytes))
                swap(&fresh, &s.builder)
                let first = s.nextSeq
                s.nextSeq += Int64(fresh.count)
                let label = max(s.lastLabel, requested)
                s.lastLabel = label
                return Cut(builder: fresh, firstSeq: first, label: label, position: s.position)
            }
            guard var cut = taken else { return }
            let block = cut.builder.seal(id: ids.next(), source: source, shard: shard, firstSeq: cut.firstSeq,
                                         sealTime: cut.label, position: cut.position)
            var persisted = false
            if let wal {
                do {
                    try wal(block)
                    persisted = true
                    CrashPoint.logged.reached()
                } catch {
                    // The log could not take it (disk full): keep the block
                    // for this run rather than drop it; the log reports why.
                    persisted = false
                }
            }
            store.put(block, persisted: persisted)
            if wal == nil || persisted, let listener = sealedListener.withLock({ $0 }) {
                listener(block.firstSeq + Int64(block.count))
            }
        }
    }
}

