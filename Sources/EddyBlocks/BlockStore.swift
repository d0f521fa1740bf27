import EddyCore
import Logging

/// Holds sealed blocks between the receivers that seal them and the batch that
/// loads them (Spark's BlockManager + ReceivedBlockTracker, in one process).
///
/// Invariants, relied on by the scheduler and the tests:
/// - Every block put is allocated to exactly one batch: `allocate(upTo: T)`
///   takes every unallocated block labelled at or before T.
/// - Blocks of one shard are allocated in the order they were put.
/// - Compressed bytes in memory stay within `memoryBudget`; beyond it blocks
///   go to spill files. When spill files reach `diskBudget` too, nothing is
///   dropped: `awaitCapacity` holds receivers until batches release blocks.
public final class BlockStore: Sendable {
    public struct Config: Sendable {
        public var memoryBudget: Int64
        public var diskBudget: Int64
        /// Directory for spill files; created when first needed.
        public var spillDir: String
        /// Remove `spillDir` itself at close (it was a private temp dir).
        public var ownsSpillDir: Bool

        public init(memoryBudget: Int64, diskBudget: Int64, spillDir: String, ownsSpillDir: Bool) {
            self.memoryBudget = memoryBudget
            self.diskBudget = diskBudget
            self.spillDir = spillDir
            self.ownsSpillDir = ownsSpillDir
        }
    }

    /// Counters for the per-batch metrics line.
    public struct Stats: Sendable, Equatable {
        public var blocksIn: Int64 = 0
        public var recordsIn: Int64 = 0
        public var rawBytesIn: Int64 = 0
        public var compressedBytesIn: Int64 = 0
        public var memoryBytes: Int64 = 0
        public var diskBytes: Int64 = 0
        public var blocksHeld: Int = 0
        public var spilledBlocks: Int64 = 0
        public var readBackBlocks: Int64 = 0
        public var receiverPauses: Int64 = 0
        public var paused: Bool = false
    }

    private enum Location: Sendable {
        case memory
        case spilled(path: String, bytes: Int64)
        /// Spilling failed for lack of disk space: kept in memory over budget.
        case memoryOverBudget
        /// Already persisted elsewhere (the write-ahead log); read back through `reader`.
        case external(bytes: Int64)
    }

    private struct Entry: Sendable {
        var block: Block
        var location: Location
        var allocatedTo: Int64?
    }

    private struct State: Sendable {
        var entries: [UInt64: Entry] = [:]
        /// Put order, for allocation; ids of unallocated blocks only.
        var unallocated: [UInt64] = []
        var stats = Stats()
        var spillDirReady = false
        var closed = false
        var lastPauseWarning: Int64 = -10_000
        var pausesAtLastWarning: Int64 = 0
    }

    public let config: Config
    private let state: ConditionLock<State>
    private let logger = Logger(label: "eddy.blocks")
    /// Reads a block's payload back from where `putPersisted` said it lives.
    private let externalReader: (@Sendable (Block) throws -> [UInt8])?

    public init(_ config: Config, externalReader: (@Sendable (Block) throws -> [UInt8])? = nil) {
        self.config = config
        self.state = ConditionLock(State())
        self.externalReader = externalReader
    }

    // MARK: receivers' side

    /// Accepts a sealed block. Never blocks and never drops: a block that fits
    /// neither budget is kept in memory and receivers are paused instead.
    public func put(_ block: Block, persisted: Bool = false) {
        let size = Int64(block.payload.count)
        enum Plan { case memory, spill(String), external }
        let plan: Plan = state.withLock { s in
            s.stats.blocksIn += 1
            s.stats.recordsIn += Int64(block.count)
            s.stats.rawBytesIn += Int64(block.rawBytes)
            s.stats.compressedBytesIn += size
            if s.stats.memoryBytes + size <= config.memoryBudget || size == 0 {
                s.stats.memoryBytes += size
                return .memory
            }
            if persisted && externalReader != nil {
                return .external
            }
            if s.stats.diskBytes + size <= config.diskBudget {
                s.stats.diskBytes += size // reserved until the write is done
                return .spill(config.spillDir + "/block-\(block.id).lz4")
            }
            s.stats.memoryBytes += size
            return .memory
        }
        switch plan {
        case .memory:
            insert(Entry(block: block, location: .memory, allocatedTo: nil))
        case .external:
            var light = block
            light.payload = []
            state.update { s in s.stats.spilledBlocks += 1 }
            insert(Entry(block: light, location: .external(bytes: size), allocatedTo: nil))
        case .spill(let path):
            do {
                try ensureSpillDir()
                try Files.write(path, block.payload)
                var light = block
                light.payload = []
                state.update { s in s.stats.spilledBlocks += 1 }
                insert(Entry(block: light, location: .spilled(path: path, bytes: size), allocatedTo: nil))
            } catch {
                logger.warning("cannot spill block to disk, keeping it in memory: \(error)")
                Files.remove(path)
                state.update { s in
                    s.stats.diskBytes -= size
                    s.stats.memoryBytes += size
                }
                insert(Entry(block: block, location: .memoryOverBudget, allocatedTo: nil))
            }
        }
    }

    /// A block recovered from the write-ahead log without its payload: kept
    /// as a reference and read back from the log when its batch runs.
    public func putLogged(_ block: Block) {
        state.update { s in
            s.stats.blocksIn += 1
            s.stats.recordsIn += Int64(block.count)
            s.stats.rawBytesIn += Int64(block.rawBytes)
            s.stats.compressedBytesIn += Int64(block.payloadBytes)
        }
        var light = block
        light.payload = []
        insert(Entry(block: light, location: .external(bytes: Int64(block.payloadBytes)), allocatedTo: nil))
    }

    private func insert(_ entry: Entry) {
        state.update { s in
            s.entries[entry.block.id] = entry
            s.unallocated.append(entry.block.id)
            s.stats.blocksHeld = s.entries.count
        }
    }

    private func ensureSpillDir() throws {
        if state.withLock({ $0.spillDirReady }) { return }
        try Files.makeDirectories(config.spillDir)
        state.withLock { $0.spillDirReady = true }
    }

    /// Memory over its budget means a block fitted neither budget (the disk
    /// had less room left than the block needed): that counts as full too,
    /// or receivers would keep adding blocks to memory without bound.
    private static func hasRoom(_ s: State, _ config: Config) -> Bool {
        s.closed || s.stats.memoryBytes < config.memoryBudget
            || (s.stats.diskBytes < config.diskBudget && s.stats.memoryBytes <= config.memoryBudget)
    }

    /// Called by receivers before reading more input. Blocks while both the
    /// memory and the disk budget are full, so TCP pushes back on producers;
    /// returns false when `stop` fires first.
    public func awaitCapacity(stop: StopSignal) -> Bool {
        if state.withLock({ Self.hasRoom($0, config) }) { return true }
        let startedPause: Bool = state.withLock { s in
            if s.stats.paused { return false }
            s.stats.paused = true
            s.stats.receiverPauses += 1
            return true
        }
        if startedPause {
            // Say it once, then at most every 10 s with how often it happened.
            let now = MonotonicTime.now() / 1_000_000
            let (say, since): (Bool, Int64) = state.withLock { s in
                guard now - s.lastPauseWarning >= 10_000 else { return (false, 0) }
                let since = s.stats.receiverPauses - s.pausesAtLastWarning
                s.lastPauseWarning = now
                s.pausesAtLastWarning = s.stats.receiverPauses
                return (true, since)
            }
            if say {
                let times = since > 1 ? " (\(since) pauses since the last warning)" : ""
                logger.warning("memory_budget (\(Units.formatBytes(config.memoryBudget))) and disk_budget (\(Units.formatBytes(config.diskBudget))) are full: receivers pause until batches catch up\(times)")
            }
        }
        while !stop.isRequested {
            let ready = state.wait(until: { Self.hasRoom($0, self.config) }, timeoutMs: 200) { s in
                if s.stats.paused {
                    s.stats.paused = false
                }
                return true
            }
            if ready != nil { return true }
        }
        return false
    }

    public var isFull: Bool { state.withLock { !Self.hasRoom($0, config) } }

    // MARK: engine's side

    /// Takes every unallocated block labelled at or before `time` for the
    /// batch at `time`, in put order. Payloads of spilled blocks are empty
    /// here; `payload(of:)` reads them back.
    public func allocate(upTo time: Int64) -> [Block] {
        state.update { s in
            var taken: [Block] = []
            var rest: [UInt64] = []
            rest.reserveCapacity(s.unallocated.count)
            for id in s.unallocated {
                guard var entry = s.entries[id] else { continue }
                if entry.block.sealTime <= time {
                    entry.allocatedTo = time
                    s.entries[id] = entry
                    taken.append(entry.block)
                } else {
                    rest.append(id)
                }
            }
            s.unallocated = rest
            return taken
        }
    }

    /// The compressed records of a block: from memory, or read back from its
    /// spill file (counted as a read-back).
    public func payload(of block: Block) throws -> [UInt8] {
        let location: Location? = state.withLock { $0.entries[block.id]?.location }
        switch location {
        case .spilled(let path, _):
            state.withLock { $0.stats.readBackBlocks += 1 }
            return try Files.readAll(path)
        case .external:
            state.withLock { $0.stats.readBackBlocks += 1 }
            guard let externalReader else { throw BlockError.io("block \(block.id) has no reader") }
            return try externalReader(block)
        case .memory, .memoryOverBudget, nil:
            return block.payload
        }
    }

    /// Forgets blocks no batch or window needs any more, freeing memory and
    /// deleting spill files, and wakes paused receivers.
    public func release(_ ids: [UInt64]) {
        var files: [String] = []
        state.update { s in
            for id in ids {
                guard let entry = s.entries.removeValue(forKey: id) else { continue }
                switch entry.location {
                case .memory, .memoryOverBudget:
                    s.stats.memoryBytes -= Int64(entry.block.payload.count)
                case .spilled(let path, let bytes):
                    s.stats.diskBytes -= bytes
                    files.append(path)
                case .external:
                    break
                }
            }
            s.stats.blocksHeld = s.entries.count
        }
        for path in files { Files.remove(path) }
    }

    public var stats: Stats { state.withLock { $0.stats } }

    /// Blocks put but not yet allocated to a batch.
    public var pendingCount: Int { state.withLock { $0.unallocated.count } }

    /// Deletes spill files (and the private spill dir) and wakes any paused
    /// receiver so it can see the stop.
    public func close() {
        let paths: [String] = state.update { s in
            s.closed = true
            let paths = s.entries.values.compactMap { e -> String? in
                if case .spilled(let p, _) = e.location { return p }
                return nil
            }
            s.entries.removeAll()
            s.unallocated.removeAll()
            return paths
        }
        for p in paths { Files.remove(p) }
        if config.ownsSpillDir { Files.removeTree(config.spillDir) }
    }
}
