import EddyCore
import EddyIngest
import Foundation
import Glibc
import Testing

/// `listen` with `max_connections`: producers past the limit wait in the
/// accept backlog, unread, until a served producer leaves.
@Suite struct ListenLimitTests {
    static func connect(_ port: UInt16) -> TCPSocket? {
        for _ in 0..<100 {
            if let s = try? TCPSocket.connect(to: HostPort(host: "127.0.0.1", port: port)).get() { return s }
            usleep(50_000)
        }
        return nil
    }

    static func send(_ socket: TCPSocket, producer: Int, _ range: Range<Int>) -> Bool {
        let text = range.map { "\(producer),\($0)\n" }.joined()
        return Array(text.utf8).withUnsafeBytes { socket.writeAll($0) }
    }

    /// Rows `shard,producer,n,seq`.
    static func parse(_ rows: [[String]]) -> [(shard: String, producer: Int, n: Int, seq: Int)] {
        rows.compactMap { r in
            guard r.count == 4, let p = Int(r[1]), let n = Int(r[2]), let seq = Int(r[3]) else { return nil }
            return (r[0], p, n, seq)
        }
    }

    @Test func aThirdProducerWaitsUntilOneOfTwoLeaves() throws {
        let probe = try #require(try? TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get())
        let port = probe.localPort
        probe.close()
        let run = try LiveRun("""
            CREATE SOURCE pushed (producer INTEGER, n INTEGER) WITH (connector = 'listen', address = '127.0.0.1:\(port)', format = 'csv', max_connections = 2);
            SELECT _shard, producer, n, _seq FROM pushed;
            """, settings: [("batch_interval", "200ms")])
        run.start()
        func count(_ producer: Int) -> Int { Self.parse(run.rows).filter { $0.producer == producer }.count }

        // Two producers are served.
        let p0 = try #require(Self.connect(port))
        #expect(Self.send(p0, producer: 0, 0..<1000))
        #expect(eventually(timeout: 30) { count(0) == 1000 })
        let p1 = try #require(Self.connect(port))
        #expect(Self.send(p1, producer: 1, 0..<1000))
        #expect(eventually(timeout: 30) { count(1) == 1000 })

        // A third one connects (the kernel's backlog takes it) and writes, but is not read...
        let p2 = try #require(Self.connect(port))
        #expect(Self.send(p2, producer: 2, 0..<1000))
        // ...while the two served ones still are.
        #expect(Self.send(p1, producer: 1, 1000..<1500))
        #expect(eventually(timeout: 30) { count(1) == 1500 })
        usleep(1_000_000) // five batches
        #expect(count(2) == 0)

        // The first producer leaves: the third is accepted and read in full.
        p0.close()
        #expect(eventually(timeout: 30) { count(2) == 1000 })

        // Two served again (p1, p2): a fourth waits until both of those leave.
        let p3 = try #require(Self.connect(port))
        #expect(Self.send(p3, producer: 3, 0..<700))
        usleep(1_000_000)
        #expect(count(3) == 0)
        p1.close()
        p2.close()
        #expect(eventually(timeout: 30) { count(3) == 700 })
        p3.close()
        #expect(run.finish() == nil)

        // Every line of every producer once, in order, one shard per connection.
        let rows = Self.parse(run.rows)
        #expect(rows.count == 1000 + 1500 + 1000 + 700)
        var byProducer: [Int: [(shard: String, n: Int, seq: Int)]] = [:]
        for r in rows { byProducer[r.producer, default: []].append((r.shard, r.n, r.seq)) }
        let expected = [0: 1000, 1: 1500, 2: 1000, 3: 700]
        for (producer, total) in expected {
            let got = (byProducer[producer] ?? []).sorted { $0.seq < $1.seq }
            #expect(got.map(\.n) == Array(0..<total), "producer \(producer)")
            #expect(Set(got.map(\.shard)).count == 1, "producer \(producer)")
        }
        #expect(Set(rows.map(\.shard)) == ["conn-1", "conn-2", "conn-3", "conn-4"])
    }
}
