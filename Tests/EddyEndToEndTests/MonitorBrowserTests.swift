import Foundation
import Glibc
import Testing

/// The page in a real browser: Debian's headless Chromium (scripts/setup.sh
/// installs it) loads `/` during a live run and runs its script; the DOM it
/// ends with must hold a chart point for every batch that ran before it
/// loaded, and a receivers row per shard. It also saves a screenshot, to
/// `EDDY_UI_SCREENSHOT` or `.build/ui-screenshot.png`.
@Suite struct MonitorBrowserTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Chromium with a profile of its own in `profile`, for one command.
    static func chromiumArgs(profile: String, _ extra: [String]) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-extensions", "--hide-scrollbars", "--user-data-dir=\(profile)"] + extra
    }

    static func runChromium(_ args: [String], timeout: Double = 90) throws -> EddyProcess.Result {
        let binary = try #require(chromium, "chromium is not installed: scripts/setup.sh installs it")
        let quoted = args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try EddyProcess.shell("\(binary) \(quoted)", timeout: timeout)
    }

    @Test func thePageDrawsEveryBatchAndListsTheShards() throws {
        let dir = try TempDir()
        let path = try MonitorTests.wordJob(dir)
        let run = try MonitorRun(["run", path, "--ui", "127.0.0.1:0", "--format", "csv"])
        defer {
            run.eddy.signal(SIGTERM)
            _ = try? run.eddy.wait(timeout: 60)
        }
        #expect(eventually(timeout: 30) { run.batchesPublished() >= 5 })
        // Every batch published before the browser loads the page.
        let before = try #require(try run.json("/api/batches")["batches"] as? [[String: Any]]).compactMap { $0["id"] as? Int }
        #expect(before.count >= 5)

        let profile = try TempDir()
        // Virtual time runs the page's polling for 4 s of its own clock, as
        // fast as the page's requests are answered.
        let dump = try Self.runChromium(Self.chromiumArgs(profile: profile.path, [
            "--window-size=1280,2000", "--virtual-time-budget=4000", "--dump-dom", "http://127.0.0.1:\(run.port)/",
        ]))
        #expect(dump.status == 0, "chromium: \(dump.stderr.suffix(1500))")
        let dom = dump.stdout
        for chart in ["chart-input", "chart-sched", "chart-proc", "chart-total"] {
            let svg = try #require(Self.element(dom, id: chart), "no #\(chart) in the DOM: \(dom.prefix(500))")
            let points = Set(Self.attributeValues(svg, "data-batch").compactMap { Int($0) })
            let missing = before.filter { !points.contains($0) }
            #expect(missing.isEmpty, "\(chart) has no point for batches \(missing)")
            #expect(svg.contains("class=\"line\""), "\(chart) draws its line")
            if chart != "chart-input" { #expect(svg.contains("batch interval 200 ms"), "\(chart) shows the batch interval") }
        }
        let receivers = try #require(Self.element(dom, id: "receivers"))
        #expect(Set(Self.attributeValues(receivers, "data-shard")) == ["lines/0", "lines/1"])
        #expect(Self.element(dom, id: "live")?.contains("class=\"pill live\"") == true, "the page reached the API")
        let jobText = try #require(Self.element(dom, id: "job-text"))
        #expect(jobText.contains("CREATE STATE TABLE totals"))
        let steps = try #require(Self.element(dom, id: "detail-steps"))
        #expect(steps.contains("INSERT INTO totals SELECT word"), "the latest batch's steps are shown")
        for hist in ["hist-input", "hist-sched", "hist-proc", "hist-total"] {
            #expect(Self.element(dom, id: hist)?.contains("class=\"bar\"") == true, "\(hist) draws its bars")
        }
        // The runtime card nests <div>s: everything from it up to the next card.
        let runtimeStart = try #require(dom.range(of: "id=\"runtime\""))
        let runtimeEnd = try #require(dom.range(of: "id=\"tables-summary\"", range: runtimeStart.upperBound..<dom.endIndex))
        let runtime = String(dom[runtimeStart.lowerBound..<runtimeEnd.lowerBound])
        for label in ["block store, memory", "block store, disk", "spilled / read back", "write-ahead log", "last checkpoint commit", "batches in flight"] {
            #expect(runtime.contains(label), "the runtime card shows \(label)")
        }
        let tables = try #require(Self.element(dom, id: "tables"))
        #expect(tables.contains(">totals<") && tables.contains(">recent<") && tables.contains(">window<"), "\(tables)")
        let plan = try #require(Self.element(dom, id: "job-plan"))
        #expect(plan.contains("lanes: ") && plan.contains("on its lane") && plan.contains("in order"), "\(plan)")

        // A pinned batch (what a click on its row or point does) is in the
        // address: a link to it shows that batch's steps, not the latest's.
        let pinned = before[1]
        let pinnedDump = try Self.runChromium(Self.chromiumArgs(profile: profile.path, [
            "--window-size=1280,2000", "--virtual-time-budget=3000", "--dump-dom", "http://127.0.0.1:\(run.port)/#batch=\(pinned)",
        ]))
        #expect(pinnedDump.status == 0, "chromium: \(pinnedDump.stderr.suffix(1500))")
        let detail = try #require(Self.element(pinnedDump.stdout, id: "detail-id"))
        #expect(detail.contains(">\(pinned) · ") && !detail.contains("(latest)"), "\(detail)")
        #expect(Self.element(pinnedDump.stdout, id: "detail-steps")?.contains("INSERT INTO totals SELECT word") == true)
        #expect(Self.element(pinnedDump.stdout, id: "batches")?.contains("<tr data-batch=\"\(pinned)\" class=\"sel\">") == true,
                "the pinned batch's row is marked")

        // A screenshot of the page as a person sees it.
        let shot = ProcessInfo.processInfo.environment["EDDY_UI_SCREENSHOT"] ?? EddyProcess.repoRoot + "/.build/ui-screenshot.png"
        try? FileManager.default.removeItem(atPath: shot)
        let picture = try Self.runChromium(Self.chromiumArgs(profile: profile.path, [
            "--window-size=1280,2300", "--virtual-time-budget=4000", "--screenshot=\(shot)", "http://127.0.0.1:\(run.port)/",
        ]))
        #expect(picture.status == 0, "chromium: \(picture.stderr.suffix(1500))")
        let png = try #require(FileManager.default.contents(atPath: shot), "no screenshot at \(shot)")
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")
        #expect(png.count > 20_000, "a page with something on it (\(png.count) bytes)")
    }

    /// The element with `id` and everything up to its closing tag (the DOM
    /// Chromium dumps is serialized HTML: elements of one kind do not nest here).
    static func element(_ dom: String, id: String) -> String? {
        guard let start = dom.range(of: "id=\"\(id)\"") else { return nil }
        guard let open = dom[..<start.lowerBound].lastIndex(of: "<") else { return nil }
        let tag = dom[dom.index(after: open)...].prefix { $0.isLetter || $0.isNumber }
        guard let close = dom.range(of: "</\(tag)>", range: start.upperBound..<dom.endIndex) else { return nil }
        return String(dom[open..<close.upperBound])
    }

    static func attributeValues(_ html: String, _ name: String) -> [String] {
        var out: [String] = []
        var rest = html[...]
        while let r = rest.range(of: " \(name)=\"") {
            let value = rest[r.upperBound...].prefix { $0 != "\"" }
            out.append(String(value))
            rest = rest[r.upperBound...]
        }
        return out
    }
}
