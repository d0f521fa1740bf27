import EddyBlocks
import EddyCore
import Glibc
import Logging

/// How long the `socket` receiver waits before it tries again: 100 ms after
/// the first failed attempt, doubling with each further one up to 5 s, and
/// back to 100 ms once a connection is made.
struct ReconnectBackoff: Sendable {
    static let initialMs: Int64 = 100
    static let maxMs: Int64 = 5000

    /// The wait before the next attempt.
    private(set) var delayMs: Int64 = initialMs

    /// An attempt failed: returns the wait before the next one, and doubles it for the one after.
    mutating func failed() -> Int64 {
        let delay = delayMs
        delayMs = min(delayMs * 2, Self.maxMs)
        return delay
    }

    /// A connection was made: the next wait is short again.
    mutating func connected() { delayMs = Self.initialMs }
}

/// `socket`: a TCP client per address that reads pushed lines, like Spark's
/// socketTextStream, but reconnecting with backoff instead of giving up.
enum SocketReceiver {
    /// `acks` is nil without `ack = on`; it outlives each connection.
    static func run(_ ctx: ReceiverContext, address: HostPort, acks: Acknowledger?) {
        let logger = Logger(label: "eddy.socket")
        if let acks { ctx.generator.onSealed { acks.sealed(through: $0) } }
        var backoff = ReconnectBackoff()
        var failures = 0
        ctx.status.set(.connecting)
        while !ctx.stop.isRequested {
            switch TCPSocket.connect(to: address) {
            case .failure(let error):
                failures += 1
                let delay = backoff.failed()
                ctx.status.error(error.message)
                // Say it the first time and then now and again, not on every retry.
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("source \(ctx.source): \(error.message); retrying every \(Units.formatDuration(delay)) or so")
                }
                if ctx.stop.wait(timeoutMs: delay) { return }
            case .success(let socket):
                logger.info("source \(ctx.source): connected to \(address)")
                ctx.status.set(.receiving)
                failures = 0
                backoff.connected()
                var decoder = RecordDecoder(schema: ctx.schema)
                let end: StreamPump.End
                if let acks {
                    acks.attach(start: ctx.generator.appendSeq)
                    var connection = AckedConnection(socket: socket, acks: acks)
                    end = StreamPump.run(ctx, decoder: &decoder) { buffer, timeout in
                        connection.read(into: buffer, timeoutMs: timeout)
                    }
                    acks.detach()
                } else {
                    end = StreamPump.run(ctx, decoder: &decoder) { buffer, timeout in
                        socket.read(into: buffer, timeoutMs: timeout)
                    }
                }
                socket.close()
                switch end {
                case .stopped: return
                case .eof:
                    logger.warning("source \(ctx.source): \(address) closed the connection; reconnecting")
                    ctx.status.error("\(address) closed the connection")
                case .failed(let code):
                    logger.warning("source \(ctx.source): reading \(address) failed: \(String(cString: strerror(code))); reconnecting")
                    ctx.status.error("reading \(address) failed: \(String(cString: strerror(code)))")
                case .stalled:
                    let timeout = Units.formatDuration(acks?.timeoutMs ?? 0)
                    logger.warning("source \(ctx.source): \(address) left its acks unread for \(timeout) (ack_timeout); disconnected, reconnecting")
                    ctx.status.error("\(address) left its acks unread for \(timeout) (ack_timeout); disconnected")
                }
                if ctx.stop.wait(timeoutMs: backoff.delayMs) { return }
            }
        }
    }
}

/// `stdin`: one receiver; at end of input the source is finished and the job
/// ends after the batch that holds the last records.
enum StdinReceiver {
    static func run(_ ctx: ReceiverContext) {
        var decoder = RecordDecoder(schema: ctx.schema)
        let end = StreamPump.run(ctx, decoder: &decoder) { buffer, timeout in
            var pfd = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, timeout)
            if ready == 0 { return .timeout }
            if ready < 0 { return errno == EINTR ? .timeout : .error(errno) }
            let n = read(0, buffer.baseAddress, buffer.count)
            if n > 0 { return .data(n) }
            if n == 0 { return .eof }
            return errno == EINTR || errno == EAGAIN ? .timeout : .error(errno)
        }
        if case .failed(let code) = end {
            Logger(label: "eddy.stdin").error("source \(ctx.source): reading stdin failed: \(String(cString: strerror(code)))")
            ctx.status.error("reading stdin failed: \(String(cString: strerror(code)))", phase: .finished)
        } else {
            ctx.status.set(.finished)
        }
        ctx.generator.tick(now: WallClock.nowMs())
        ctx.generator.markFinished()
    }
}

/// `generator`: lines of random words at `rate` per shard, for demos and
/// benchmarks. Slows down, never drops, when the block store is full.
enum GeneratorReceiver {
    static func run(_ ctx: ReceiverContext, options: GeneratorOptions, shard: Int) {
        let words = WordGenerator(vocabulary: options.vocab, wordsPerLine: options.words, seed: options.seed)
        var seq = ctx.generator.nextSeq
        var line: [UInt8] = []
        line.reserveCapacity(options.words * 8)
        while !ctx.stop.isRequested {
            guard ctx.store.awaitCapacity(stop: ctx.stop) else { return }
            let rate = ctx.limiter.rate
            // 20 ms of records per wake-up: fewer wake-ups cost less CPU, and
            // a block (200 ms by default) still gets ten chunks.
            let chunk = rate > 0 ? max(1, min(Int(rate / 50), 4096)) : 4096
            let now = WallClock.nowMs()
            let first = seq
            ctx.generator.append(now: now) { builder in
                for i in 0..<chunk {
                    words.line(shard: shard, seq: first + Int64(i), into: &line)
                    _ = builder.beginRecord(arrival: now)
                    line.withUnsafeBytes { builder.appendText($0) }
                    builder.endRecord()
                }
                return chunk
            }
            seq += Int64(chunk)
            ctx.limiter.acquire(chunk, stop: ctx.stop)
            ctx.generator.tick(now: WallClock.nowMs())
        }
    }
}

/// `listen`: a server that producers connect to and push lines; each
/// connection is its own receiver and shard, up to `max_connections` at once.
/// Further producers wait in the accept backlog until a connection ends.
final class Listener: Sendable {
    private let source: LiveSource
    private let socket: TCPSocket
    private let maxConnections: Int
    private let ack: AckPolicy?
    private let active = ConditionLock(0)
    private let connections = ConditionLock(0)

    init(source: LiveSource, socket: TCPSocket, maxConnections: Int, ack: AckPolicy?) {
        self.source = source
        self.socket = socket
        self.maxConnections = maxConnections
        self.ack = ack
    }

    func run(_ env: ReceiverEnvironment) {
        let logger = Logger(label: "eddy.listen")
        defer { socket.close() }
        while !env.tracker.stop.isRequested {
            if active.withLock({ $0 }) >= maxConnections {
                _ = env.tracker.stop.wait(timeoutMs: 50)
                continue
            }
            guard let accepted = socket.accept(timeoutMs: 200) else { continue }
            let client = accepted.socket, peer = accepted.peer
            let acks: Acknowledger?
            do {
                acks = try ack.map { try Acknowledger(timeoutMs: $0.timeoutMs) }
            } catch {
                logger.warning("source \(source.name): producer \(peer) refused: \(error)")
                client.close()
                continue
            }
            let n = connections.withLock { c -> Int in c += 1; return c }
            let shard = "conn-\(n)"
            logger.info("source \(source.name): producer \(peer) connected as shard \(shard)")
            active.withLock { $0 += 1 }
            let ctx = source.makeContext(shard: shard, env: env)
            if let acks {
                acks.attach(start: ctx.generator.appendSeq)
                ctx.generator.onSealed { acks.sealed(through: $0) }
            }
            do {
                // The connection's thread alone reads, writes and closes the
                // client; seals on other threads only reach the acknowledger.
                try env.tracker.launch(name: "eddy-\(shard)") { [self] in
                    var decoder = RecordDecoder(schema: ctx.schema)
                    let end: StreamPump.End
                    if let acks {
                        var connection = AckedConnection(socket: client, acks: acks)
                        end = StreamPump.run(ctx, decoder: &decoder) { buffer, timeout in
                            connection.read(into: buffer, timeoutMs: timeout)
                        }
                    } else {
                        end = StreamPump.run(ctx, decoder: &decoder) { buffer, timeout in
                            client.read(into: buffer, timeoutMs: timeout)
                        }
                    }
                    ctx.generator.tick(now: WallClock.nowMs())
                    ctx.generator.onSealed(nil)
                    acks?.detach()
                    client.close()
                    switch end {
                    case .failed(let code):
                        logger.warning("source \(self.source.name): shard \(shard) failed: \(String(cString: strerror(code)))")
                        ctx.status.error("reading from \(peer) failed: \(String(cString: strerror(code)))", phase: .finished)
                    case .stalled:
                        let timeout = Units.formatDuration(acks?.timeoutMs ?? 0)
                        logger.warning("source \(self.source.name): producer \(peer) (shard \(shard)) left its acks unread for \(timeout) (ack_timeout); disconnected")
                        ctx.status.error("\(peer) left its acks unread for \(timeout) (ack_timeout); disconnected", phase: .finished)
                    case .eof:
                        ctx.status.set(.finished)
                    case .stopped:
                        break
                    }
                    self.active.withLock { $0 -= 1 }
                }
            } catch {
                logger.warning("source \(source.name): producer \(peer) refused: \(error)")
                ctx.status.error("producer \(peer) refused: \(error)", phase: .finished)
                ctx.generator.onSealed(nil)
                client.close()
                active.withLock { $0 -= 1 }
            }
        }
    }
}
