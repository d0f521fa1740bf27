import Foundation
import Glibc
import Testing

/// How eddy behaves as a Unix process: stdout for data, stderr for logs,
/// signals, closed pipes, exit codes.
@Suite struct ProcessTests {
    @Test func pipingIntoHeadEndsQuietly() throws {
        let r = try EddyProcess.shell("set -o pipefail; \"$EDDY\" run sql/quickstart.sql --format csv | head -3", timeout: 30)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdoutLines.count == 3)
        #expect(!r.stderr.contains("error"))
    }

    @Test func sigtermFinishesTheBatchInFlightAndExitsZero() throws {
        let eddy = try EddyProcess(["run", "sql/quickstart.sql", "--format", "csv"])
        #expect(eventually { eddy.currentStdout.split(separator: "\n").count >= 5 })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 30)
        #expect(r.status == 0)
        #expect(r.stderr.contains("stopping"))
        // Every batch printed its whole top 5: nothing was cut off.
        #expect(r.stdoutLines.count % 5 == 0)
    }

    @Test func aSecondSignalExitsAtOnce() throws {
        let dir = try TempDir()
        // A statement slow enough that a batch is in flight when the signals come.
        try dir.write("slow.sql", """
            CREATE SOURCE lines WITH (connector = 'generator', rate = 100);
            SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) SELECT x FROM c);
            """)
        let eddy = try EddyProcess(["run", dir.path + "/slow.sql"])
        // Generous: each batch counts 20 million rows, three at a time on
        // three lanes, and a sanitized eddy (scripts/sanitize.sh) is slower.
        #expect(eventually(timeout: 90) { eddy.currentStderr.contains("batch=") || eddy.currentStdout.contains("batch") })
        eddy.signal(SIGINT)
        usleep(100_000)
        eddy.signal(SIGINT)
        let r = try eddy.wait(timeout: 30)
        #expect(r.status == 128 + SIGINT)
    }

    @Test func metricsGoToStderrOnePerBatchAndQuietSilencesThem() throws {
        let loud = try EddyProcess.run(["run", "sql/network_wordcount.sql", "--replay", "samples/replay/network_wordcount"])
        #expect(loud.status == 0)
        let lines = metricsLines(loud.stderr)
        #expect(lines.map { $0["batch"] } == ["1000", "2000", "3000", "4000"])
        #expect(lines.map { $0["records"] } == ["2", "4", "0", "2"])
        #expect(!loud.stdout.contains("batch="))
        let quiet = try EddyProcess.run(["run", "sql/network_wordcount.sql", "--replay", "samples/replay/network_wordcount", "--quiet"])
        #expect(quiet.status == 0)
        #expect(quiet.stderr.isEmpty)
        #expect(quiet.stdout == loud.stdout)
    }

    @Test func genWritesDeterministicLinesAndServesThemOverTCP() throws {
        let a = try EddyProcess.run(["gen", "--count", "200", "--words", "5", "--seed", "3", "--rate", "0"])
        let b = try EddyProcess.run(["gen", "--count", "200", "--words", "5", "--seed", "3", "--rate", "0"])
        #expect(a.status == 0 && a.stdoutLines.count == 200)
        #expect(a.stdout == b.stdout)
        #expect(a.stdoutLines.allSatisfy { $0.split(separator: " ").count == 5 })
        let c = try EddyProcess.run(["gen", "--count", "200", "--words", "5", "--seed", "4", "--rate", "0"])
        #expect(c.stdout != a.stdout)

        // --listen: a job reading the generator over a socket.
        let server = try EddyProcess(["gen", "--listen", "127.0.0.1:0", "--rate", "2000"])
        // Waited for, not only signalled: a test leaves no process behind.
        defer {
            server.signal(SIGTERM)
            _ = try? server.wait(timeout: 30)
        }
        var port = ""
        #expect(eventually {
            if let r = server.currentStderr.range(of: "serving lines on 127.0.0.1:") {
                port = String(server.currentStderr[r.upperBound...].prefix { $0.isNumber })
            }
            return !port.isEmpty
        })
        let dir = try TempDir()
        try dir.write("job.sql", """
            CREATE SOURCE lines WITH (connector = 'socket', address = '127.0.0.1:\(port)');
            SELECT count(*) AS n FROM lines;
            """)
        let r = try EddyProcess.run(["run", dir.path + "/job.sql", "--format", "csv", "--duration", "3s", "--quiet"], timeout: 30)
        #expect(r.status == 0)
        let total = r.stdoutLines.compactMap { Int($0) }.reduce(0, +)
        #expect(total > 1000)
    }

    @Test func checkPrintsThePlan() throws {
        let r = try EddyProcess.run(["check", "sql/quickstart.sql"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("sources:"))
        #expect(r.stdout.contains("lines"))
        #expect(r.stdout.contains("stream words"))
        #expect(r.stdout.contains("every batch → stdout"))
    }
}
