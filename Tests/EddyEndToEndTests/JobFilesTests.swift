import Foundation
import Testing

/// Every job in sql/ runs end to end.
@Suite struct JobFilesTests {
    @Test func quickstartPrintsLiveBatchesFromTheGenerator() throws {
        let r = try EddyProcess.run(["run", "sql/quickstart.sql", "--batches", "3"], timeout: 60)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let out = TableOutput(r.stdout)
        #expect(out.batches.count == 3)
        // Batch times are aligned to the 1s batch interval and one apart.
        #expect(out.times.allSatisfy { $0 % 1000 == 0 })
        #expect(zip(out.times, out.times.dropFirst()).allSatisfy { $1 - $0 == 1000 })
        // A full batch has 2,000 lines of 8 words; its top-5 rows are word and count.
        let full = try #require(out.batches.last)
        #expect(full.rows.count == 5)
        let counts = full.rows.compactMap { Int($0[1]) }
        #expect(counts.count == 5 && counts == counts.sorted(by: >))
        // One metrics line per batch.
        let metrics = metricsLines(r.stderr)
        #expect(metrics.count == 3)
        #expect(metrics.allSatisfy { $0["records"] != nil && $0["processing_ms"] != nil && $0["scheduling_delay_ms"] != nil && $0["total_delay_ms"] != nil })
    }

    @Test func networkWordCountOverAReplayOfTypedLines() throws {
        let dir = EddyProcess.repoRoot + "/samples/replay/network_wordcount"
        let r = try EddyProcess.run(["run", "sql/network_wordcount.sql", "--replay", dir, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        try expectWordCounts(r.stdout, replay: dir + "/lines", transform: { $0 })
        let expected = try String(contentsOfFile: dir + "/expected.txt", encoding: .utf8)
        #expect(r.stdout == expected)
    }

    @Test func fileWordCountOverAReplayOfFiles() throws {
        let dir = EddyProcess.repoRoot + "/samples/replay/file_wordcount"
        let r = try EddyProcess.run(["run", "sql/file_wordcount.sql", "--replay", dir, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        try expectWordCounts(r.stdout, replay: dir + "/docs", transform: { $0.lowercased() }, limit: 20, batchInterval: 2000)
        let expected = try String(contentsOfFile: dir + "/expected.txt", encoding: .utf8)
        #expect(r.stdout == expected)
    }

    @Test func kinesisWordCountOverAReplayOfShardRecords() throws {
        let dir = EddyProcess.repoRoot + "/samples/replay/kinesis_wordcount"
        let r = try EddyProcess.run(["run", "sql/kinesis_wordcount.sql", "--replay", dir, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        try expectWordCounts(r.stdout, replay: dir + "/records", transform: { $0 }, limit: 10, batchInterval: 2000)
        #expect(r.stdout == (try String(contentsOfFile: dir + "/expected.txt", encoding: .utf8)))
    }

    @Test func jsonEventsFromStdin() throws {
        let sample = EddyProcess.repoRoot + "/samples/events.jsonl"
        let text = try String(contentsOfFile: sample, encoding: .utf8)
        let r = try EddyProcess.run(["run", "sql/json_events.sql", "--format", "jsonl", "--quiet"], stdin: text)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        // Expected, computed here from the sample with Foundation's JSON parser.
        var perDeviceKind: [String: (n: Int, sum: Double, max: Double)] = [:]
        var perSite: [String: (n: Int, devices: Set<String>)] = [:]
        for line in text.split(separator: "\n") {
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let device = try #require(obj["device"] as? String), kind = try #require(obj["kind"] as? String)
            let value = try #require(obj["value"] as? Double), site = try #require(obj["site"] as? String)
            let key = device + "|" + kind
            var e = perDeviceKind[key] ?? (0, 0, -Double.infinity)
            e.n += 1; e.sum += value; e.max = max(e.max, value)
            perDeviceKind[key] = e
            var s = perSite[site] ?? (0, [])
            s.n += 1; s.devices.insert(device)
            perSite[site] = s
        }
        let rows = try r.stdoutLines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let statRows = rows.filter { $0["kind"] != nil }
        let siteRows = rows.filter { $0["site"] != nil }
        #expect(statRows.count == perDeviceKind.count)
        for row in statRows {
            let key = "\(row["device"]!)|\(row["kind"]!)"
            let e = try #require(perDeviceKind[key])
            #expect(row["n"] as? Int == e.n)
            #expect(abs((row["avg_value"] as? Double ?? -1) - (e.sum / Double(e.n) * 100).rounded() / 100) < 1e-9)
            #expect(row["max_value"] as? Double == e.max)
        }
        #expect(siteRows.count == perSite.count)
        for row in siteRows {
            let s = try #require(perSite[row["site"] as? String ?? ""])
            #expect(row["n"] as? Int == s.n)
            // json_group_array is embedded as JSON, not as a string.
            let devices = try #require(row["devices"] as? [String])
            #expect(Set(devices) == s.devices)
        }
    }

    /// Checks table output against word counts computed from the replay files.
    func expectWordCounts(_ stdout: String, replay dir: String, transform: (String) -> String, limit: Int? = nil,
                          batchInterval: Int64 = 1000) throws {
        let out = TableOutput(stdout)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".txt") }
        let last = files.compactMap { Int($0.dropLast(4)) }.max() ?? 0
        #expect(out.batches.count == last)
        for k in 1...max(1, last) {
            let path = dir + "/" + String(repeating: "0", count: 6 - String(k).count) + "\(k).txt"
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            var counts: [String: Int] = [:]
            for (w, n) in wordCounts(text) { counts[transform(w), default: 0] += n }
            var expected = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { [$0.key, String($0.value)] }
            if let limit { expected = Array(expected.prefix(limit)) }
            let batch = try #require(out.batch(Int64(k) * batchInterval))
            #expect(batch.rows == expected, "batch \(k)")
        }
    }
}
