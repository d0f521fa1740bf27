import EddyCore

/// The whole run's time per step, printed on stderr when the run ends
/// gracefully: which statement to look at first, without the UI.
public struct StepSummary: Sendable {
    private struct Total: Sendable {
        var step: StepTiming
        var nanos: Int64 = 0
        var runs: Int64 = 0
        var rowsIn: Int64 = 0
        var rowsOut: Int64 = 0
    }

    /// By `StepTiming.order`.
    private var totals: [Int: Total] = [:]
    public private(set) var batches: Int64 = 0
    public private(set) var records: Int64 = 0
    private var processingNanos: Int64 = 0
    private var turnWaitNanos: Int64 = 0

    public init() {}

    public mutating func add(_ m: BatchMetrics) {
        batches += 1
        records += m.records
        processingNanos += Int64(m.processingMs * 1_000_000)
        turnWaitNanos += Int64(m.turnWaitMs * 1_000_000)
        for s in m.steps {
            var t = totals[s.order] ?? Total(step: s)
            t.nanos += s.nanos
            t.runs += 1
            t.rowsIn += s.rowsIn ?? 0
            t.rowsOut += s.rowsOut ?? 0
            totals[s.order] = t
        }
    }

    /// Lines for stderr, each starting with `eddy: `; empty when no batch ran.
    public func lines(runMs: Int64) -> [String] {
        guard batches > 0 else { return [] }
        let processing = Double(processingNanos) / 1e9
        var out: [String] = []
        let share = runMs > 0 ? " (\(Self.percent(processing * 1000 / Double(runMs))) of the run's \(Units.formatDuration(runMs)))" : ""
        out.append("eddy: summary: \(batches) batch\(batches == 1 ? "" : "es"), \(records) records; processing took \(Self.seconds(processing))\(share); by step:")
        let steps = totals.values.sorted { $0.nanos > $1.nanos }
        let inSteps = steps.reduce(Int64(0)) { $0 + $1.nanos }
        for t in steps {
            var notes = [t.step.onLane ? "on its lane" : "in order", "\(t.runs) run\(t.runs == 1 ? "" : "s")"]
            if t.rowsIn > 0 { notes.append("\(t.rowsIn) rows in") }
            if t.rowsOut > 0 { notes.append("\(t.rowsOut) rows out") }
            out.append(row(nanos: t.nanos, label: t.step.label, notes: notes.joined(separator: ", ")))
        }
        let other = processingNanos - inSteps
        if other > 0 {
            out.append(row(nanos: other, label: "(the rest: between steps, printing, bookkeeping)", notes: ""))
        }
        if turnWaitNanos > 0 {
            out.append("eddy:   and batches waited \(Self.seconds(Double(turnWaitNanos) / 1e9)) in all for the batch before them to commit (not counted above)")
        }
        return out
    }

    /// The same figures as log events, for `--log-format json`: the run's
    /// totals, then one event per step, largest first.
    public func events(runMs: Int64) -> [(message: String, fields: [LogField])] {
        guard batches > 0 else { return [] }
        func ms(_ nanos: Int64) -> String { BatchMetrics.fixed(Double(nanos) / 1e6) }
        var out: [(message: String, fields: [LogField])] = [("summary", [
            LogField("batches", "\(batches)"), LogField("records", "\(records)"),
            LogField("processing_ms", ms(processingNanos)), LogField("run_ms", "\(runMs)"),
            LogField("turn_wait_ms", ms(turnWaitNanos)),
        ])]
        let steps = totals.values.sorted { $0.nanos > $1.nanos }
        let inSteps = steps.reduce(Int64(0)) { $0 + $1.nanos }
        for t in steps {
            out.append(("summary step", [
                LogField("step", t.step.label), LogField("where", t.step.onLane ? "lane" : "in order"),
                LogField("ms", ms(t.nanos)), LogField("percent", share(t.nanos)), LogField("runs", "\(t.runs)"),
                LogField("rows_in", "\(t.rowsIn)"), LogField("rows_out", "\(t.rowsOut)"),
            ]))
        }
        let other = processingNanos - inSteps
        if other > 0 {
            out.append(("summary step", [LogField("step", "(the rest)"), LogField("ms", ms(other)), LogField("percent", share(other))]))
        }
        return out
    }

    private func share(_ nanos: Int64) -> String {
        BatchMetrics.fixed(processingNanos > 0 ? 100 * Double(nanos) / Double(processingNanos) : 0)
    }

    private func row(nanos: Int64, label: String, notes: String) -> String {
        let fraction = processingNanos > 0 ? Double(nanos) / Double(processingNanos) : 0
        let pct = Self.percent(fraction)
        let time = Self.seconds(Double(nanos) / 1e9)
        let padded = String(repeating: " ", count: max(0, 6 - pct.count)) + pct + "  " + String(repeating: " ", count: max(0, 8 - time.count)) + time
        return "eddy: \(padded)  \(label)\(notes.isEmpty ? "" : "  (\(notes))")"
    }

    static func percent(_ fraction: Double) -> String {
        let p = (fraction * 1000).rounded() / 10
        return (p == p.rounded() ? String(Int(p)) + ".0" : String(p)) + "%"
    }

    static func seconds(_ s: Double) -> String {
        if s < 1 { return String(Int((s * 1000).rounded())) + " ms" }
        let r = (s * 100).rounded() / 100
        return String(r) + " s"
    }
}
