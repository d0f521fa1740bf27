import EddyCore
import Foundation
import Testing
@testable import EddyMonitor

/// What the API, the metrics file and the stop summary write.
@Suite struct MonitorOutputTests {
    @Test func batchJSONParsesAndCarriesItsSteps() throws {
        var m = MonitorFixtures.batch(4)
        m.gauges = ["s/behind_ms/shardId-0": 1500]
        let line = MonitorJSON.batch(m, batchIntervalMs: 1000)
        #expect(!line.contains("\n"), "one line per batch")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["id"] as? Int == 4)
        #expect(object["records"] as? Int == 400)
        #expect(object["input_rate"] as? Double == 400 || object["input_rate"] as? Int == 400)
        #expect((object["shards"] as? [String: Int]) == ["s/0": 240, "s/1": 160])
        #expect((object["behind_ms"] as? [String: Int]) == ["s/shardId-0": 1500])
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.map { $0["kind"] as? String } == ["load", "statement", "sink"])
        #expect(steps[1]["at"] as? String == "job.sql:2:1")
        #expect(steps[1]["where"] as? String == "in order")
        #expect(steps[0]["where"] as? String == "lane")
        #expect(steps[1]["ms"] as? Int == 8)
        #expect(steps[1]["rows_out"] as? Int == 1)
    }

    @Test func stringsAreEscaped() throws {
        var w = JSONWriter()
        w.beginObject()
        w.string("s", "quote \" backslash \\ newline \n tab \t bell \u{7} line-sep \u{2028} é")
        w.double("nan", .nan)
        w.double("x", 1.23456)
        w.int("none", nil)
        w.endObject()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(w.text.utf8)) as? [String: Any])
        #expect(object["s"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{7} line-sep \u{2028} é")
        #expect(object["nan"] is NSNull)
        #expect(object["x"] as? Double == 1.235)
        #expect(object["none"] is NSNull)
    }

    @Test func statusJSONHasEverythingThePageShows() throws {
        let monitor = RunMonitor(job: MonitorFixtures.job)
        monitor.publish(MonitorFixtures.batch(1))
        monitor.publish(tables: [TableFigures(name: "totals", kind: .state, rows: 42, bytes: 8192, rowsExact: false, sampledAtMs: 1)])
        monitor.attach(receivers: {
            [ReceiverRow(source: "s", shard: "0", connector: "generator", state: "receiving", records: 10, bytes: 100,
                         paused: false, rateLimit: 500)]
        }, runtime: {
            var f = RuntimeFigures()
            f.storeMemoryBytes = 1234
            f.walBytes = 99
            f.badRecords = ["s": 3]
            return f
        })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(MonitorJSON.status(monitor).utf8)) as? [String: Any])
        let job = try #require(object["job"] as? [String: Any])
        #expect(job["text"] as? String == MonitorFixtures.job.text)
        #expect(job["plan"] as? String == MonitorFixtures.job.plan)
        #expect((job["sources"] as? [[String: Any]])?.first?["bad_records"] as? Int == 3)
        let run = try #require(object["run"] as? [String: Any])
        #expect(run["batches"] as? Int == 1)
        #expect((run["last_batch"] as? [String: Any])?["id"] as? Int == 1)
        let receivers = try #require(object["receivers"] as? [[String: Any]])
        #expect(receivers.first?["shard"] as? String == "0")
        #expect(receivers.first?["rate_limit"] as? Int == 500)
        let runtime = try #require(object["runtime"] as? [String: Any])
        #expect(runtime["block_store_memory_bytes"] as? Int == 1234)
        #expect(runtime["wal_bytes"] as? Int == 99)
        #expect((runtime["tables"] as? [[String: Any]])?.first?["rows"] as? Int == 42)
    }

    @Test func summaryGivesEachStepsShare() {
        var summary = StepSummary()
        for id in 1...4 { summary.add(MonitorFixtures.batch(Int64(id), processingMs: 12.5)) }
        let lines = summary.lines(runMs: 4000)
        #expect(lines.first?.hasPrefix("eddy: summary: 4 batches, 1000 records; processing took 50 ms") == true)
        // 8 of every 12.5 ms in the query, 2 in the load, 1 in the sink, 1.5 elsewhere.
        #expect(lines[1].contains("64.0%") && lines[1].contains("[job.sql:2:1] SELECT count(*) FROM s"))
        #expect(lines[2].contains("16.0%") && lines[2].contains("load s [job.sql:1:1]") && lines[2].contains("on its lane"))
        #expect(lines[3].contains("8.0%") && lines[3].contains("sink out"))
        #expect(lines[4].contains("12.0%") && lines[4].contains("the rest"))
        #expect(StepSummary().lines(runMs: 100).isEmpty)
    }

    @Test func prometheusHelpLinesPrecedeTheirTypes() {
        let text = "# TYPE eddy_batches_total counter\neddy_batches_total 3\n# TYPE other gauge\nother 1\n"
        let out = String(decoding: PrometheusExport.addingHelp(to: Array(text.utf8)), as: UTF8.self)
        #expect(out == "# HELP eddy_batches_total Batches committed.\n# TYPE eddy_batches_total counter\neddy_batches_total 3\n# TYPE other gauge\nother 1\n")
    }
}
