import EddyCore
@testable import EddyIngest
import Foundation
import Glibc
import Testing

/// Acks through a real loopback connection: the sealing side only queues,
/// the connection's thread writes, and a producer that stops reading is
/// found out instead of stalling whoever seals.
@Suite struct AcknowledgerTests {
    /// A connected pair: `producer` is the test's end, `eddy` the accepted one.
    struct Pair: Sendable {
        var producer: TCPSocket
        var eddy: TCPSocket
    }

    static func pair(producerReceiveBuffer: Int32? = nil) throws -> Pair {
        let server = try TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get()
        defer { server.close() }
        let producer = try TCPSocket.connect(to: HostPort(host: "127.0.0.1", port: server.localPort)).get()
        if let producerReceiveBuffer { producer.setReceiveBuffer(producerReceiveBuffer) }
        let eddy = try #require(server.accept(timeoutMs: 5000)).socket
        return Pair(producer: producer, eddy: eddy)
    }

    /// Lines the producer can read now.
    static func readLines(_ socket: TCPSocket, until done: ([String]) -> Bool) -> [String] {
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<200 {
            if done(text.split(separator: "\n").map(String.init)) { break }
            switch buffer.withUnsafeMutableBytes({ socket.read(into: $0, timeoutMs: 50) }) {
            case .data(let n): text += String(decoding: buffer[0..<n], as: UTF8.self)
            case .timeout: continue
            default: return text.split(separator: "\n").map(String.init)
            }
        }
        return text.split(separator: "\n").map(String.init)
    }

    /// Counts sealed while the connection's thread is elsewhere coalesce: the
    /// producer gets the newest count, relative to the connection's start.
    @Test func theProducerGetsTheNewestCountOnceTheConnectionWrites() throws {
        let p = try Self.pair()
        defer { p.producer.close(); p.eddy.close() }
        let acks = try Acknowledger(timeoutMs: 5000)
        acks.attach(start: 100)
        for through in stride(from: 110, through: 1100, by: 10) { acks.sealed(through: Int64(through)) }
        acks.sealed(through: 90) // before this connection: nothing to say
        var connection = AckedConnection(socket: p.eddy, acks: acks)
        var buffer = [UInt8](repeating: 0, count: 64)
        let first = buffer.withUnsafeMutableBytes { connection.read(into: $0, timeoutMs: 100) }
        #expect(first == .timeout)
        #expect(Self.readLines(p.producer) { $0.count >= 1 } == ["ack 1000"])

        // A seal wakes a connection that is waiting for data: the producer
        // answers the ack with a line, which the same read returns. Without
        // the wake, the ack would wait for data that waits for the ack.
        let producer = p.producer
        Thread {
            acks.sealed(through: 1105)
            if Self.readLines(producer, until: { $0.count >= 1 }) == ["ack 1005"] {
                _ = Array("x\n".utf8).withUnsafeBytes { producer.writeAll($0) }
            }
        }.start()
        let second = buffer.withUnsafeMutableBytes { connection.read(into: $0, timeoutMs: 30_000) }
        #expect(second == .data(2))

        // Detached: seals for a connection that is gone are dropped.
        acks.detach()
        acks.sealed(through: 5000)
        #expect(acks.pending(after: 1005) == nil)
    }

    /// The producer never reads its acks and its receive buffer is tiny.
    /// Sealing goes on regardless (200,000 seals, each returning), the
    /// connection reports the stall after `ack_timeout`, and what the
    /// producer did get is a run of whole, increasing acks.
    @Test func aProducerThatNeverReadsIsFoundOutAndNeverBlocksSealing() throws {
        let p = try Self.pair(producerReceiveBuffer: 1024)
        defer { p.producer.close(); p.eddy.close() }
        let acks = try Acknowledger(timeoutMs: 300)
        acks.attach(start: 0)
        let sealed = ConditionLock(0)
        let outcome = ConditionLock<TCPSocket.ReadResult?>(nil)
        let connectionThread = Thread {
            var connection = AckedConnection(socket: p.eddy, acks: acks)
            var buffer = [UInt8](repeating: 0, count: 64)
            while true {
                let r = buffer.withUnsafeMutableBytes { connection.read(into: $0, timeoutMs: 50) }
                if case .timeout = r { continue }
                outcome.update { $0 = r }
                return
            }
        }
        connectionThread.start()
        // The sealing side: it never waits on the producer.
        var through: Int64 = 0
        while outcome.withLock({ $0 }) == nil || through < 200_000 {
            through += 1
            acks.sealed(through: through)
            sealed.update { $0 += 1 }
            if through % 1000 == 0 { usleep(1000) }
            if through > 50_000_000 { break }
        }
        let result = outcome.wait(until: { $0 != nil }, timeoutMs: 60_000, then: { $0 }) ?? nil
        #expect(result == .writeStalled)
        #expect(sealed.withLock { $0 } >= 200_000)

        // What reached the producer: whole lines, strictly increasing, then
        // the start of the line that stalled.
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case .data(let n) = buffer.withUnsafeMutableBytes({ p.producer.read(into: $0, timeoutMs: 200) }) {
            text += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let partial = lines.removeLast()
        #expect("ack 9999999999".hasPrefix(partial.prefix(4)) && partial.dropFirst(4).allSatisfy(\.isNumber), "'\(partial)'")
        var counts: [Int64] = []
        for line in lines {
            let count = try #require(line.hasPrefix("ack ") ? Int64(line.dropFirst(4)) : nil, "line '\(line)'")
            counts.append(count)
        }
        #expect(!counts.isEmpty)
        #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 < $1 })
        #expect((counts.last ?? 0) <= through)
    }

    /// A producer that reads its acks, a little at a time, stays connected.
    @Test func aProducerThatReadsItsAcksStaysConnected() throws {
        let p = try Self.pair(producerReceiveBuffer: 1024)
        defer { p.producer.close(); p.eddy.close() }
        let acks = try Acknowledger(timeoutMs: 1000)
        acks.attach(start: 0)
        let stop = StopSignal()
        let ended = ConditionLock<[TCPSocket.ReadResult]>([])
        let eddy = p.eddy
        Thread {
            var connection = AckedConnection(socket: eddy, acks: acks)
            var buffer = [UInt8](repeating: 0, count: 64)
            while !stop.isRequested {
                let r = buffer.withUnsafeMutableBytes { connection.read(into: $0, timeoutMs: 20) }
                if case .timeout = r { continue }
                ended.update { $0.append(r) }
                return
            }
        }.start()
        var received = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        for i in 1...3000 {
            acks.sealed(through: Int64(i * 7))
            if i % 100 == 0 {
                usleep(20_000)
                if case .data(let n) = buffer.withUnsafeMutableBytes({ p.producer.read(into: $0, timeoutMs: 0) }) { received += n }
            }
        }
        stop.request()
        usleep(100_000)
        #expect(ended.withLock { $0 }.isEmpty)
        #expect(received > 0)
    }
}
