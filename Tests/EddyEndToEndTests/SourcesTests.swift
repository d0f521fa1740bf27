import EddyCore
import EddyIngest
import Foundation
import Glibc
import Testing

/// Each receiving connector against the real thing: a TCP server on
/// loopback, files renamed into a directory, stdin through a pipe.
@Suite struct SourcesTests {
    /// A loopback server that accepts eddy's connection and pushes lines, then
    /// hangs up after the first `firstPart` lines, so eddy must reconnect for the rest.
    @Test func socketSourceReadsALoopbackServerAndReconnects() throws {
        let server = try #require(try? TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)).get())
        let port = server.localPort
        let lines = (0..<3000).map { "w\($0 % 7) w\($0 % 3) end" }
        let job = try TempDir()
        try job.write("job.sql", """
            SET batch_interval = '500ms';
            CREATE SOURCE lines WITH (connector = 'socket', address = '127.0.0.1:\(port)');
            CREATE STREAM words AS SELECT s.value AS word FROM lines, split(lines.line, ' ') AS s WHERE s.value <> '';
            SELECT word, count(*) AS n FROM words GROUP BY word;
            """)
        let eddy = try EddyProcess(["run", job.path + "/job.sql", "--format", "csv", "--duration", "6s"])
        let stop = StopSignal()
        let sender = Thread {
            // First connection: half the lines, then close.
            if let c1 = server.accept(timeoutMs: 10_000)?.socket {
                let text = lines[0..<1500].joined(separator: "\n") + "\n"
                _ = Array(text.utf8).withUnsafeBytes { c1.writeAll($0) }
                c1.close()
            }
            // eddy reconnects: the rest on the second connection, which stays open.
            if let c2 = server.accept(timeoutMs: 10_000)?.socket {
                let text = lines[1500...].joined(separator: "\n") + "\n"
                _ = Array(text.utf8).withUnsafeBytes { c2.writeAll($0) }
                _ = stop.wait(timeoutMs: 10_000)
                c2.close()
            }
        }
        sender.start()
        let r = try eddy.wait(timeout: 30)
        stop.request()
        #expect(r.status == 0, "stderr: \(r.stderr)")
        var total: [String: Int] = [:]
        for row in r.stdoutLines {
            let parts = row.split(separator: ",")
            guard parts.count == 2, let n = Int(parts[1]) else { continue }
            total[String(parts[0]), default: 0] += n
        }
        #expect(total == wordCounts(lines.joined(separator: "\n")))
        #expect(r.stderr.contains("reconnecting"))
    }

    @Test func fileSourceReadsRenamedInFilesOnceAndSkipsOldOnes() throws {
        let dir = try TempDir()
        try dir.write("in/old.csv", "0,old\n")
        try dir.write("job.sql", """
            SET batch_interval = '300ms';
            CREATE SOURCE rows (id INTEGER, name TEXT) WITH (connector = 'file', path = '\(dir.path)/in', format = 'csv');
            SELECT id, name, _shard FROM rows;
            """)
        let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--format", "csv", "--duration", "4s"])
        #expect(eventually { eddy.currentStderr.contains("batch=") })
        // Written elsewhere, then renamed in: never seen half-written.
        try dir.write("staging/new.csv", "1,one\n2,two\n")
        #expect(rename(dir.path + "/staging/new.csv", dir.path + "/in/new.csv") == 0)
        // A temp name in the watched directory is ignored until renamed.
        try dir.write("in/.partial.csv", "9,partial\n")
        usleep(700_000)
        try dir.write("staging/more.csv", "3,three\n")
        #expect(rename(dir.path + "/staging/more.csv", dir.path + "/in/more.csv") == 0)
        let r = try eddy.wait(timeout: 30)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdoutLines.sorted() == ["1,one,new.csv", "2,two,new.csv", "3,three,more.csv"])
    }

    @Test func stdinPipedEndsTheJobAtEndOfInput() throws {
        let text = (0..<5000).map { "line \($0 % 10)" }.joined(separator: "\n") + "\n"
        let job = try TempDir()
        try job.write("job.sql", """
            CREATE SOURCE lines WITH (connector = 'stdin');
            SELECT count(*) AS n, count(DISTINCT line) AS d, min(_seq) AS lo, max(_seq) AS hi FROM lines;
            """)
        let r = try EddyProcess.run(["run", job.path + "/job.sql", "--format", "csv", "--quiet"], stdin: text, timeout: 30)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        var n = 0, hi = -1
        for row in r.stdoutLines {
            let p = row.split(separator: ",").compactMap { Int($0) }
            guard p.count == 4 else { continue }
            n += p[0]
            hi = max(hi, p[3])
        }
        #expect(n == 5000)
        #expect(hi == 4999) // _seq counts records of the shard from 0
    }
}
