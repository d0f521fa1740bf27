import EddyBlocks
import EddyCore
import EddyKinesis
import Logging

/// What receivers share within one run.
public struct ReceiverEnvironment: Sendable {
    public let tracker: ReceiverTracker
    public let store: BlockStore
    public let ids: BlockIDSource
    public let blockInterval: Int64
    public let blockMaxBytes: Int
    /// Records/s per receiver at start (max_rate, or initial_rate under backpressure); 0 = none.
    public let startRate: @Sendable (Int) -> Double
    /// Where a shard's `_seq` resumes (0 on a fresh start).
    public let firstSeq: @Sendable (Int, String) -> Int64
    /// Persists a sealed block before the store sees it (checkpointing).
    public let wal: (@Sendable (Block) throws -> Void)?
    /// Where a shard of a positioned source (kinesis) resumes, from the
    /// checkpoint; nil when there is none.
    public let position: @Sendable (Int, String) -> String?
    /// Whether a checkpoint keeps positions (else kinesis keeps its own store).
    public let checkpointed: Bool

    public init(tracker: ReceiverTracker, store: BlockStore, ids: BlockIDSource, blockInterval: Int64,
                blockMaxBytes: Int, startRate: @escaping @Sendable (Int) -> Double,
                firstSeq: @escaping @Sendable (Int, String) -> Int64,
                wal: (@Sendable (Block) throws -> Void)? = nil,
                position: @escaping @Sendable (Int, String) -> String? = { _, _ in nil },
                checkpointed: Bool = false) {
        self.tracker = tracker
        self.store = store
        self.ids = ids
        self.blockInterval = blockInterval
        self.blockMaxBytes = blockMaxBytes
        self.startRate = { startRate($0) }
        self.firstSeq = firstSeq
        self.wal = wal
        self.position = position
        self.checkpointed = checkpointed
    }
}

/// A source of the job with its receivers: it starts one receiver per shard
/// on its own thread. `file` sources have none; the engine reads them per batch.
public final class LiveSource: Sendable {
    public let index: Int
    public let name: String
    public let config: SourceConfig
    public let errors: ErrorLog
    private let status = ConditionLock<(failure: String?, gauges: [String: Int64])>((nil, [:]))
    private let positionStore: KinesisPositionStore?
    /// What workers sharing a lease table must agree on (see LeaseTable.claim).
    private let jobText: String
    /// `coordination = 'dynamodb'`: this source's leases, once started.
    private let leases = ConditionLock<LeaseCoordinator?>(nil)

    public init(index: Int, name: String, config: SourceConfig, jobText: String = "") throws {
        self.index = index
        self.name = name
        self.config = config
        self.jobText = jobText
        self.errors = try ErrorLog(source: name, path: config.errorsPath)
        if case .kinesis(let k) = config.connector, k.coordination == .local {
            positionStore = KinesisPositionStore(appName: k.appName ?? "eddy-\(name)")
        } else {
            positionStore = nil
        }
    }

    /// A receiver failed for good (a stream that is gone, refused
    /// credentials): the engine stops the job with this message.
    public func fail(_ message: String) {
        status.withLock { if $0.failure == nil { $0.failure = message } }
    }

    public var failure: String? { status.withLock { $0.failure } }

    /// Per-shard figures for the metrics line (Kinesis' MillisBehindLatest).
    public func setGauge(_ name: String, _ value: Int64) { status.withLock { $0.gauges[name] = value } }

    /// A copy made under the lock, into storage of its own. Handing out the
    /// dictionary itself would share its storage with a receiver thread that
    /// writes it in place as soon as the reader lets go of it; that hand-off
    /// is ordered only by reference counts, which ThreadSanitizer cannot see
    /// (scripts/sanitize.sh thread reported it as a race with the ordered tail).
    public var gauges: [String: Int64] {
        status.withLock { status in
            var copy: [String: Int64] = [:]
            copy.reserveCapacity(status.gauges.count)
            for (name, value) in status.gauges { copy[name] = value }
            return copy
        }
    }

    /// A batch holding these blocks committed. Without a checkpoint, kinesis
    /// keeps the shards' positions in its own store from here.
    /// With leases, the positions go to the lease table, checkpoint or not.
    public func committed(_ blocks: [Block], checkpointed: Bool) throws {
        let coordinator = leases.withLock { $0 }
        guard coordinator != nil || (positionStore != nil && !checkpointed) else { return }
        var last: [String: (Int64, String)] = [:]
        for b in blocks where b.source == index {
            guard let p = b.position else { continue }
            if b.firstSeq >= last[b.shard]?.0 ?? Int64.min { last[b.shard] = (b.firstSeq, p) }
        }
        if last.isEmpty { return }
        if let coordinator {
            coordinator.committed(last.mapValues(\.1))
        } else if let positionStore {
            try positionStore.save(last.mapValues(\.1))
        }
    }

    /// After the last batch: a lease-mode source writes its last checkpoints
    /// and gives its leases up.
    public func close() {
        leases.withLock { $0 }?.close()
    }

    /// The shards whose leases this worker holds (lease mode), for status.
    public var heldLeases: [String] { leases.withLock { $0 }?.heldShards ?? [] }

    /// The leases this worker holds, with their counters and renewals, for
    /// the monitor; empty without `coordination = 'dynamodb'`.
    public var leaseFigures: [HeldLease] { leases.withLock { $0 }?.heldLeases ?? [] }

    func makeContext(shard: String, env: ReceiverEnvironment) -> ReceiverContext {
        let generator = BlockGenerator(source: index, shard: shard, columns: config.schema.valueCount,
                                       firstSeq: env.firstSeq(index, shard), blockInterval: env.blockInterval,
                                       blockMaxBytes: env.blockMaxBytes, store: env.store, ids: env.ids, wal: env.wal)
        let limiter = RateLimiter(rate: env.startRate(index))
        let status = ReceiverStatus()
        env.tracker.register(generator, limiter: limiter, status: status)
        return ReceiverContext(source: name, generator: generator, store: env.store, stop: env.tracker.stop,
                               limiter: limiter, errors: errors, schema: config.schema, status: status)
    }

    /// Starts this source's receivers. Fails only when a `listen` address
    /// cannot be bound.
    public func start(_ env: ReceiverEnvironment) throws(RuntimeError) {
        do {
            try startReceivers(env)
        } catch let e as ThreadStartError {
            throw RuntimeError("source \(name): \(e)")
        } catch let e as RuntimeError {
            throw e
        } catch {
            throw RuntimeError("source \(name): \(error)")
        }
    }

    private func startReceivers(_ env: ReceiverEnvironment) throws {
        switch config.connector {
        case .generator(let options):
            for shard in 0..<options.shards {
                let ctx = makeContext(shard: String(shard), env: env)
                try env.tracker.launch(name: "eddy-gen-\(shard)") {
                    GeneratorReceiver.run(ctx, options: options, shard: shard)
                }
            }
        case .socket(let addresses, let ack):
            for address in addresses {
                let ctx = makeContext(shard: address.description, env: env)
                let acks = try ack.map { try Acknowledger(timeoutMs: $0.timeoutMs) }
                try env.tracker.launch(name: "eddy-sock") { SocketReceiver.run(ctx, address: address, acks: acks) }
            }
        case .stdin:
            let ctx = makeContext(shard: "stdin", env: env)
            try env.tracker.launch(name: "eddy-stdin") { StdinReceiver.run(ctx) }
        case .listen(let address, let maxConnections, let ack):
            let socket: TCPSocket
            switch TCPSocket.listen(on: address) {
            case .failure(let e): throw RuntimeError("source \(name): \(e.message)")
            case .success(let s): socket = s
            }
            Logger(label: "eddy.listen").info("source \(name): listening on \(address.host):\(socket.localPort)")
            let listener = Listener(source: self, socket: socket, maxConnections: maxConnections, ack: ack)
            do {
                try env.tracker.launch(name: "eddy-listen") { listener.run(env) }
            } catch {
                socket.close()
                throw error
            }
        case .file:
            break
        case .kinesis(let options):
            // Positions first: an unreadable store stops the job before any request.
            let stored: [String: String]
            do {
                stored = env.checkpointed ? [:] : try positionStore?.load() ?? [:]
            } catch {
                throw RuntimeError("source \(name): \(error.message)")
            }
            let credentials: AWSCredentials
            do {
                credentials = try AWSCredentials.resolve()
            } catch {
                throw RuntimeError("source \(name): \(error)")
            }
            let client = KinesisClient(endpoint: KinesisEndpoint(region: options.resolvedRegion(), endpoint: options.resolvedEndpoint()),
                                       credentials: credentials)
            var coordinator: LeaseCoordinator?
            if case .dynamodb(let leaseOptions) = options.coordination {
                coordinator = try startLeases(options, leaseOptions, credentials: credentials)
            }
            let lookup: @Sendable (String) -> String?
            if coordinator != nil {
                // Positions come from the leases as they are taken.
                lookup = { _ in nil }
            } else if env.checkpointed {
                let index = self.index
                lookup = { shard in env.position(index, shard) }
            } else {
                lookup = { shard in stored[shard] }
            }
            let kinesis = KinesisSource(source: self, options: options, client: client, env: env, lookup: lookup, leases: coordinator)
            do {
                try kinesis.start()
                try coordinator?.start()
            } catch {
                throw RuntimeError("source \(name): kinesis stream '\(options.stream)' at \(client.endpoint.url): \(error)")
            }
        }
    }
}

extension LiveSource {
    /// The lease table is made ready and claimed for this job before any
    /// shard is read: a table of another job stops this one at start.
    fileprivate func startLeases(_ options: KinesisOptions, _ leaseOptions: KinesisOptions.LeaseOptions,
                                 credentials: AWSCredentials) throws -> LeaseCoordinator {
        let env = ProcessEnvironment.all()
        let tableName = leaseOptions.table ?? options.appName ?? "eddy-\(name)"
        let dynamo = DynamoDBClient(region: options.resolvedRegion(env), endpoint: DynamoDBClient.endpointFromEnvironment(env),
                                    credentials: credentials)
        let coordinator = LeaseCoordinator(table: LeaseTable(client: dynamo, name: tableName),
                                           worker: leaseOptions.workerID ?? LeaseCoordinator.defaultWorkerID(),
                                           options: leaseOptions, initialPosition: options.initialPosition)
        do {
            try coordinator.prepare(jobHash: LeaseTable.jobHash(jobText))
        } catch let e as LeaseTableError {
            throw RuntimeError("source \(name): \(e.message)")
        } catch {
            throw RuntimeError("source \(name): lease table '\(tableName)' at \(dynamo.url): \(error)")
        }
        Logger(label: "eddy.leases").info("source \(name): worker \(coordinator.worker) shares stream \(options.stream) through lease table \(tableName) (failover_time \(Units.formatDuration(leaseOptions.failoverTime)))")
        leases.withLock { $0 = coordinator }
        return coordinator
    }
}
