import EddyBlocks
import EddyCore
import EddySQL

/// Which blocks and files form a batch, recorded in the checkpoint before the
/// batch runs, so a batch re-run after a crash has exactly the same input.
public struct Allocation: Sendable {
    public struct BlockRef: Sendable, Equatable {
        public var id: UInt64
        public var source: Int
        public var shard: String
        public var firstSeq: Int64
        public var count: Int
        /// In the write-ahead log (received); otherwise read again from its
        /// replayable source (a replay file or a watched file).
        public var logged: Bool
    }

    public var time: Int64
    public var batchID: Int64
    public var blocks: [BlockRef]
    public var files: [(source: Int, path: String)]
}

extension CheckpointStore {
    /// Records the batch's input and commits it (its own transaction), before
    /// the batch runs.
    func recordAllocation(_ db: Database, time: Int64, batchID: Int64, blocks: [Block], logged: (UInt64) -> Bool,
                          files: [(Int, String)]) throws {
        try db.execute("BEGIN")
        do {
            let batch = try db.prepare("""
                INSERT INTO ckpt._eddy_batches (batch_time, batch_id, state, allocated_ms) VALUES (?1, ?2, 'allocated', ?3)
                ON CONFLICT(batch_time) DO UPDATE SET state = 'allocated', batch_id = excluded.batch_id
                """, persistent: false)
            try batch.bind(1, time)
            try batch.bind(2, batchID)
            try batch.bind(3, WallClock.nowMs())
            try batch.run()
            try db.execute("DELETE FROM ckpt._eddy_batch_blocks WHERE batch_time = \(time); DELETE FROM ckpt._eddy_batch_files WHERE batch_time = \(time);")
            let block = try db.prepare("INSERT OR REPLACE INTO ckpt._eddy_batch_blocks VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", persistent: false)
            for b in blocks {
                try block.bind(1, time)
                try block.bind(2, Int64(bitPattern: b.id))
                try block.bind(3, Int64(b.source))
                try block.bind(4, b.shard)
                try block.bind(5, b.firstSeq)
                try block.bind(6, Int64(b.count))
                try block.bind(7, Int64(logged(b.id) ? 1 : 0))
                try block.run()
            }
            let file = try db.prepare("INSERT OR IGNORE INTO ckpt._eddy_batch_files VALUES (?1, ?2, ?3)", persistent: false)
            let seen = try db.prepare("INSERT OR IGNORE INTO ckpt._eddy_files VALUES (?1, ?2)", persistent: false)
            for (source, path) in files {
                try file.bind(1, time); try file.bind(2, Int64(source)); try file.bind(3, path)
                try file.run()
                try seen.bind(1, Int64(source)); try seen.bind(2, path)
                try seen.run()
            }
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    /// Inside the batch's transaction: the batch is done, offsets move on,
    /// sinks that wrote are marked.
    func recordCommit(_ db: Database, time: Int64, records: Int64, blocks: [Block], sinks: [String]) throws {
        let done = try db.prepare("UPDATE ckpt._eddy_batches SET state = 'committed', records = ?2, committed_ms = ?3 WHERE batch_time = ?1", persistent: false)
        try done.bind(1, time)
        try done.bind(2, records)
        try done.bind(3, WallClock.nowMs())
        try done.run()
        var next: [String: (Int, String, Int64)] = [:]
        for b in blocks where b.count > 0 {
            let key = "\(b.source)\u{1}\(b.shard)"
            let candidate = b.firstSeq + Int64(b.count)
            if candidate > (next[key]?.2 ?? Int64.min) { next[key] = (b.source, b.shard, candidate) }
        }
        let offset = try db.prepare("""
            INSERT INTO ckpt._eddy_offsets (source, shard, next_seq) VALUES (?1, ?2, ?3)
            ON CONFLICT(source, shard) DO UPDATE SET next_seq = max(next_seq, excluded.next_seq)
            """, persistent: false)
        for (_, (source, shard, seq)) in next {
            try offset.bind(1, Int64(source)); try offset.bind(2, shard); try offset.bind(3, seq)
            try offset.run()
        }
        // Source positions (kinesis): the last one of each shard in this batch.
        var positions: [String: (Int, String, Int64, String)] = [:]
        for b in blocks {
            guard let p = b.position else { continue }
            let key = "\(b.source)\u{1}\(b.shard)"
            if b.firstSeq >= positions[key]?.2 ?? Int64.min { positions[key] = (b.source, b.shard, b.firstSeq, p) }
        }
        let position = try db.prepare("""
            INSERT INTO ckpt._eddy_offsets (source, shard, next_seq, position) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT(source, shard) DO UPDATE SET position = excluded.position
            """, persistent: false)
        for (_, (source, shard, seq, p)) in positions {
            try position.bind(1, Int64(source)); try position.bind(2, shard); try position.bind(3, seq); try position.bind(4, p)
            try position.run()
        }
        let marker = try db.prepare("INSERT INTO ckpt._eddy_sink_markers VALUES (?1, ?2) ON CONFLICT(sink) DO UPDATE SET batch_time = excluded.batch_time", persistent: false)
        for sink in sinks {
            try marker.bind(1, sink); try marker.bind(2, time)
            try marker.run()
        }
    }

    /// Forgets allocations older than `keepFrom` (their blocks are released):
    /// the table stays small on long runs.
    func prune(_ db: Database, before keepFrom: Int64) throws {
        try db.execute("""
            DELETE FROM ckpt._eddy_batch_blocks WHERE batch_time < \(keepFrom);
            DELETE FROM ckpt._eddy_batch_files WHERE batch_time < \(keepFrom);
            DELETE FROM ckpt._eddy_batches WHERE batch_time < \(keepFrom) AND state = 'committed'
              AND batch_time < (SELECT max(batch_time) FROM ckpt._eddy_batches WHERE state = 'committed');
            """)
    }

    // MARK: reading it back

    /// Where a restart resumes, as the checkpoint records it.
    public struct ResumePoint: Sendable {
        /// `_seq` to continue from, per source and shard (committed batches only).
        public var offsets: [Int: [String: Int64]] = [:]
        /// Source positions (kinesis shards) of committed batches.
        public var positions: [Int: [String: String]] = [:]
        public var seenFiles: [Int: [String]] = [:]
        public var maxBlockID: UInt64 = 0
        public var lastCommitted: CommittedBatch?
        /// The batches allocated but not committed when the job last
        /// stopped, oldest first: up to one per lane.
        public var inFlight: [Allocation] = []

        public struct CommittedBatch: Sendable {
            public var time: Int64
            public var id: Int64

            public init(time: Int64, id: Int64) {
                self.time = time
                self.id = id
            }
        }

        public init() {}

        /// The first batch to run: after the last one recorded and, for a live
        /// run (`now` given), not before now.
        public func nextBatch(zero: Int64, batchInterval bi: Int64, now: Int64?) throws(RuntimeError) -> NextBatch {
            guard CheckpointStore.plausibleTimes.contains(zero), bi > 0, bi < 1 << 50 else {
                throw RuntimeError("the checkpoint is damaged: its zero time \(zero) is out of range; nothing was loaded from it")
            }
            var next = NextBatch(time: zero + bi, id: 1)
            if let latest = ([lastCommitted?.time] + inFlight.map(\.time)).compactMap({ $0 }).max() {
                next.time = latest + bi
                next.id = max(lastCommitted?.id ?? 0, inFlight.map(\.batchID).max() ?? 0) + 1
            }
            // Skip the batches missed while stopped, in one step: a checkpoint
            // left for months (or a damaged time) must not take a loop per batch.
            if let now, next.time <= now - bi {
                next.time += ((now - bi - next.time) / bi + 1) * bi
            }
            return next
        }
    }

    public struct NextBatch: Sendable, Equatable {
        public var time: Int64
        public var id: Int64

        public init(time: Int64, id: Int64) {
            self.time = time
            self.id = id
        }
    }

    /// Batch times (ms since the epoch, ±285,000 years) and ids a restart can
    /// do arithmetic on; the checkpoint only ever holds values far inside.
    static let plausibleTimes: ClosedRange<Int64> = -(1 << 53)...(1 << 53)
    /// `_seq` values and block ids: they only grow, from 0.
    static let plausibleCounters: ClosedRange<Int64> = 0...(1 << 62)

    /// Everything a restart reads from the checkpoint before its first batch.
    /// Values it does arithmetic on are checked here: a damaged checkpoint
    /// (one whose pages pass SQLite's check but whose numbers are wrong) is
    /// refused with a clear error instead of trapping later.
    public func resumePoint(_ db: Database) throws -> ResumePoint {
        var point = ResumePoint()
        point.offsets = try offsets(db)
        point.positions = try positions(db)
        point.seenFiles = try seenFiles(db)
        point.maxBlockID = try maxBlockID(db)
        point.lastCommitted = try lastCommitted(db).map { ResumePoint.CommittedBatch(time: $0.time, id: $0.id) }
        point.inFlight = try inFlight(db)
        func damaged(_ what: String) -> RuntimeError {
            RuntimeError("checkpoint \(databasePath) is damaged: \(what); nothing was loaded from it")
        }
        for (source, shards) in point.offsets {
            for (shard, seq) in shards where !Self.plausibleCounters.contains(seq) {
                throw damaged("source \(source) shard '\(shard)' resumes at _seq \(seq)")
            }
        }
        guard point.maxBlockID < UInt64(Self.plausibleCounters.upperBound) else { throw damaged("block id \(point.maxBlockID)") }
        let batches = [point.lastCommitted] + point.inFlight.map { ResumePoint.CommittedBatch(time: $0.time, id: $0.batchID) }
        for batch in batches.compactMap({ $0 }) {
            guard Self.plausibleTimes.contains(batch.time), Self.plausibleTimes.contains(batch.id), batch.id >= 0 else {
                throw damaged("batch \(batch.id) at time \(batch.time)")
            }
        }
        for ref in point.inFlight.flatMap(\.blocks) {
            guard Self.plausibleCounters.contains(ref.firstSeq), ref.count >= 0, ref.count < 1 << 40 else {
                throw damaged("block \(ref.id) holds _seq \(ref.firstSeq) and \(ref.count) records")
            }
        }
        return point
    }

    /// The last committed batch, if any.
    func lastCommitted(_ db: Database) throws -> (time: Int64, id: Int64)? {
        let s = try db.prepare("SELECT batch_time, batch_id FROM ckpt._eddy_batches WHERE state = 'committed' ORDER BY batch_time DESC LIMIT 1", persistent: false)
        return try s.step() ? (s.int64(0), s.int64(1)) : nil
    }

    /// Allocations of the batches in `range` (committed, or the one in flight), oldest first.
    func allocations(_ db: Database, from: Int64, through: Int64, state: String? = nil) throws -> [Allocation] {
        let filter = state.map { " AND state = \(quoteLiteral($0))" } ?? ""
        let batches = try db.prepare("SELECT batch_time, batch_id FROM ckpt._eddy_batches WHERE batch_time >= ?1 AND batch_time <= ?2\(filter) ORDER BY batch_time", persistent: false)
        try batches.bind(1, from)
        try batches.bind(2, through)
        var out: [Allocation] = []
        while try batches.step() { out.append(Allocation(time: batches.int64(0), batchID: batches.int64(1), blocks: [], files: [])) }
        let blocks = try db.prepare("SELECT block_id, source, shard, first_seq, count, logged FROM ckpt._eddy_batch_blocks WHERE batch_time = ?1 ORDER BY first_seq, block_id", persistent: false)
        let files = try db.prepare("SELECT source, path FROM ckpt._eddy_batch_files WHERE batch_time = ?1 ORDER BY source, path", persistent: false)
        for i in out.indices {
            try blocks.bind(1, out[i].time)
            while try blocks.step() {
                out[i].blocks.append(Allocation.BlockRef(id: UInt64(bitPattern: blocks.int64(0)), source: Int(blocks.int64(1)),
                                                         shard: blocks.string(2) ?? "", firstSeq: blocks.int64(3),
                                                         count: Int(blocks.int64(4)), logged: blocks.int64(5) != 0))
            }
            blocks.reset()
            try files.bind(1, out[i].time)
            while try files.step() { out[i].files.append((Int(files.int64(0)), files.string(1) ?? "")) }
            files.reset()
        }
        return out
    }

    /// The batches allocated but not committed when the job last stopped,
    /// oldest first: up to one per lane.
    func inFlight(_ db: Database) throws -> [Allocation] {
        try allocations(db, from: Int64.min, through: Int64.max, state: "allocated")
    }

    /// Block ids every recorded batch holds (so the log knows what is unallocated).
    func allocatedBlockIDs(_ db: Database) throws -> Set<UInt64> {
        let s = try db.prepare("SELECT block_id FROM ckpt._eddy_batch_blocks", persistent: false)
        var ids: Set<UInt64> = []
        while try s.step() { ids.insert(UInt64(bitPattern: s.int64(0))) }
        return ids
    }

    func maxBlockID(_ db: Database) throws -> UInt64 {
        guard case .integer(let v)? = try db.scalar("SELECT max(block_id) FROM ckpt._eddy_batch_blocks") else { return 0 }
        return UInt64(bitPattern: v)
    }

    /// `_seq` to continue from, per source and shard.
    func offsets(_ db: Database) throws -> [Int: [String: Int64]] {
        let s = try db.prepare("SELECT source, shard, next_seq FROM ckpt._eddy_offsets", persistent: false)
        var out: [Int: [String: Int64]] = [:]
        while try s.step() { out[Int(s.int64(0)), default: [:]][s.string(1) ?? ""] = s.int64(2) }
        return out
    }

    /// Source positions (kinesis shards) of committed batches.
    func positions(_ db: Database) throws -> [Int: [String: String]] {
        let s = try db.prepare("SELECT source, shard, position FROM ckpt._eddy_offsets WHERE position IS NOT NULL", persistent: false)
        var out: [Int: [String: String]] = [:]
        while try s.step() { out[Int(s.int64(0)), default: [:]][s.string(1) ?? ""] = s.string(2) }
        return out
    }

    /// Files each file source has taken (and so will not read again).
    func seenFiles(_ db: Database) throws -> [Int: [String]] {
        let s = try db.prepare("SELECT source, path FROM ckpt._eddy_files", persistent: false)
        var out: [Int: [String]] = [:]
        while try s.step() { out[Int(s.int64(0)), default: []].append(s.string(1) ?? "") }
        return out
    }

    /// Files present when the job first started: skipped, and remembered as such.
    func markFilesSeen(_ db: Database, source: Int, paths: [String]) throws {
        let s = try db.prepare("INSERT OR IGNORE INTO ckpt._eddy_files VALUES (?1, ?2)", persistent: false)
        try db.execute("BEGIN")
        for p in paths {
            try s.bind(1, Int64(source)); try s.bind(2, p)
            try s.run()
        }
        try db.execute("COMMIT")
    }
}
