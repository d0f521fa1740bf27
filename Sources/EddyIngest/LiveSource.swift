import EddyBlocks
import EddyCore
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

    public init(tracker: ReceiverTracker, store: BlockStore, ids: BlockIDSource, blockInterval: Int64,
                blockMaxBytes: Int, startRate: @escaping @Sendable (Int) -> Double,
                firstSeq: @escaping @Sendable (Int, String) -> Int64,
                wal: (@Sendable (Block) throws -> Void)? = nil) {
        self.tracker = tracker
        self.store = store
        self.ids = ids
        self.blockInterval = blockInterval
        self.blockMaxBytes = blockMaxBytes
        self.startRate = { startRate($0) }
        self.firstSeq = firstSeq
        self.wal = wal
    }
}

/// A source of the job with its receivers: it starts one receiver per shard
/// on its own thread. `file` sources have none; the engine reads them per batch.
public final class LiveSource: Sendable {
    public let index: Int
    public let name: String
    public let config: SourceConfig
    public let errors: ErrorLog

    public init(index: Int, name: String, config: SourceConfig) throws {
        self.index = index
        self.name = name
        self.config = config
        self.errors = try ErrorLog(source: name, path: config.errorsPath)
    }

    func makeContext(shard: String, env: ReceiverEnvironment) -> ReceiverContext {
        let generator = BlockGenerator(source: index, shard: shard, columns: config.schema.valueCount,
                                       firstSeq: env.firstSeq(index, shard), blockInterval: env.blockInterval,
                                       blockMaxBytes: env.blockMaxBytes, store: env.store, ids: env.ids, wal: env.wal)
        let limiter = RateLimiter(rate: env.startRate(index))
        env.tracker.register(generator, limiter: limiter)
        return ReceiverContext(source: name, generator: generator, store: env.store, stop: env.tracker.stop,
                               limiter: limiter, errors: errors, schema: config.schema)
    }

    /// Starts this source's receivers. Fails only when a `listen` address
    /// cannot be bound.
    public func start(_ env: ReceiverEnvironment) throws(RuntimeError) {
        switch config.connector {
        case .generator(let options):
            for shard in 0..<options.shards {
                let ctx = makeContext(shard: String(shard), env: env)
                env.tracker.launch(name: "eddy-gen-\(shard)") {
                    GeneratorReceiver.run(ctx, options: options, shard: shard)
                }
            }
        case .socket(let addresses, let ack):
            for address in addresses {
                let ctx = makeContext(shard: address.description, env: env)
                env.tracker.launch(name: "eddy-sock") { SocketReceiver.run(ctx, address: address, ack: ack) }
            }
        case .stdin:
            let ctx = makeContext(shard: "stdin", env: env)
            env.tracker.launch(name: "eddy-stdin") { StdinReceiver.run(ctx) }
        case .listen(let address, let maxConnections, let ack):
            let socket: TCPSocket
            switch TCPSocket.listen(on: address) {
            case .failure(let e): throw RuntimeError("source \(name): \(e.message)")
            case .success(let s): socket = s
            }
            Logger(label: "eddy.listen").info("source \(name): listening on \(address.host):\(socket.localPort)")
            let listener = Listener(source: self, socket: socket, maxConnections: maxConnections, ack: ack)
            env.tracker.launch(name: "eddy-listen") { listener.run(env) }
        case .file:
            break
        case .kinesis:
            throw RuntimeError("source \(name): the kinesis connector is not built yet")
        }
    }
}
