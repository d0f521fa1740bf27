import Foundation
import Testing

/// The window and state jobs in sql/, over their replay fixtures, against
/// expectations computed here from the fixture files.
@Suite struct WindowJobFilesTests {
    func batches(_ dir: String) throws -> [Int: String] {
        var out: [Int: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) where name.hasSuffix(".txt") {
            if let k = Int(name.dropLast(4)) { out[k] = try String(contentsOfFile: dir + "/" + name, encoding: .utf8) }
        }
        return out
    }

    func run(_ job: String) throws -> (TableOutput, String) {
        let dir = EddyProcess.repoRoot + "/samples/replay/" + job
        let r = try EddyProcess.run(["run", "sql/\(job).sql", "--replay", dir, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let golden = try String(contentsOfFile: dir + "/expected.txt", encoding: .utf8)
        #expect(r.stdout == golden)
        return (TableOutput(r.stdout), dir)
    }

    func top10(_ counts: [String: Int]) -> [[String]] {
        counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(10).map { [$0.key, String($0.value)] }
    }

    @Test func windowedWordCountEvery10sOverTheLast30s() throws {
        let (out, dir) = try run("windowed_wordcount")
        let input = try batches(dir + "/lines")
        let last = input.keys.max() ?? 0
        var expected: [Int64: [[String]]] = [:]
        var t = 10
        while t <= last + 30 - 1 {
            var counts: [String: Int] = [:]
            for b in max(1, t - 29)...t { for (w, n) in wordCounts(input[b] ?? "") { counts[w, default: 0] += n } }
            expected[Int64(t) * 1000] = top10(counts)
            t += 10
        }
        #expect(out.batches.count == expected.count)
        for b in out.batches { #expect(b.rows == expected[b.time], "batch \(b.time)") }
    }

    @Test func statefulWordCountKeepsRunningTotals() throws {
        let (out, dir) = try run("stateful_wordcount")
        let input = try batches(dir + "/lines")
        var totals = ["hello": 1, "world": 1]
        #expect(out.batches.count == input.keys.max())
        for b in out.batches {
            for (w, n) in wordCounts(input[Int(b.time / 1000)] ?? "") { totals[w, default: 0] += n }
            #expect(b.rows == top10(totals), "batch \(b.time)")
        }
    }

    @Test func sensorAlertsWhenTheWindowAverageIsTooHot() throws {
        let (out, dir) = try run("sensor_alerts")
        var readings: [Int: [(device: String, site: String, value: Double)]] = [:]
        var torn = 0
        for (k, text) in try batches(dir + "/readings") {
            for line in text.split(separator: "\n") {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { torn += 1; continue }
                guard obj["kind"] as? String == "temp", let v = obj["value"] as? Double else { continue }
                readings[k, default: []].append((obj["device"] as! String, obj["site"] as! String, v))
            }
        }
        #expect(torn == 1)
        // 5 s batches, a 20 s window every 10 s: T = 10, 20, ... s, holding batches (T-20, T].
        let last = readings.keys.max() ?? 0
        var alerts: [Int64: [[String]]] = [:]
        var t = 10_000
        while t <= last * 5000 + 20_000 - 5000 {
            var sums: [String: (site: String, sum: Double, n: Int, peak: Double)] = [:]
            for k in readings.keys where k * 5000 > t - 20_000 && k * 5000 <= t {
                for r in readings[k]! {
                    var e = sums[r.device] ?? (r.site, 0, 0, -1000)
                    e.sum += r.value; e.n += 1; e.peak = max(e.peak, r.value)
                    sums[r.device] = e
                }
            }
            let hot = sums.filter { $0.value.sum / Double($0.value.n) > 30 }
                .sorted { ($0.value.sum / Double($0.value.n), $1.key) > ($1.value.sum / Double($1.value.n), $0.key) }
            alerts[Int64(t)] = hot.map { [String(t), $0.key, $0.value.site, String((($0.value.sum / Double($0.value.n)) * 100).rounded() / 100), String($0.value.n), String($0.value.peak)] }
            t += 10_000
        }
        #expect(out.batches.count == alerts.count)
        for b in out.batches {
            let want = alerts[b.time] ?? []
            #expect(b.rows.count == want.count, "batch \(b.time)")
            for (got, exp) in zip(b.rows, want) {
                // Every column exact but the rounded average: SQLite's round()
                // and Swift's disagree at .xx5 in binary floating point.
                #expect(got.count == 6 && [got[0], got[1], got[2], got[4], got[5]] == [exp[0], exp[1], exp[2], exp[4], exp[5]])
                #expect(abs((Double(got[3]) ?? 0) - (Double(exp[3]) ?? 0)) <= 0.011, "batch \(b.time)")
            }
        }
        #expect(alerts.values.contains { !$0.isEmpty })
    }

    @Test func sessionsEndAfterThirtyIdleSeconds() throws {
        let (out, dir) = try run("sessions")
        let input = try batches(dir + "/clicks")
        var open: [String: (started: Int, last: Int, pages: Int)] = [:]
        var ended: [Int64: [[String]]] = [:]
        for k in 1...(input.keys.max() ?? 0) {
            let t = k * 10_000
            for line in (input[k] ?? "").split(separator: "\n") {
                let user = String(line.split(separator: ",")[0])
                var s = open[user] ?? (t, t, 0)
                s.last = t; s.pages += 1
                open[user] = s
            }
            var now: [[String]] = []
            for (user, s) in open where s.last <= t - 30_000 {
                now.append([user, String(s.pages), String((s.last - s.started) / 1000), "ended"])
                open.removeValue(forKey: user)
            }
            ended[Int64(t)] = now.sorted { $0[0] < $1[0] }
        }
        #expect(out.batches.count == ended.count)
        for b in out.batches { #expect(b.rows.sorted { $0[0] < $1[0] } == ended[b.time], "batch \(b.time)") }
        #expect(ended.values.flatMap { $0 }.count >= 2)
    }
}
