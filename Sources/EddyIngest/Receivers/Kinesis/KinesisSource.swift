import EddyBlocks
import EddyCore
import EddyKinesis
import Logging

/// A kinesis source: one receiver per shard, like a KCL worker with a record
/// processor per shard, in one process and without DynamoDB.
///
/// - Shards are listed at start and every `shard_sync_interval`.
/// - A shard starts once its parents have been read to their end (a split
///   or merge), so the records of a key keep their order across a reshard.
/// - A receiver resumes after its shard's position: the last record in the
///   write-ahead log (with `--checkpoint`) or of the last committed batch
///   (the local store, without one). `initial_position` applies only to
///   shards with no position.
/// - With `coordination = 'dynamodb'`, only the shards whose leases this
///   worker holds are read (see LeaseCoordinator), from the lease's
///   checkpoint; a parent read by another worker is done when its lease
///   says SHARD_END.
final class KinesisSource: Sendable {
    private struct State: Sendable {
        var known: [String: Shard] = [:]
        var running: Set<String> = []
        var finished: Set<String> = []
        var wake = false
        /// Where each shard resumes, as far as known.
        var positions: [String: String] = [:]
        /// First run of this source (no position anywhere): closed shards are
        /// skipped when reading from LATEST.
        var firstRun = true
        /// Closed shards skipped on a first run from LATEST: their children
        /// start from LATEST too, not from their trim horizon.
        var skipped: Set<String> = []
        /// Lease mode: a shard's receiver context, kept across lease moves so
        /// its `_seq` keeps rising.
        var contexts: [String: ReceiverContext] = [:]
        /// Lease mode: a lease was taken, or a receiver let one go.
        var leaseWake = false
    }

    let source: LiveSource
    let options: KinesisOptions
    let client: KinesisClient
    let env: ReceiverEnvironment
    /// A shard's position from the checkpoint or the local store.
    let lookup: @Sendable (String) -> String?
    /// nil with `coordination = 'local'`.
    let leases: LeaseCoordinator?
    private let state = ConditionLock(State())
    private let logger = Logger(label: "eddy.kinesis")

    init(source: LiveSource, options: KinesisOptions, client: KinesisClient, env: ReceiverEnvironment,
         lookup: @escaping @Sendable (String) -> String?, leases: LeaseCoordinator? = nil) {
        self.source = source
        self.options = options
        self.client = client
        self.env = env
        self.lookup = lookup
        self.leases = leases
    }

    /// A lease was taken: its shard resumes at the lease's checkpoint.
    func leaseAcquired(_ shard: String, at position: ShardPosition?) {
        state.withLock { s in
            if let position { s.positions[shard] = position.description } else { s.positions[shard] = nil }
            s.finished.remove(shard)
            s.leaseWake = true
        }
    }

    /// A receiver stopped because its lease is gone (or was not renewed in
    /// time); it may start again when the lease is held again: after what it
    /// took, unless a new take says otherwise (see leaseAcquired).
    func shardReleased(_ shard: String, at last: ShardPosition?) {
        state.withLock { s in
            s.running.remove(shard)
            if let last { s.positions[shard] = last.description }
            s.leaseWake = true
        }
    }

    /// Lists the shards once, here, so a missing stream or refused
    /// credentials stop the job before it starts; then keeps them in sync.
    func start() throws(KinesisError) {
        let shards = try listShardsAtStart()
        state.withLock { s in
            for shard in shards {
                guard let p = lookup(shard.shardId) else { continue }
                s.positions[shard.shardId] = p
                if p == ShardPosition.end.description { s.finished.insert(shard.shardId) }
            }
            s.firstRun = s.positions.isEmpty && leases?.anyPosition != true
        }
        logger.info("source \(source.name): kinesis stream \(options.stream) has \(shards.count) shard(s) (\(client.endpoint.url))")
        if let leases {
            do {
                try leases.sync(shards)
            } catch {
                throw .invalidRequest("lease table \(leases.table.name): \(error)")
            }
            leases.onAcquired { [weak self] shard, position in self?.leaseAcquired(shard, at: position) }
        }
        reconcile(shards, initial: true)
        do {
            try env.tracker.launch(name: "eddy-kinesis-sync") { [self] in syncLoop() }
        } catch {
            source.fail("source \(source.name): \(error)")
        }
    }

    /// A throttle or a dropped connection at start is retried with backoff,
    /// as later listings are; what cannot heal (a missing stream, refused
    /// credentials) fails at once.
    private func listShardsAtStart(attempts: Int = 7) throws(KinesisError) -> [Shard] {
        var attempt = 0
        while true {
            do {
                return try client.listShards(stream: options.stream)
            } catch where error.isRetryable && attempt + 1 < attempts && !env.tracker.stop.isRequested {
                attempt += 1
                logger.warning("source \(source.name): listing the shards of \(options.stream): \(error); retrying with backoff")
                if env.tracker.stop.wait(timeoutMs: Int64(KinesisClient.backoff(attempt: attempt - 1) * 1000)) { throw error }
            }
        }
    }

    private func syncLoop() {
        var attempt = 0
        while !env.tracker.stop.isRequested {
            // Sleep until the next sync, or until a shard finished.
            let deadline = MonotonicTime.now() / 1_000_000 + options.shardSyncInterval
            var leaseWake = false
            while !env.tracker.stop.isRequested && MonotonicTime.now() / 1_000_000 < deadline {
                if state.withLock({ s in let w = s.wake; s.wake = false; return w }) { break }
                leaseWake = state.withLock { s in let w = s.leaseWake; s.leaseWake = false; return w }
                if leaseWake { break }
                _ = env.tracker.stop.wait(timeoutMs: 100)
            }
            if env.tracker.stop.isRequested { return }
            if leaseWake {
                // Shards already listed: start what the leases allow, no listing.
                reconcile(state.withLock { Array($0.known.values) }, initial: false)
                continue
            }
            do {
                let shards = try client.listShards(stream: options.stream)
                try leases?.sync(shards)
                reconcile(shards, initial: false)
                attempt = 0
            } catch let error as KinesisError where error.isRetryable {
                attempt += 1
                if attempt == 1 || attempt % 10 == 0 { logger.warning("source \(source.name): listing shards: \(error); retrying") }
            } catch let error as DynamoDBError where error.isRetryable {
                logger.warning("source \(source.name): creating leases: \(error); retrying")
            } catch {
                source.fail("source \(source.name): listing the shards of \(options.stream): \(error)")
                return
            }
        }
    }

    /// Starts every shard whose parents are done.
    private func reconcile(_ shards: [Shard], initial: Bool) {
        var skippedNow: [String] = []
        // Lease mode: only shards this worker holds, each with its lease's generation.
        let grants: [String: Int]? = leases.map { l in Dictionary(uniqueKeysWithValues: l.heldShards.compactMap { k in l.grant(k).map { (k, $0) } }) }
        let toStart: [(Shard, KinesisClient.IteratorStart?, ShardPosition?)] = state.withLock { s in
            for shard in shards { s.known[shard.shardId] = shard }
            var out: [(Shard, KinesisClient.IteratorStart?, ShardPosition?)] = []
            for shard in shards where !s.running.contains(shard.shardId) && !s.finished.contains(shard.shardId) {
                if let grants, grants[shard.shardId] == nil { continue }
                if s.positions[shard.shardId] == nil, let p = lookup(shard.shardId) { s.positions[shard.shardId] = p }
                let stored = s.positions[shard.shardId].flatMap(ShardPosition.init)
                if stored == .end {
                    s.finished.insert(shard.shardId)
                    continue
                }
                let closed = shard.sequenceNumberRange?.endingSequenceNumber != nil
                // A parent that is no longer listed has expired: nothing left to read in it.
                let parentsDone = shard.parents.allSatisfy { s.finished.contains($0) || s.known[$0] == nil || leases?.isFinished($0) == true }
                guard parentsDone else { continue }
                // Parents read in this run (not skipped, still listed): the
                // shard continues them from its first record.
                let continuesReadParent = shard.parents.contains { s.known[$0] != nil && !s.skipped.contains($0) }
                var start: KinesisClient.IteratorStart?
                if stored == nil {
                    switch options.initialPosition {
                    case .latest where s.firstRun && closed:
                        // Reading from now on: a closed shard has nothing new.
                        // Its END is logged, so a restart does not read it.
                        s.finished.insert(shard.shardId)
                        s.skipped.insert(shard.shardId)
                        skippedNow.append(shard.shardId)
                        continue
                    case .latest:
                        start = continuesReadParent || (!initial && shard.parents.isEmpty) ? .trimHorizon : .latest
                    case .atTimestamp(let t):
                        // Open or closed, parent or child: what arrived from t on.
                        start = .atTimestamp(t)
                    case .trimHorizon:
                        start = .trimHorizon
                    }
                }
                s.running.insert(shard.shardId)
                out.append((shard, start, stored))
            }
            return out
        }
        for shard in skippedNow {
            let ctx = source.makeContext(shard: shard, env: env)
            ctx.status.set(.finished)
            ctx.generator.mark(position: ShardPosition.end.description, now: WallClock.nowMs())
        }
        for (shard, start, stored) in toStart {
            let ctx = context(shard.shardId)
            let lease = grants?[shard.shardId].map { LeaseGrant(coordinator: leases, shard: shard.shardId, generation: $0) }
            let receiver = KinesisShardReceiver(ctx: ctx, source: self, shard: shard.shardId, start: start, stored: stored, lease: lease)
            do {
                try env.tracker.launch(name: "eddy-kinesis") { receiver.run() }
            } catch {
                // The job stops with this message; the shard's records stay in the stream.
                source.fail("source \(source.name): shard \(shard.shardId): \(error)")
            }
        }
    }

    /// A shard's receiver context: one per shard for the whole run, so a
    /// shard whose lease comes back continues its blocks' `_seq`.
    private func context(_ shard: String) -> ReceiverContext {
        guard leases != nil else { return source.makeContext(shard: shard, env: env) }
        if let ctx = state.withLock({ $0.contexts[shard] }) { return ctx }
        let ctx = source.makeContext(shard: shard, env: env)
        state.withLock { $0.contexts[shard] = ctx }
        return ctx
    }

    /// A receiver read its shard to the end: its children may start.
    func shardFinished(_ shard: String) {
        state.withLock { s in
            s.running.remove(shard)
            s.finished.insert(shard)
            s.wake = true
        }
    }
}

/// Reads one shard: GetRecords in a loop, at most 5 calls a second, records
/// de-aggregated and parsed into the shard's blocks.
struct KinesisShardReceiver: Sendable {
    /// How far before its first start a LATEST shard that has taken nothing
    /// resumes after a restart: covers clock skew between eddy and Kinesis.
    static let clockSkewMarginMs: Int64 = 1000

    let ctx: ReceiverContext
    let source: KinesisSource
    let shard: String
    let start: KinesisClient.IteratorStart?
    let stored: ShardPosition?
    /// Lease mode: the lease this receiver reads under.
    let lease: LeaseGrant?

    func run() {
        let logger = Logger(label: "eddy.kinesis")
        let client = source.client
        let options = source.options
        let stream = options.stream
        var last: ShardPosition? = stored
        var decoder = RecordDecoder(schema: ctx.schema)
        var attempt = 0
        var iterator: String?

        func fail(_ error: KinesisError) {
            ctx.status.error("\(error)", phase: .failed)
            source.source.fail("source \(ctx.source): shard \(shard) of \(stream): \(error)")
        }
        /// Where to (re)start: after the last record taken, or the starting position.
        func freshIterator() throws(KinesisError) -> String {
            switch last {
            case .record(let seq, _)?: return try client.shardIterator(stream: stream, shard: shard, from: .atSequence(seq))
            case .end?: throw .invalidRequest("shard already read to its end")
            case .since(let ms)?: return try client.shardIterator(stream: stream, shard: shard, from: .atTimestamp(Double(ms) / 1000))
            case nil:
                let from = start ?? .trimHorizon
                let since: Int64?
                switch from {
                // LATEST is "from now": the clock is read before asking, less
                // a margin for skew against the server's clock.
                case .latest: since = WallClock.nowMs() - KinesisShardReceiver.clockSkewMarginMs
                case .atTimestamp(let t): since = Int64((t * 1000).rounded(.down))
                default: since = nil
                }
                let iterator = try client.shardIterator(stream: stream, shard: shard, from: from)
                if let since {
                    // Logged with the next batch: a restart before any record
                    // arrives resumes from here rather than from LATEST again.
                    last = .since(ms: max(0, since))
                    ctx.generator.mark(position: ShardPosition.since(ms: max(0, since)).description, now: WallClock.nowMs())
                }
                return iterator
            }
        }

        if last == .end {
            ctx.status.set(.finished)
            source.shardFinished(shard)
            return
        }
        /// Lease mode: the lease is gone (taken, or not renewed in time): stop at once.
        func leaseLost() -> Bool {
            guard let lease, !lease.mayRead else { return false }
            logger.info("source \(ctx.source): shard \(shard): stopped reading, its lease is no longer held")
            source.shardReleased(shard, at: last)
            return true
        }
        while !ctx.stop.isRequested {
            guard ctx.store.awaitCapacity(stop: ctx.stop) else { return }
            if leaseLost() { return }
            let response: GetRecordsOutput
            do {
                if iterator == nil { iterator = try freshIterator() }
                response = try client.getRecords(iterator: iterator ?? "", limit: options.maxRecords)
                if attempt > 0 { ctx.status.set(.receiving) }
                attempt = 0
            } catch let error {
                switch error {
                case .expiredIterator:
                    iterator = nil
                    continue
                case _ where error.isRetryable:
                    attempt += 1
                    ctx.status.error("\(error)")
                    if attempt == 1 || attempt % 10 == 0 {
                        logger.warning("source \(ctx.source): shard \(shard): \(error); retrying with backoff")
                    }
                    if ctx.stop.wait(timeoutMs: Int64(KinesisClient.backoff(attempt: attempt - 1) * 1000)) { return }
                    continue
                default:
                    fail(error)
                    return
                }
            }
            // Records read after the lease is gone are not taken: the next owner reads them.
            if leaseLost() { return }
            var added = 0
            if !response.records.isEmpty {
                let now = WallClock.nowMs()
                var position = last
                // Where this read resumes: a fresh iterator (at start, or after
                // ExpiredIterator) starts AT the last record taken.
                let resume = last
                added = ctx.generator.appendPositioned(now: now) { builder in
                    var n = 0
                    for record in response.records {
                        let arrival = record.arrivalMs(now: now)
                        for user in KPL.deaggregate(Array(record.data), partitionKey: record.partitionKey) {
                            // What a fresh iterator gives again (the last record taken, or the
                            // part of an aggregate already taken) is skipped.
                            if case .record(let s, let sub)? = resume, s == record.sequenceNumber, user.subSequence <= sub { continue }
                            n += user.data.withUnsafeBytes { bytes in
                                decoder.feed(bytes, arrival: arrival, shard: shard, errors: ctx.errors, into: &builder)
                                    + decoder.finish(arrival: arrival, shard: shard, errors: ctx.errors, into: &builder)
                            }
                            position = .record(sequence: record.sequenceNumber, subSequence: user.subSequence)
                        }
                    }
                    return (n, position?.description)
                }
                last = position
            }
            source.source.setGauge("behind_ms/\(shard)", response.millisBehindLatest ?? 0)
            ctx.limiter.acquire(added, stop: ctx.stop)
            guard let next = response.nextShardIterator, !next.isEmpty else {
                // A closed shard read to its end: log that, then let the children start.
                ctx.generator.mark(position: ShardPosition.end.description, now: WallClock.nowMs())
                logger.info("source \(ctx.source): shard \(shard) is closed and read to its end")
                ctx.status.set(.finished)
                source.shardFinished(shard)
                return
            }
            iterator = next
            ctx.generator.tick(now: WallClock.nowMs())
            let behind = (response.millisBehindLatest ?? 0) > 0 && !response.records.isEmpty
            if ctx.stop.wait(timeoutMs: behind ? 200 : options.pollInterval) { return }
            ctx.generator.tick(now: WallClock.nowMs())
        }
    }
}

/// The lease a receiver reads under: valid while the coordinator holds it at
/// the same generation and has renewed it recently enough.
struct LeaseGrant: Sendable {
    let coordinator: LeaseCoordinator?
    let shard: String
    let generation: Int

    var mayRead: Bool { coordinator?.mayRead(shard, generation: generation) ?? true }
}
