import EddyCore
import EddyIngest
import Foundation
import Glibc
import Testing

/// `ack = on` with producers that stop reading their acks: the batch loop
/// never waits on them, they are disconnected with a warning after
/// `ack_timeout`, and no other record is lost.
@Suite struct AckStallTests {
    static func freePort() throws -> UInt16 {
        let probe = try TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get()
        defer { probe.close() }
        return probe.localPort
    }

    static func connect(_ port: UInt16) -> TCPSocket? {
        for _ in 0..<200 {
            if let s = try? TCPSocket.connect(to: HostPort(host: "127.0.0.1", port: port)).get() { return s }
            usleep(50_000)
        }
        return nil
    }

    /// Rows `producer,n` printed as csv.
    static func rows(_ stdout: String) -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for line in stdout.split(separator: "\n") {
            let p = line.split(separator: ",")
            guard p.count == 2, let n = Int(p[1]) else { continue }
            out[String(p[0]), default: []].append(n)
        }
        return out
    }

    /// What a producer saw of its acks.
    final class AckLog: Sendable {
        let state = ConditionLock<(acks: [Int], bad: [String], ended: Bool)>(([], [], false))
        var last: Int { state.withLock { $0.acks.last ?? 0 } }

        /// Reads `ack N` lines until the connection ends.
        func read(_ socket: TCPSocket) {
            var pending = ""
            var buffer = [UInt8](repeating: 0, count: 4096)
            loop: while true {
                switch buffer.withUnsafeMutableBytes({ socket.read(into: $0, timeoutMs: 200) }) {
                case .data(let n):
                    pending += String(decoding: buffer[0..<n], as: UTF8.self)
                    while let nl = pending.firstIndex(of: "\n") {
                        let line = String(pending[..<nl])
                        pending = String(pending[pending.index(after: nl)...])
                        state.update { s in
                            if line.hasPrefix("ack "), let n = Int(line.dropFirst(4)) { s.acks.append(n) } else { s.bad.append(line) }
                        }
                    }
                case .timeout: continue
                default: break loop
                }
            }
            state.update { $0.ended = true }
        }

        /// Ends the connection `read` is reading: shuts it down, waits for
        /// the reader to see that, then closes. Closing under a reader would
        /// let it read whichever connection gets the fd number next.
        func finish(_ socket: TCPSocket) {
            shutdown(socket.fd, Int32(SHUT_RDWR))
            _ = state.wait(until: { $0.ended }, timeoutMs: 30_000, then: { _ in true })
            socket.close()
        }
    }

    /// A producer that is done without waiting for its acks: it sends FIN,
    /// discards what eddy still writes until eddy closes, then closes.
    static func leave(_ socket: TCPSocket) {
        shutdown(socket.fd, Int32(SHUT_WR))
        var buffer = [UInt8](repeating: 0, count: 4096)
        loop: for _ in 0..<300 {
            switch buffer.withUnsafeMutableBytes({ socket.read(into: $0, timeoutMs: 100) }) {
            case .data, .timeout: continue
            default: break loop
            }
        }
        socket.close()
    }

    /// One producer never reads its acks while another behaves. The run does
    /// all its batches and exits by itself: the batch loop never waited on the
    /// stalled producer. That producer is disconnected with the warning; the
    /// records eddy read from it are a prefix of what it sent, once each;
    /// every record of the other producer is there once, and it was
    /// acknowledged in full.
    ///
    /// How a producer that never reads behaves on loopback depends on its
    /// receive buffer. With 1 KB, TCP wedges once it is full: its records stop
    /// too, and the last acks sit in eddy's kernel. With 4 KB, records keep
    /// coming while acks back up in eddy's send buffer. Both are found out.
    @Test(arguments: [Int32(1024), 4096])
    func aProducerThatNeverReadsItsAcksIsDisconnectedAndBatchesGoOn(receiveBuffer: Int32) throws {
        let port = try Self.freePort()
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '100ms';
            SET block_interval = '10ms';
            CREATE SOURCE pushed (producer TEXT, n INTEGER) WITH (connector = 'listen', address = '127.0.0.1:\(port)',
              format = 'csv', ack = on, ack_timeout = '1s');
            SELECT producer, n FROM pushed;
            """)
        let batches = 250
        let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--format", "csv", "--batches", "\(batches)"])

        // The stalled producer: writes lines as fast as eddy takes them, never reads.
        let stalled = try #require(Self.connect(port))
        stalled.setReceiveBuffer(receiveBuffer)
        let stalledSent = ConditionLock(0)
        // The writing thread owns the socket: it alone closes it.
        Thread {
            var next = 0
            while next < 5_000_000 {
                let chunk = (next..<next + 50).map { "s,\($0)\n" }.joined()
                guard Array(chunk.utf8).withUnsafeBytes({ stalled.writeAll($0) }) else { break }
                next += 50
                stalledSent.update { $0 = next }
                usleep(2000)
            }
            stalled.close()
        }.start()

        // The good producer: sends steadily and reads every ack.
        let good = try #require(Self.connect(port))
        let goodAcks = AckLog()
        Thread { goodAcks.read(good) }.start()
        let goodTotal = 20_000
        for start in stride(from: 0, to: goodTotal, by: 200) {
            let chunk = (start..<start + 200).map { "g,\($0)\n" }.joined()
            #expect(Array(chunk.utf8).withUnsafeBytes { good.writeAll($0) })
            usleep(20_000)
        }
        #expect(eventually(timeout: 60) { goodAcks.last >= goodTotal })

        let r = try eddy.wait(timeout: 120)
        goodAcks.finish(good)
        shutdown(stalled.fd, Int32(SHUT_RDWR)) // its writer stops and closes it, if eddy had not
        #expect(r.status == 0, "stderr: \(r.stderr.suffix(2000))")

        // Every batch ran, and some after the disconnect.
        let warning = "left its acks unread for 1s (ack_timeout); disconnected"
        #expect(metricsLines(r.stderr).count == batches)
        let warned = try #require(r.stderr.range(of: warning), "no warning in: \(r.stderr.suffix(3000))")
        #expect(metricsLines(String(r.stderr[warned.upperBound...])).count > 0)
        #expect(r.stderr.components(separatedBy: warning).count == 2, "one producer warned about, once")

        let rows = Self.rows(r.stdout)
        #expect(rows["g"]?.sorted() == Array(0..<goodTotal))
        #expect(goodAcks.state.withLock { $0.bad }.isEmpty)
        #expect(goodAcks.last == goodTotal)
        let fromStalled = (rows["s"] ?? []).sorted()
        #expect(!fromStalled.isEmpty)
        #expect(fromStalled == Array(0..<fromStalled.count), "a prefix of what the stalled producer sent, once each")
        #expect(fromStalled.count <= stalledSent.withLock { $0 })
    }

    /// `socket` (eddy connects) to a server that never reads the acks: eddy
    /// disconnects with the warning and connects again; the batches go on.
    @Test func aSocketSourceLeavesAServerThatNeverReadsItsAcksAndReconnects() throws {
        let server = try TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get()
        let port = server.localPort
        let stop = StopSignal()
        let connections = ConditionLock(0)
        Thread {
            while !stop.isRequested {
                guard let client = server.accept(timeoutMs: 200)?.socket else { continue }
                client.setReceiveBuffer(1024)
                let index = connections.update { c -> Int in c += 1; return c }
                Thread {
                    var next = 0
                    while !stop.isRequested {
                        let chunk = (next..<next + 50).map { "c\(index),\($0)\n" }.joined()
                        guard Array(chunk.utf8).withUnsafeBytes({ client.writeAll($0) }) else { break }
                        next += 50
                        usleep(2000)
                    }
                    client.close()
                }.start()
            }
            server.close()
        }.start()
        defer { stop.request() }

        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '100ms';
            SET block_interval = '10ms';
            CREATE SOURCE lines (producer TEXT, n INTEGER) WITH (connector = 'socket', address = '127.0.0.1:\(port)',
              format = 'csv', ack = on, ack_timeout = '1s');
            SELECT producer, n FROM lines;
            """)
        let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--format", "csv"])
        #expect(eventually(timeout: 90) { connections.withLock { $0 } >= 2 })
        let batchesThen = metricsLines(eddy.currentStderr).count
        #expect(eventually(timeout: 30) { metricsLines(eddy.currentStderr).count > batchesThen + 5 })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        stop.request()
        #expect(r.status == 0, "stderr: \(r.stderr.suffix(2000))")
        #expect(r.stderr.contains("127.0.0.1:\(port) left its acks unread for 1s (ack_timeout); disconnected, reconnecting"),
                "\(r.stderr.suffix(3000))")
        // What eddy read from each connection: a prefix, once each.
        let rows = Self.rows(r.stdout)
        #expect(rows["c1"] != nil)
        for (producer, ns) in rows {
            let sorted = ns.sorted()
            #expect(sorted == Array(0..<sorted.count), "\(producer)")
        }
    }

    /// Producers come and go on a `listen` source with acks, half of them
    /// leaving without waiting for theirs. A producer that waits gets only
    /// acks for its own records, ending exactly at what it sent: an ack
    /// never lands on a connection it was not meant for (the fd of one that
    /// just closed, reused by the next).
    @Test func acksNeverReachAnotherConnection() throws {
        let port = try Self.freePort()
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '50ms';
            SET block_interval = '10ms';
            CREATE SOURCE pushed (producer TEXT, n INTEGER) WITH (connector = 'listen', address = '127.0.0.1:\(port)',
              format = 'csv', ack = on);
            SELECT producer, n FROM pushed;
            """)
        let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--format", "csv", "--quiet"])
        let producers = 120
        let problems = ConditionLock<[String]>([])
        let done = ConditionLock(0)
        for worker in 0..<4 {
            Thread {
                for k in stride(from: worker, to: producers, by: 4) {
                    // Fewer lines for later producers: a stale ack from an
                    // earlier connection would be more than this one sent.
                    let lines = (producers - k) * 20
                    guard let socket = Self.connect(port) else {
                        problems.update { $0.append("producer \(k) could not connect") }
                        continue
                    }
                    let text = (0..<lines).map { "p\(k),\($0)\n" }.joined()
                    _ = Array(text.utf8).withUnsafeBytes { socket.writeAll($0) }
                    if k % 2 == 0 {
                        let log = AckLog()
                        Thread { log.read(socket) }.start()
                        let finished = eventually(timeout: 30) { log.last >= lines || log.state.withLock { $0.ended } }
                        log.finish(socket)
                        let seen = log.state.withLock { $0 }
                        if !finished || seen.acks.last != lines || seen.acks.contains(where: { $0 > lines }) || !seen.bad.isEmpty {
                            problems.update { $0.append("producer \(k) sent \(lines), got acks \(seen.acks.suffix(5)) bad \(seen.bad)") }
                        }
                    } else {
                        Self.leave(socket)
                    }
                }
                done.update { $0 += 1 }
            }.start()
        }
        #expect(done.wait(until: { $0 == 4 }, timeoutMs: 180_000, then: { _ in true }) == true)
        #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0 })")
        let expected = (0..<producers).reduce(0) { $0 + (producers - $1) * 20 }
        #expect(eventually(timeout: 30) { Self.rows(eddy.currentStdout).values.reduce(0) { $0 + $1.count } >= expected })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        #expect(r.status == 0, "stderr: \(r.stderr.suffix(2000))")
        let rows = Self.rows(r.stdout)
        for k in 0..<producers {
            #expect(rows["p\(k)"]?.sorted() == Array(0..<(producers - k) * 20), "producer \(k)")
        }
    }
}
