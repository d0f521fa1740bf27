import EddyMonitor
import EddySinks

/// Each step's name, place and identity (`StepTiming.order`), made once per
/// runner from the plan: a batch copies the one it ran and fills in its time
/// and rows, so timing a step costs two clock reads and a copy.
///
/// Order: the sources' loads, then the job's per-batch steps in file order,
/// then the sinks, then the commit. The same in every lane, so a step keeps
/// its identity whichever lane ran it.
struct StepTemplates {
    let loads: [StepTiming]
    let steps: [StepTiming]
    let sinks: [String: StepTiming]
    let commit: StepTiming
    let checkpointCommit: StepTiming
    /// For each per-batch step, the sources, streams and windows it reads
    /// (lowercased), whose rows this batch are known.
    private let reads: [[String]]

    init(plan: Plan) {
        loads = plan.sources.map { s in
            StepTiming(kind: .load, name: "load \(s.name)", subject: s.name, location: s.location.description, onLane: true, order: s.index)
        }
        let first = plan.sources.count
        var steps: [StepTiming] = []
        var reads: [[String]] = []
        let batchRelations = Set(plan.relations.compactMap { name, kind -> String? in
            switch kind {
            case .source, .stream, .window: return name
            case .stateTable, .sink: return nil
            }
        })
        for (k, step) in plan.steps.enumerated() {
            let onLane = plan.placements.indices.contains(k) ? plan.placements[k].isLane : false
            switch step {
            case .stream(let i):
                let s = plan.streams[i]
                steps.append(StepTiming(kind: .stream, name: "stream \(s.name)", subject: s.name, location: s.location.description,
                                        text: PlanPrinter.oneLine(s.query.text, limit: 100), onLane: onLane, order: first + k))
                reads.append(s.reads.filter(batchRelations.contains).sorted())
            case .window(let i):
                let w = plan.windows[i]
                steps.append(StepTiming(kind: .window, name: "window \(w.name)", subject: w.name, location: w.location.description,
                                        text: "takes \(w.parent)'s rows", onLane: onLane, order: first + k))
                reads.append([w.parent.lowercased()].filter(batchRelations.contains))
            case .statement(let i):
                let s = plan.statements[i]
                let name: String
                if let sink = s.sink {
                    name = "insert into \(plan.sinks[sink].name)"
                } else {
                    name = s.isOutput ? "query" : "statement"
                }
                steps.append(StepTiming(kind: .statement, name: name, location: s.location.description,
                                        text: PlanPrinter.oneLine(s.sql.text, limit: 100), onLane: onLane, order: first + k))
                reads.append(s.access.reads.filter(batchRelations.contains).sorted())
            }
        }
        self.steps = steps
        self.reads = reads
        let afterSteps = first + plan.steps.count
        var sinks: [String: StepTiming] = [:]
        for (j, s) in plan.sinks.enumerated() {
            sinks[s.name] = StepTiming(kind: .sink, name: "sink \(s.name)", subject: s.name, location: s.location.description,
                                       onLane: false, order: afterSteps + j)
        }
        self.sinks = sinks
        let last = afterSteps + plan.sinks.count
        commit = StepTiming(kind: .commit, name: "commit", onLane: false, order: last)
        checkpointCommit = StepTiming(kind: .commit, name: "checkpoint record and commit", onLane: false, order: last)
    }

    /// Rows step `k` read from this batch's relations, when any of them is known.
    func rowsIn(_ k: Int, known: [String: Int64]) -> Int64? {
        var total: Int64?
        for name in reads[k] {
            if let n = known[name] { total = (total ?? 0) + n }
        }
        return total
    }

    func sink(_ delivery: SinkSet.Delivery) -> StepTiming {
        var t = sinks[delivery.sink] ?? StepTiming(kind: .sink, name: "sink \(delivery.sink)", subject: delivery.sink,
                                                   onLane: false, order: commit.order)
        t.nanos = delivery.nanos
        t.rowsIn = delivery.rows
        t.rowsOut = delivery.rows
        return t
    }
}
