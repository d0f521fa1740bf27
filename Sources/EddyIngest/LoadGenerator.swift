import EddyCore
import EddyKinesis
import Glibc
import Logging

/// `eddy gen`: lines of random words on stdout or to every producer that
/// connects (`--listen`), at a fixed rate, for trying eddy and benchmarking it.
public struct LoadGenerator: Sendable {
    public var rate: Int64
    public var words: Int
    public var vocab: Int
    public var seed: UInt64
    /// Stop after this many lines (nil: run until stopped).
    public var count: Int64?

    public init(rate: Int64, words: Int, vocab: Int, seed: UInt64, count: Int64?) {
        self.rate = rate
        self.words = words
        self.vocab = vocab
        self.seed = seed
        self.count = count
    }

    /// Writes lines with `write` until done, stopped, or `write` fails
    /// (the reader went away). Returns the lines written.
    @discardableResult
    public func produce(shard: Int = 0, stop: StopSignal, write: (UnsafeRawBufferPointer) -> Bool) -> Int64 {
        let generator = WordGenerator(vocabulary: vocab, wordsPerLine: words, seed: seed)
        let limiter = RateLimiter(rate: Double(rate))
        var chunk: [UInt8] = []
        var line: [UInt8] = []
        var seq: Int64 = 0
        let perChunk = rate > 0 ? max(1, min(Int(rate / 100), 4096)) : 4096
        while !stop.isRequested {
            var n = perChunk
            if let count { n = Int(min(Int64(n), count - seq)) }
            if n <= 0 { break }
            chunk.removeAll(keepingCapacity: true)
            for i in 0..<n {
                generator.line(shard: shard, seq: seq + Int64(i), into: &line)
                chunk.append(contentsOf: line)
                chunk.append(0x0A)
            }
            let ok = chunk.withUnsafeBytes { write($0) }
            if !ok { break }
            seq += Int64(n)
            limiter.acquire(n, stop: stop)
        }
        return seq
    }

    /// Writes to stdout; returns when done or when the reader goes away.
    public func toStdout(stop: StopSignal) -> Int64 {
        produce(stop: stop) { bytes in
            do {
                try Files.writeAll(fd: 1, bytes, path: "stdout")
                return true
            } catch {
                return false
            }
        }
    }

    /// Puts the lines into a Kinesis stream (like Spark's
    /// KinesisWordProducerASL), each with its own partition key.
    public func toKinesis(client: KinesisClient, stream: String, stop: StopSignal) throws(KinesisError) -> Int64 {
        let writer = KinesisWriter(client: client, stream: stream)
        var failure: KinesisError?
        var seq: Int64 = 0
        let sent = produce(stop: stop) { bytes in
            for line in bytes.split(separator: 0x0A) {
                do throws(KinesisError) {
                    try writer.add(data: Array(line), partitionKey: "key-\(seq % 10_000)")
                } catch {
                    failure = error
                    return false
                }
                seq += 1
            }
            do throws(KinesisError) {
                try writer.flush()
            } catch {
                failure = error
                return false
            }
            return true
        }
        if let failure { throw failure }
        return sent
    }

    /// Serves every connection its own stream of lines until stopped.
    public func serve(on address: HostPort, stop: StopSignal, ready: ((UInt16) -> Void)? = nil) throws(UsageError) {
        let logger = Logger(label: "eddy.gen")
        let socket: TCPSocket
        switch TCPSocket.listen(on: address) {
        case .failure(let e): throw UsageError("--listen \(address): \(e.message)")
        case .success(let s): socket = s
        }
        logger.info("gen: serving lines on \(address.host):\(socket.localPort)")
        ready?(socket.localPort)
        var connections = 0
        while !stop.isRequested {
            guard let accepted = socket.accept(timeoutMs: 200) else { continue }
            let client = accepted.socket, peer = accepted.peer
            connections += 1
            let shard = connections
            logger.info("gen: \(peer) connected")
            let me = self
            do {
                try startThread(name: "eddy-gen-conn") {
                    let sent = me.produce(shard: shard, stop: stop) { client.writeAll($0) }
                    logger.info("gen: \(peer) done after \(sent) lines")
                    client.close()
                }
            } catch {
                logger.warning("gen: \(peer) refused: \(error)")
                client.close()
            }
        }
        socket.close()
    }
}
