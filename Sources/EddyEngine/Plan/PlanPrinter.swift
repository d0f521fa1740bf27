import EddyCore
import EddyIngest
import EddyJob
import EddyKinesis

/// The plan as `eddy check` prints it: what the job reads, what it defines,
/// and when each statement runs.
public enum PlanPrinter {
    public static func describe(_ plan: Plan) -> String {
        var out: [String] = []
        let bi = plan.settings.batchInterval
        out.append("job \(plan.jobPath): ok")
        out.append("")
        out.append("settings (with the range each takes):")
        let defaults = Settings().described
        let width = plan.settings.described.map { $0.0.count + $0.1.count }.max() ?? 0
        for ((key, value), (_, def)) in zip(plan.settings.described, defaults) {
            var line = "  \(key) = \(value)"
            var notes: [String] = []
            if value != def { notes.append("set") }
            if let bounds = Settings.bounds[key] { notes.append(bounds.described) }
            if !notes.isEmpty {
                line += String(repeating: " ", count: width - key.count - value.count + 3) + "(\(notes.joined(separator: "; ")))"
            }
            out.append(line)
        }
        out.append("")
        out.append("sources:")
        for s in plan.sources {
            let cols = s.config.schema.tableColumns.map { $0.type.isEmpty ? $0.name : "\($0.name) \($0.type)" }.joined(separator: ", ")
            out.append("  \(s.name)  [\(s.location)]")
            out.append("    connector: \(describe(s.config.connector))")
            out.append("    format: \(s.config.schema.format.rawValue)\(s.config.schema.header ? " (header)" : "")")
            out.append("    columns: \(cols)")
            out.append("    receivers: \(receivers(s.config.connector))")
            if let e = s.config.errorsPath { out.append("    bad records: \(e)") }
        }
        if !plan.streams.isEmpty {
            out.append("")
            out.append("streams (recomputed from each batch):")
            for s in plan.streams {
                out.append("  \(s.name)  [\(s.location)]  \(every(s.slide, bi))")
                out.append("    reads: \(s.reads.sorted().joined(separator: ", "))")
            }
        }
        if !plan.windows.isEmpty {
            out.append("")
            out.append("windows:")
            for w in plan.windows {
                out.append("  \(w.name) ON \(w.parent) RANGE \(Units.formatDuration(w.range)) SLIDE \(Units.formatDuration(w.slide))  [\(w.location)]")
                out.append("    holds the last \(w.range / w.parentSlide) emission(s) of \(w.parent); evaluated \(every(w.slide, bi))")
            }
        }
        if !plan.stateTables.isEmpty {
            out.append("")
            out.append("state tables (kept across batches):")
            for t in plan.stateTables {
                out.append("  \(t.name)  [\(t.location)]\(t.initial == nil ? "" : "  seeded once by INITIAL AS")")
            }
        }
        if !plan.sinks.isEmpty {
            out.append("")
            out.append("sinks:")
            for s in plan.sinks {
                let opts = s.options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                out.append("  \(s.name)  [\(s.location)]  \(opts)")
                out.append("    columns: \(s.columns.isEmpty ? "(never written)" : s.columns.joined(separator: ", "))")
            }
        }
        if !plan.startStatements.isEmpty {
            out.append("")
            out.append("once at start:")
            for s in plan.startStatements {
                out.append("  [\(s.location)]  \(oneLine(s.sql.text))")
                if let note = s.note { out.append("      eddy check: \(note)") }
            }
        }
        out.append("")
        if let reason = plan.singleLaneReason {
            out.append("lanes: 1 (parallelism = \(plan.settings.parallelism), but \(reason))")
        } else {
            out.append("lanes: \(plan.lanes): batches run at the same time on \(plan.lanes) lane\(plan.lanes == 1 ? "" : "s"); steps marked 'in order' wait for the previous batch's")
        }
        out.append("")
        out.append("per batch, in this order:")
        for (k, step) in plan.steps.enumerated() {
            let placement: String
            switch plan.placements.indices.contains(k) ? plan.placements[k] : .lane {
            case .lane: placement = "on its lane"
            case .ordered(let why): placement = "in order: \(why)"
            }
            switch step {
            case .stream(let i):
                let s = plan.streams[i]
                out.append("  [\(s.location)]  stream \(s.name)  \(every(s.slide, bi))")
                if s.rowsOf != nil {
                    out.append("      made by eddy: the rows of the statement below, so that they are made on the lane")
                }
                if let reader = s.inlinedInto, case .statement(let r) = plan.steps[reader] {
                    out.append("      not materialized: inlined as a view into its one reader [\(plan.statements[r].location)]")
                } else if let reader = s.inlinedInto, case .stream(let r) = plan.steps[reader] {
                    out.append("      not materialized: inlined as a view into its one reader, stream \(plan.streams[r].name)")
                } else {
                    out.append("      \(placement)")
                    if s.hashCounted { out.append("      \(hashNote)") }
                }
            case .window(let i):
                let w = plan.windows[i]
                out.append("  [\(w.location)]  window \(w.name) takes \(w.parent)'s rows \(every(w.parentSlide, bi)), drops those older than \(Units.formatDuration(w.range))")
                out.append("      \(placement)")
            case .statement(let i):
                let s = plan.statements[i]
                var when = every(s.slide, bi)
                if !s.windows.isEmpty {
                    when += " (window\(s.windows.count > 1 ? "s" : "") \(s.windows.map { plan.windows[$0].name }.joined(separator: ", ")))"
                }
                let target: String
                if let k = s.sink {
                    target = "→ sink \(plan.sinks[k].name)"
                } else if s.isOutput {
                    target = "→ stdout"
                } else {
                    target = ""
                }
                out.append("  [\(s.location)]  \(oneLine(s.sql.text))")
                if let r = s.rowsFrom, plan.streams[r].inlinedInto == nil {
                    out.append("      reads its rows from stream \(plan.streams[r].name)")
                }
                out.append("      \(when) \(target)")
                out.append("      \(placement)")
                if s.hashCounted { out.append("      \(hashNote)") }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static let hashNote = "GROUP BY counted in a hash table, not sorted (hash_count = on)"

    static func every(_ slide: Int64, _ bi: Int64) -> String {
        slide == bi ? "every batch" : "every \(Units.formatDuration(slide)) (\(slide / bi) batches)"
    }

    static func oneLine(_ sql: String, limit: Int = 90) -> String {
        let flat = sql.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\t" })
            .map { $0.trimmingCharacters() }.joined(separator: " ")
        return flat.count > limit ? String(flat.prefix(limit - 1)) + "…" : flat
    }

    static func describe(_ c: Connector) -> String {
        switch c {
        case .generator(let g):
            return "generator (rate \(g.rate == 0 ? "unlimited" : "\(g.rate)/s") per shard, \(g.words) words of \(g.vocab), seed \(g.seed))"
        case .socket(let addresses, let ack): return "socket \(addresses.map(\.description).joined(separator: ", "))\(acknowledging(ack))"
        case .listen(let a, let m, let ack): return "listen \(a) (up to \(m) connections\(acknowledging(ack)))"
        case .stdin: return "stdin"
        case .file(let f): return "file \(f.path)\(f.pattern.map { " matching \($0)" } ?? "") (new files only)"
        case .kinesis(let o):
            let start: String
            switch o.initialPosition {
            case .trimHorizon: start = "trim_horizon"
            case .latest: start = "latest"
            case .atTimestamp(let t): start = "at_timestamp \(t)"
            }
            return "kinesis stream \(o.stream) in \(o.resolvedRegion())\(o.resolvedEndpoint().map { " at \($0)" } ?? ""), new shards from \(start), app_name \(o.appName ?? "-")"
        }
    }

    static func acknowledging(_ ack: AckPolicy?) -> String {
        ack.map { ", acknowledging, ack_timeout \(Units.formatDuration($0.timeoutMs))" } ?? ""
    }

    static func receivers(_ c: Connector) -> String {
        switch c {
        case .generator(let g): return "\(g.shards) (one per shard)"
        case .socket(let a, _): return "\(a.count) (one per address)"
        case .listen: return "one per connection"
        case .stdin: return "1"
        case .file: return "none (new files are read at each batch)"
        case .kinesis: return "one per shard"
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String { String(self).trimmingSpaces }
}
