import EddyCore
import EddyKinesis
import Glibc
import Logging

/// Shares a stream's shards among the workers running one job, through a
/// KCL lease table (`coordination = 'dynamodb'`). One thread per source:
///
/// - renews the leases it holds every `failover_time / 3`;
/// - watches every lease's counter; one unchanged for `failover_time` (by
///   this worker's own clock, so clocks need only tick at the same rate) is
///   expired and may be taken;
/// - takes and steals per LeaseBalancer, each a conditional write;
/// - writes checkpoints of committed batches (never before the commit);
/// - a lost conditional write drops the lease at once; a lease it could not
///   renew is dropped `safetyMargin` before another worker may take it.
///
/// Receivers ask `mayRead` before every read and stop when it says no.
final class LeaseCoordinator: Sendable {
    struct Held: Sendable {
        var lease: Lease
        var generation: Int
        /// Monotonic ms when the last successful write of the lease was sent.
        var writtenAt: Int64
    }

    struct Observed: Sendable {
        var counter: Int64
        var owner: String?
        /// Monotonic ms when this worker first saw this counter.
        var since: Int64
    }

    private struct State: Sendable {
        var held: [String: Held] = [:]
        var observed: [String: Observed] = [:]
        var leases: [String: Lease] = [:]
        var pending: [String: ShardPosition] = [:]
        var generation = 0
        var stop = false
        var stopped = false
        var wake = false
    }

    let table: LeaseTable
    let worker: String
    let failoverMs: Int64
    let maxLeases: Int?
    let initialCheckpoint: (checkpoint: String, since: Int64?)
    /// Called (on the coordinator's thread) when a lease is taken, with where its shard resumes.
    private let acquired = ConditionLock<(@Sendable (String, ShardPosition?) -> Void)?>(nil)
    private let state = ConditionLock(State())
    private let logger = Logger(label: "eddy.leases")

    init(table: LeaseTable, worker: String, options: KinesisOptions.LeaseOptions, initialPosition: KinesisOptions.InitialPosition) {
        self.table = table
        self.worker = worker
        failoverMs = options.failoverTime
        maxLeases = options.maxLeasesPerWorker
        switch initialPosition {
        case .trimHorizon: initialCheckpoint = ("TRIM_HORIZON", nil)
        case .latest: initialCheckpoint = ("LATEST", nil)
        case .atTimestamp(let t): initialCheckpoint = ("AT_TIMESTAMP", Int64((t * 1000).rounded(.down)))
        }
    }

    /// What to do when a lease is taken: start reading its shard.
    func onAcquired(_ body: @escaping @Sendable (String, ShardPosition?) -> Void) { acquired.withLock { $0 = body } }

    /// How often the table is read for expired leases and balance.
    var tickMs: Int64 { max(200, failoverMs / 10) }
    var renewMs: Int64 { failoverMs / 3 }
    /// A lease this worker could not renew is dropped this long before
    /// another worker may take it: covers the receivers' check interval and
    /// clocks that tick at slightly different rates.
    var safetyMarginMs: Int64 { max(failoverMs / 5, 2 * tickMs) }

    static func defaultWorkerID() -> String {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        return "\(host):\(getpid())"
    }

    private static func nowMs() -> Int64 { MonotonicTime.now() / 1_000_000 }

    /// The table exists and belongs to this job; then the first scan.
    func prepare(jobHash: String) throws {
        try table.ensureExists()
        try table.claim(jobHash: jobHash, jobLabel: "claimed by worker \(worker)")
        observe(try table.leases())
    }

    /// Shards with no lease get one, free, at the initial position (children
    /// of listed parents at TRIM_HORIZON, as KCL does).
    func sync(_ shards: [Shard]) throws(DynamoDBError) {
        let known = state.withLock { $0.leases }
        let listed = Set(shards.map(\.shardId))
        for shard in shards where known[shard.shardId] == nil {
            let child = shard.parents.contains { listed.contains($0) || known[$0] != nil }
            try table.create(shard: shard.shardId, parents: shard.parents,
                             checkpoint: child ? "TRIM_HORIZON" : initialCheckpoint.checkpoint,
                             since: child ? nil : initialCheckpoint.since)
        }
    }

    /// Any lease in the table has a committed position: not a first run.
    var anyPosition: Bool { state.withLock { s in s.leases.values.contains { $0.position != nil } } }

    /// Whether the table says this shard was read to its end.
    func isFinished(_ shard: String) -> Bool { state.withLock { $0.leases[shard]?.isFinished == true } }

    /// The generation of this worker's lease on the shard, if it holds one.
    func grant(_ shard: String) -> Int? { state.withLock { $0.held[shard]?.generation } }

    /// Whether a receiver of lease `generation` may still read the shard:
    /// the lease is held, not taken again since, and renewed recently enough.
    func mayRead(_ shard: String, generation: Int) -> Bool {
        let now = Self.nowMs()
        return state.withLock { s in
            guard let h = s.held[shard], h.generation == generation else { return false }
            return now < h.writtenAt + failoverMs - safetyMarginMs
        }
    }

    var heldShards: [String] { state.withLock { $0.held.keys.sorted() } }

    /// This worker's leases now, as the monitor shows them.
    var heldLeases: [HeldLease] {
        let now = Self.nowMs()
        return state.withLock { s in
            s.held.values.sorted { $0.lease.key < $1.lease.key }.map { h in
                HeldLease(shard: h.lease.key, table: table.name, worker: worker, counter: h.lease.counter,
                          checkpoint: h.lease.checkpoint, renewedAgoMs: max(0, now - h.writtenAt),
                          dropInMs: h.writtenAt + failoverMs - safetyMarginMs - now)
            }
        }
    }

    /// A batch holding records up to these positions committed.
    func committed(_ positions: [String: String]) {
        state.update { s in
            for (shard, text) in positions where s.held[shard] != nil {
                if let p = ShardPosition(text) { s.pending[shard] = p }
            }
            s.wake = true
        }
    }

    func start() throws(ThreadStartError) {
        try startThread(name: "eddy-leases") { [self] in
            loop()
            state.update { $0.stopped = true }
        }
    }

    /// After the last batch committed: writes its checkpoints and gives the
    /// leases up, so other workers take them without waiting for expiry.
    func close() {
        state.update { $0.stop = true }
        _ = state.wait(until: { $0.stopped }, timeoutMs: 30_000, then: { _ in true })
        writeCheckpoints()
        let held = state.withLock { s in
            let h = s.held
            s.held = [:]
            return h
        }
        for h in held.values {
            do {
                try table.release(h.lease)
            } catch {
                logger.warning("lease table \(table.name): releasing the lease of shard \(h.lease.key): \(error)")
            }
        }
        if !held.isEmpty { logger.info("lease table \(table.name): released \(held.count) lease(s)") }
    }

    private func loop() {
        var nextRenew = Self.nowMs() + renewMs
        while !state.withLock({ $0.stop }) {
            if Self.nowMs() >= nextRenew {
                nextRenew = Self.nowMs() + renewMs
                renew()
            }
            writeCheckpoints()
            do {
                observe(try table.leases())
                dropTaken()
                take()
            } catch {
                logger.warning("lease table \(table.name): \(error)")
            }
            dropStale()
            let deadline = Self.nowMs() + tickMs
            _ = state.wait(until: { $0.stop || $0.wake }, timeoutMs: max(1, deadline - Self.nowMs()), then: { s in s.wake = false })
        }
    }

    /// Remembers when each counter was first seen, to tell expiry.
    private func observe(_ leases: [Lease]) {
        let now = Self.nowMs()
        state.withLock { s in
            s.leases = Dictionary(leases.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            for l in leases {
                if let o = s.observed[l.key], o.counter == l.counter, o.owner == l.owner { continue }
                s.observed[l.key] = Observed(counter: l.counter, owner: l.owner, since: now)
            }
        }
    }

    private func take() {
        let now = Self.nowMs()
        let (leases, expired) = state.withLock { s -> ([Lease], Set<String>) in
            var expired: Set<String> = []
            for l in s.leases.values where l.owner != nil {
                if l.owner == worker, s.held[l.key] == nil { expired.insert(l.key); continue }
                if l.owner != worker, let o = s.observed[l.key], now - o.since > failoverMs { expired.insert(l.key) }
            }
            return (Array(s.leases.values), expired)
        }
        let chosen = LeaseBalancer(leases: leases, me: worker, expired: expired, maxLeases: maxLeases).choose()
        for lease in chosen {
            let sent = Self.nowMs()
            do throws(DynamoDBError) {
                let held = try table.take(lease, worker: worker)
                let generation = state.withLock { s in
                    s.generation += 1
                    s.held[lease.key] = Held(lease: held, generation: s.generation, writtenAt: sent)
                    s.leases[lease.key] = held
                    s.observed[lease.key] = Observed(counter: held.counter, owner: worker, since: sent)
                    return s.generation
                }
                let how = lease.owner == nil ? "took" : expired.contains(lease.key) ? "took expired" : "stole"
                logger.info("lease table \(table.name): \(how) the lease of shard \(lease.key)\(lease.owner.map { " from \($0)" } ?? "") (generation \(generation), resuming at \(lease.checkpoint))")
                // The take held on the counter seen, so the checkpoint seen is current.
                acquired.withLock { $0 }?(lease.key, lease.position)
            } catch .conditionFailed {
                continue
            } catch {
                logger.warning("lease table \(table.name): taking shard \(lease.key): \(error)")
            }
        }
    }

    private func renew() {
        let held = state.withLock { $0.held }
        for (shard, h) in held {
            let sent = Self.nowMs()
            do throws(DynamoDBError) {
                let renewed = try table.renew(h.lease)
                state.withLock { s in
                    guard s.held[shard]?.generation == h.generation else { return }
                    s.held[shard]?.lease = renewed
                    s.held[shard]?.writtenAt = sent
                }
            } catch .conditionFailed {
                lose(shard, generation: h.generation, because: "another worker took it")
            } catch {
                logger.warning("lease table \(table.name): renewing shard \(shard): \(error)")
            }
        }
    }

    private func writeCheckpoints() {
        let work = state.withLock { s -> [(String, Held, ShardPosition)] in
            let out = s.pending.compactMap { shard, p in s.held[shard].map { (shard, $0, p) } }
            s.pending = [:]
            return out
        }
        for (shard, h, position) in work {
            let sent = Self.nowMs()
            do throws(DynamoDBError) {
                let written = try table.checkpoint(h.lease, at: position)
                state.withLock { s in
                    guard s.held[shard]?.generation == h.generation else { return }
                    if written.isFinished {
                        // Read to its end: nothing more to renew; children may start anywhere.
                        s.held[shard] = nil
                    } else {
                        s.held[shard]?.lease = written
                        s.held[shard]?.writtenAt = sent
                    }
                    s.leases[shard] = written
                }
            } catch .conditionFailed {
                lose(shard, generation: h.generation, because: "another worker took it before its checkpoint was written")
            } catch {
                logger.warning("lease table \(table.name): checkpoint of shard \(shard): \(error); retrying")
                state.withLock { s in if s.pending[shard] == nil { s.pending[shard] = position } }
            }
        }
    }

    /// Held leases the table shows written by someone else: stolen.
    private func dropTaken() {
        let taken = state.withLock { s in
            s.held.values.filter { h in
                guard let seen = s.leases[h.lease.key] else { return true }
                return seen.owner != worker || seen.counter > h.lease.counter
            }
        }
        for h in taken {
            lose(h.lease.key, generation: h.generation, because: "the table shows it taken by \(state.withLock { $0.leases[h.lease.key]?.owner } ?? "nobody")")
        }
    }

    /// Leases not renewed for `failover_time - safetyMargin` are dropped:
    /// another worker may take them soon, and this one must have stopped by then.
    private func dropStale() {
        let now = Self.nowMs()
        let stale = state.withLock { s in s.held.values.filter { now >= $0.writtenAt + failoverMs - safetyMarginMs } }
        for h in stale {
            lose(h.lease.key, generation: h.generation,
                 because: "it could not be renewed for \(Units.formatDuration(now - h.writtenAt)) (failover_time \(Units.formatDuration(failoverMs)))")
        }
    }

    private func lose(_ shard: String, generation: Int, because reason: String) {
        let lost = state.withLock { s -> Bool in
            guard s.held[shard]?.generation == generation else { return false }
            s.held[shard] = nil
            s.pending[shard] = nil
            return true
        }
        if lost { logger.warning("lease table \(table.name): lost the lease of shard \(shard): \(reason); stopped reading it") }
    }
}
