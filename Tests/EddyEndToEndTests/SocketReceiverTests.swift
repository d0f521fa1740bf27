import EddyCore
import EddyIngest
import Foundation
import Glibc
import Testing

/// The `socket` connector against loopback servers run by the test: several
/// addresses at once, and a server that is down when eddy starts.
@Suite struct SocketReceiverTests {
    /// Accepts one connection, writes `text`, keeps it open until `stop`.
    static func serve(_ server: TCPSocket, _ text: String, stop: StopSignal, sent: ConditionLock<Int>) {
        Thread {
            if let c = server.accept(timeoutMs: 20_000)?.socket {
                let ok = Array(text.utf8).withUnsafeBytes { c.writeAll($0) }
                sent.update { $0 += ok ? 1 : 0 }
                _ = stop.wait(timeoutMs: 60_000)
                c.close()
            }
            server.close()
        }.start()
    }

    /// Rows `shard,src,n` of the job below.
    static func rows(_ stdout: String) -> [(shard: String, src: String, n: Int)] {
        stdout.split(separator: "\n").compactMap { line in
            let p = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard p.count == 3, let n = Int(p[2]) else { return nil }
            return (p[0], p[1], n)
        }
    }

    @Test func twoAddressesAreTwoReceiversAndTwoShards() throws {
        let a = try #require(try? TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get())
        let b = try #require(try? TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get())
        let shardA = "127.0.0.1:\(a.localPort)", shardB = "127.0.0.1:\(b.localPort)"
        let perServer = 30_000
        let stop = StopSignal()
        let sent = ConditionLock(0)
        Self.serve(a, (0..<perServer).map { "a,\($0)\n" }.joined(), stop: stop, sent: sent)
        Self.serve(b, (0..<perServer).map { "b,\($0)\n" }.joined(), stop: stop, sent: sent)
        defer { stop.request() }

        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '300ms';
            CREATE SOURCE lines (src TEXT, n INTEGER) WITH (connector = 'socket', address = '\(shardA),\(shardB)', format = 'csv');
            SELECT _shard, src, n FROM lines;
            """)
        let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--format", "csv"])
        #expect(eventually(timeout: 60) { Self.rows(eddy.currentStdout).count >= 2 * perServer })
        usleep(700_000) // a batch or two more: nothing else may arrive
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        stop.request()
        #expect(r.status == 0, "stderr: \(r.stderr.suffix(2000))")
        #expect(sent.withLock { $0 } == 2)

        // Every line of both servers once, each under its server's address as shard.
        let rows = Self.rows(r.stdout)
        #expect(rows.count == 2 * perServer)
        var seen: [String: [Int]] = [:]
        for row in rows {
            #expect(row.shard == (row.src == "a" ? shardA : shardB), "\(row)")
            seen[row.src, default: []].append(row.n)
        }
        #expect(seen["a"]?.sorted() == Array(0..<perServer))
        #expect(seen["b"]?.sorted() == Array(0..<perServer))

        // The metrics line counts the same two shards.
        var perShard: [String: Int] = [:]
        for m in metricsLines(r.stderr) {
            for part in (m["shards"] ?? "").split(separator: ",") {
                guard let colon = part.lastIndex(of: ":"), let n = Int(part[part.index(after: colon)...]) else { continue }
                perShard[String(part[..<colon]), default: 0] += n
            }
        }
        #expect(perShard == ["lines/" + shardA: perServer, "lines/" + shardB: perServer])
        #expect(r.stderr.contains("connected to \(shardA)") && r.stderr.contains("connected to \(shardB)"))
    }

    /// Nothing listens when eddy starts: it says so, keeps retrying with
    /// backoff, and connects once the server is up; every line is counted.
    @Test func reconnectsOnceTheServerComesUp() throws {
        let probe = try #require(try? TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get())
        let port = probe.localPort
        probe.close()
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '300ms';
            CREATE SOURCE lines (src TEXT, n INTEGER) WITH (connector = 'socket', address = '127.0.0.1:\(port)', format = 'csv');
            SELECT _shard, src, n FROM lines;
            """)
        let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--format", "csv"])
        #expect(eventually { eddy.currentStderr.contains("retrying every") })
        // Down for a while: several attempts fail, the wait grows.
        usleep(1_500_000)
        let server = try #require(try? TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: port)).get())
        let stop = StopSignal()
        let sent = ConditionLock(0)
        let lines = 10_000
        Self.serve(server, (0..<lines).map { "x,\($0)\n" }.joined(), stop: stop, sent: sent)
        defer { stop.request() }
        #expect(eventually(timeout: 30) { Self.rows(eddy.currentStdout).count >= lines })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        stop.request()
        #expect(r.status == 0, "stderr: \(r.stderr.suffix(2000))")
        #expect(sent.withLock { $0 } == 1)
        let rows = Self.rows(r.stdout)
        #expect(rows.map(\.n).sorted() == Array(0..<lines))
        #expect(r.stderr.contains("connected to 127.0.0.1:\(port)"))
    }
}
