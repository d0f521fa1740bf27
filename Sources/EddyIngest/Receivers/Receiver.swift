import EddyBlocks
import EddyCore

/// Everything a receiver thread works with. Receivers parse into their
/// generator and never touch SQLite.
public struct ReceiverContext: Sendable {
    public let source: String
    public let generator: BlockGenerator
    public let store: BlockStore
    public let stop: StopSignal
    public let limiter: RateLimiter
    public let errors: ErrorLog
    public let schema: SourceSchema
    /// What the receiver is doing, for the monitor.
    public let status: ReceiverStatus

    public init(source: String, generator: BlockGenerator, store: BlockStore, stop: StopSignal,
                limiter: RateLimiter, errors: ErrorLog, schema: SourceSchema, status: ReceiverStatus = ReceiverStatus()) {
        self.source = source
        self.generator = generator
        self.store = store
        self.stop = stop
        self.limiter = limiter
        self.errors = errors
        self.schema = schema
        self.status = status
    }
}

/// Reads one byte stream (a socket connection, stdin) into its generator until
/// the stream ends or a stop is requested. Pausing here, when the block store
/// is full or the rate says so, is what pushes back on a TCP producer.
enum StreamPump {
    enum End {
        case eof, stopped, failed(Int32)
        /// The producer left its acks unread for `ack_timeout`.
        case stalled
    }

    static func run(_ ctx: ReceiverContext, decoder: inout RecordDecoder,
                    read: (UnsafeMutableRawBufferPointer, Int32) -> TCPSocket.ReadResult) -> End {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let shard = ctx.generator.shard
        while !ctx.stop.isRequested {
            guard ctx.store.awaitCapacity(stop: ctx.stop) else { return .stopped }
            let now = WallClock.nowMs()
            let timeout = Int32(clamping: ctx.generator.millisUntilTick(now: now))
            let result = buffer.withUnsafeMutableBytes { read($0, timeout) }
            switch result {
            case .data(let n):
                let arrival = WallClock.nowMs()
                let added = buffer.withUnsafeBytes { raw in
                    ctx.generator.append(now: arrival) { builder in
                        decoder.feed(UnsafeRawBufferPointer(rebasing: raw[0..<n]), arrival: arrival, shard: shard,
                                     errors: ctx.errors, into: &builder)
                    }
                }
                ctx.limiter.acquire(added, stop: ctx.stop)
            case .timeout:
                break
            case .eof:
                let arrival = WallClock.nowMs()
                ctx.generator.append(now: arrival) { builder in
                    decoder.finish(arrival: arrival, shard: shard, errors: ctx.errors, into: &builder)
                }
                return .eof
            case .error(let code):
                return .failed(code)
            case .writeStalled:
                return .stalled
            }
            ctx.generator.tick(now: WallClock.nowMs())
        }
        return .stopped
    }
}
