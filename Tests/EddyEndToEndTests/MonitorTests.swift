import EddyIngest
import Foundation
import Glibc
import Testing

/// The monitor of a live run: the page, `/api/status`, `/api/batches`,
/// `/metrics` (read by Prometheus' own parser), `--metrics-file`, the step
/// summary at a graceful stop, and the token rule.
@Suite struct MonitorTests {
    /// A job with every kind of step: a load, a stream, a state update, a
    /// window, a sink and a query.
    static func wordJob(_ dir: TempDir, extra: String = "") throws -> String {
        try dir.write("job.sql", """
            SET batch_interval = '200ms';
            SET block_interval = '50ms';\(extra)
            CREATE SOURCE lines WITH (connector = 'generator', rate = 2000, shards = 2, words = 4, vocab = 30, seed = 3);
            CREATE STREAM words AS SELECT s.value AS word FROM lines, split(lines.line, ' ') AS s WHERE s.value <> '';
            CREATE STATE TABLE totals (word TEXT PRIMARY KEY, n INTEGER NOT NULL);
            INSERT INTO totals SELECT word, count(*) FROM words WHERE true GROUP BY word ON CONFLICT(word) DO UPDATE SET n = n + excluded.n;
            CREATE WINDOW recent ON words RANGE '1s';
            CREATE SINK top WITH (connector = 'file', path = '\(dir.path)/out/top', format = 'csv');
            INSERT INTO top SELECT word, count(*) AS n FROM recent GROUP BY word ORDER BY n DESC, word LIMIT 3;
            SELECT count(*) AS n FROM lines;
            """)
    }

    @Test func aLiveRunServesEveryEndpoint() throws {
        let dir = try TempDir()
        let path = try Self.wordJob(dir)
        let metricsPath = dir.path + "/metrics.jsonl"
        let run = try MonitorRun(["run", path, "--ui", "127.0.0.1:0", "--metrics-file", metricsPath, "--format", "csv"])
        #expect(eventually(timeout: 30) { run.batchesPublished() >= 6 }, "stderr: \(run.eddy.currentStderr.suffix(1500))")

        // The page, from the binary.
        let page = try run.get("/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"] == "text/html; charset=utf-8")
        for id in ["chart-input", "chart-sched", "chart-proc", "chart-total", "receivers", "batches", "runtime", "job-text"] {
            #expect(page.body.contains("id=\"\(id)\""), "the page has #\(id)")
        }

        // Status: the job, the receivers (both shards), the runtime and its tables.
        let status = try run.json("/api/status")
        let job = try #require(status["job"] as? [String: Any])
        let lanes = try #require(job["lanes"] as? Int)
        #expect(job["text"] as? String == (try String(contentsOfFile: path, encoding: .utf8)))
        #expect((job["plan"] as? String)?.contains("per batch, in this order:") == true)
        #expect(job["batch_interval_ms"] as? Int == 200)
        let receivers = try #require(status["receivers"] as? [[String: Any]])
        #expect(Set(receivers.compactMap { r in (r["source"] as? String).map { "\($0)/\(r["shard"] as? String ?? "")" } }) == ["lines/0", "lines/1"])
        for r in receivers {
            #expect(r["state"] as? String == "receiving")
            #expect((r["records"] as? Int ?? 0) > 0)
            #expect((r["bytes"] as? Int ?? 0) > 0)
            #expect(r["paused"] as? Bool == false)
            #expect(r["rate_limit"] as? Int == 2000, "the generator's rate is its limit")
        }
        let runtime = try #require(status["runtime"] as? [String: Any])
        #expect((runtime["memory_budget"] as? Int ?? 0) > 0)
        #expect(runtime["wal_bytes"] is NSNull, "no checkpoint, no log")
        let tables = try #require(runtime["tables"] as? [[String: Any]])
        let totals = try #require(tables.first { $0["name"] as? String == "totals" })
        #expect(totals["kind"] as? String == "state")
        #expect((totals["rows"] as? Int ?? 0) > 0 && (totals["rows"] as? Int ?? 0) <= 30)
        #expect((totals["bytes"] as? Int ?? 0) > 0)
        let recent = try #require(tables.first { $0["name"] as? String == "recent" })
        #expect(recent["kind"] as? String == "window" && recent["rows_exact"] as? Bool == true)
        #expect((recent["rows"] as? Int ?? 0) > 0)

        // Batches, and since=ID.
        let all = try #require(try run.json("/api/batches")["batches"] as? [[String: Any]])
        let ids = all.compactMap { $0["id"] as? Int }
        #expect(ids.count >= 6 && ids == ids.sorted())
        let after = try #require(try run.json("/api/batches?since=\(ids[2])")["batches"] as? [[String: Any]])
        #expect(after.compactMap { $0["id"] as? Int }.prefix(ids.count - 3) == ids.dropFirst(3))
        let busy = try #require(all.last { ($0["records"] as? Int ?? 0) > 0 })
        let steps = try #require(busy["steps"] as? [[String: Any]])
        #expect(Set(steps.compactMap { $0["kind"] as? String }) == ["load", "stream", "statement", "window", "sink", "commit"])
        let load = try #require(steps.first { $0["name"] as? String == "load lines" })
        #expect(load["rows_out"] as? Int == busy["records"] as? Int)
        #expect(load["at"] as? String == "\(path):3:15")
        let stream = try #require(steps.first { $0["name"] as? String == "stream words" })
        #expect(stream["rows_out"] as? Int == 4 * (busy["records"] as? Int ?? 0), "four words a line")
        #expect(stream["rows_in"] as? Int == busy["records"] as? Int)
        let upsert = try #require(steps.first { ($0["at"] as? String) == "\(path):6:1" && $0["kind"] as? String == "statement" })
        #expect(upsert["where"] as? String == "in order", "a state update runs in batch order")
        #expect((upsert["text"] as? String)?.hasPrefix("INSERT INTO totals SELECT word") == true)
        let rows = steps.first { $0["name"] as? String == "stream eddy_rows_line_6" }
        if lanes > 1 {
            // Its rows are made on the lane, by a stream of their own (RowsOnLanes.swift).
            let rows = try #require(rows)
            #expect(rows["where"] as? String == "lane" && rows["at"] as? String == "\(path):6:1", "\(rows)")
            #expect(rows["rows_in"] as? Int == stream["rows_out"] as? Int)
            #expect(upsert["rows_in"] as? Int == rows["rows_out"] as? Int)
            #expect((rows["rows_out"] as? Int ?? 99) <= 30, "one row per word of a vocabulary of 30")
        } else {
            #expect(rows == nil)
            #expect(upsert["rows_in"] as? Int == stream["rows_out"] as? Int)
        }
        let query = try #require(steps.first { ($0["at"] as? String) == "\(path):10:1" })
        #expect(query["rows_out"] as? Int == 1)
        let sink = try #require(steps.first { $0["name"] as? String == "sink top" })
        #expect((sink["rows_in"] as? Int ?? 99) <= 3)
        #expect(steps.compactMap { $0["order"] as? Int } == steps.compactMap { $0["order"] as? Int }.sorted())

        // /metrics, read by Prometheus' own parser.
        let exposition = try run.get("/metrics")
        #expect(exposition.status == 200)
        #expect(exposition.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let families = try PrometheusParser.parse(exposition.body)
        func value(_ family: String, _ sample: String, _ labels: [String: String] = [:]) -> Double? {
            families[family]?.samples.first { s in s.name == sample && labels.allSatisfy { k, v in s.labels[k] == v } }?.value
        }
        #expect(families["eddy_batches"]?.type == "counter")
        #expect((value("eddy_batches", "eddy_batches_total") ?? 0) >= 6)
        for shard in ["0", "1"] {
            #expect((value("eddy_records_received", "eddy_records_received_total", ["source": "lines", "shard": shard]) ?? 0) > 0)
            #expect((value("eddy_bytes_received", "eddy_bytes_received_total", ["source": "lines", "shard": shard]) ?? 0) > 0)
        }
        #expect(families["eddy_processing_time_seconds"]?.type == "histogram")
        #expect((value("eddy_processing_time_seconds", "eddy_processing_time_seconds_count") ?? 0) >= 6)
        #expect(value("eddy_processing_time_seconds", "eddy_processing_time_seconds_bucket", ["le": "0.2"]) != nil,
                "a bucket at the batch interval")
        #expect(families["eddy_total_delay_seconds"]?.type == "histogram")
        #expect(families["eddy_scheduling_delay_seconds"]?.type == "gauge")
        #expect(families["eddy_batches_in_flight"]?.type == "gauge")
        #expect(families["eddy_block_store_memory_bytes"]?.type == "gauge")
        #expect(families["eddy_blocks_spilled"]?.type == "counter")
        #expect(families["eddy_blocks_read_back"]?.type == "counter")
        #expect(families["eddy_bad_records"]?.type == "counter")
        #expect((value("eddy_state_table_rows", "eddy_state_table_rows", ["table": "totals"]) ?? 0) > 0)
        #expect((value("eddy_window_rows", "eddy_window_rows", ["window": "recent"]) ?? 0) > 0)
        #expect((value("eddy_sink_rows_written", "eddy_sink_rows_written_total", ["sink": "top"]) ?? 0) > 0)
        #expect(families.keys.allSatisfy { $0.hasPrefix("eddy_") })

        // A graceful stop: the summary on stderr, a metrics-file line per batch.
        run.eddy.signal(SIGTERM)
        let r = try run.eddy.wait(timeout: 60)
        #expect(r.status == 0, "stderr: \(r.stderr.suffix(2000))")
        let summary = r.stderr.split(separator: "\n").drop { !$0.hasPrefix("eddy: summary: ") }
        #expect(summary.first?.contains("batches") == true, "stderr: \(r.stderr.suffix(2000))")
        #expect(summary.contains { $0.contains("[\(path):6:1] INSERT INTO totals") && $0.contains("%") && $0.contains("in order") })
        #expect(summary.contains { $0.contains("stream words [\(path):4:15]") && $0.contains("on its lane") })
        let batchLines = metricsLines(r.stderr)
        let fileLines = try String(contentsOfFile: metricsPath, encoding: .utf8).split(separator: "\n")
        #expect(fileLines.count == batchLines.count)
        let fileTimes = try fileLines.map { line -> String in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(!(object["steps"] as? [Any] ?? []).isEmpty)
            return String(object["time"] as? Int ?? -1)
        }
        #expect(fileTimes == batchLines.map { $0["batch"] ?? "" })
    }

    @Test func aNonLoopbackAddressNeedsAToken() throws {
        let dir = try TempDir()
        let path = try Self.wordJob(dir)
        let refused = try EddyProcess.run(["run", path, "--ui", "0.0.0.0:0", "--duration", "5s"], timeout: 30)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("--ui 0.0.0.0:0: 0.0.0.0 is not a loopback address"), "\(refused.stderr)")
        #expect(metricsLines(refused.stderr).isEmpty, "refused before any batch")

        let setDir = try TempDir()
        let setPath = try Self.wordJob(setDir, extra: "\nSET ui = '0.0.0.0:0';")
        let refusedSet = try EddyProcess.run(["run", setPath, "--duration", "5s"], timeout: 30)
        #expect(refusedSet.status == 2)
        #expect(refusedSet.stderr.contains("ui = '0.0.0.0:0' (SET in \(setPath))"), "\(refusedSet.stderr)")

        let bad = try EddyProcess.run(["run", path, "--ui", "localhost"], timeout: 30)
        #expect(bad.status == 2 && bad.stderr.contains("--ui localhost"), "\(bad.stderr)")

        // With a token, every request must carry it.
        let run = try MonitorRun(["run", path, "--ui", "0.0.0.0:0", "--ui-token", "open-sesame-42", "--format", "csv"])
        #expect(eventually(timeout: 30) {
            (try? run.get("/api/status", headers: ["Authorization": "Bearer open-sesame-42"]).status) == 200
        })
        for endpoint in ["/", "/metrics", "/api/status", "/api/batches?since=0"] {
            #expect(try run.get(endpoint).status == 401, "\(endpoint) without a token")
            #expect(try run.get(endpoint, headers: ["Authorization": "Bearer open-sesame-4"]).status == 401, "\(endpoint) wrong token")
            let ok = try run.get(endpoint, headers: ["Authorization": "Bearer open-sesame-42"])
            #expect(ok.status == 200, "\(endpoint) with the token")
        }
        #expect(!(try run.get("/api/status").body.contains("CREATE SOURCE")), "a refused request shows nothing of the job")
        run.eddy.signal(SIGTERM)
        #expect(try run.eddy.wait(timeout: 60).status == 0)
    }

    @Test func setUIInTheJobServesTheMonitor() throws {
        let dir = try TempDir()
        let path = try Self.wordJob(dir, extra: "\nSET ui = '127.0.0.1:0';")
        let check = try EddyProcess.run(["check", path])
        #expect(check.status == 0)
        #expect(check.stdout.contains("ui = 127.0.0.1:0"), "\(check.stdout)")
        let run = try MonitorRun(["run", path, "--format", "csv"])
        #expect(eventually(timeout: 30) { run.batchesPublished() >= 2 })
        run.eddy.signal(SIGTERM)
        let r = try run.eddy.wait(timeout: 60)
        #expect(r.status == 0)
        #expect(r.stderr.contains("eddy: summary: "), "\(r.stderr)")
    }

    /// The server never holds up the batch loop: with clients that pipeline
    /// requests and never read the answers, and one that never finishes its
    /// request, batches go on, a new request is answered, and a graceful
    /// stop ends the run on time.
    @Test func clientsThatNeverReadDoNotHoldUpBatches() throws {
        let dir = try TempDir()
        let run = try MonitorRun(["run", try Self.wordJob(dir), "--ui", "127.0.0.1:0", "--format", "csv"])
        #expect(eventually(timeout: 30) { run.batchesPublished() >= 5 })
        let request = Array("GET /api/batches?since=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        let pipelined = Array(repeating: request, count: 64).flatMap { $0 }
        var stuck: [TCPSocket] = []
        defer { for s in stuck { s.close() } }
        for i in 0..<16 {
            guard let s = try? TCPSocket.connect(to: HostPort(host: "127.0.0.1", port: run.port)).get() else {
                Issue.record("connection \(i) refused")
                continue
            }
            s.setReceiveBuffer(4096)
            // Never waits: what the kernel does not take now is not sent.
            let bytes = i == 0 ? Array("GET /api/sta".utf8) : pipelined
            _ = bytes.withUnsafeBytes { s.send($0) }
            stuck.append(s)
        }
        // The engine's own metrics lines, not the server's figures: 200 ms
        // batches, so 10 more take 2 s when nothing holds them up.
        let before = metricsLines(run.eddy.currentStderr).count
        #expect(eventually(timeout: 60) { metricsLines(run.eddy.currentStderr).count >= before + 10 },
                "\(metricsLines(run.eddy.currentStderr).count - before) batches while clients were stuck")
        #expect((try? run.get("/api/status").status) == 200)
        run.eddy.signal(SIGTERM)
        let r = try run.eddy.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
    }

    /// `--quiet` is errors only: no metrics lines, no summary.
    @Test func quietPrintsNoSummary() throws {
        let dir = try TempDir()
        let r = try EddyProcess.run(["run", try Self.wordJob(dir), "--quiet", "--format", "csv", "--duration", "1s"], timeout: 60)
        #expect(r.status == 0)
        #expect(r.stderr.isEmpty, "\(r.stderr)")
    }
}
