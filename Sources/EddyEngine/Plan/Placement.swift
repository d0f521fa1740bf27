import EddySQL

/// Decides, for each per-batch step, whether it runs on the batch's own lane
/// (at the same time as other batches) or in batch order. It works only from
/// what SQLite's authorizer recorded while preparing each statement: the
/// tables it reads and writes, and their schemas. It never looks at SQL text.
///
/// The rules, in file order:
/// - A window step keeps rows that every lane reads: in order.
/// - A step that reads or writes a state table or a window: in order.
/// - A step that writes a table other than its batch's own (sources,
///   streams, sink collectors) changes something later batches see: in order.
///   If that table is private to one connection (made at start in `main`),
///   each lane would keep its own copy, and the job runs on one lane.
/// - A step that reads such a changing table, or a stream computed in order: in order.
/// - A lane step runs before every in-order step of its batch, so a step
///   must also go in order when it reads what an earlier in-order step
///   writes, or writes what an earlier in-order step reads or writes.
/// Everything else (loading, sources, streams over them, lookups in tables
/// made at start, their SELECTs and sink INSERTs) runs on the lane.
struct Placement {
    let plan: Plan

    func decide() -> (placements: [StepPlacement], singleLaneReason: String?) {
        // Tables that per-batch statements change, other than the batch's own relations.
        var changing: [String: (schema: String, location: String)] = [:]
        for s in plan.statements {
            for w in s.access.writes where plan.relations[w] == nil {
                changing[w] = changing[w] ?? (s.access.schemas[w] ?? "main", s.location.description)
            }
        }
        var singleLane: String?
        for (table, at) in changing.sorted(by: { $0.key < $1.key }) where at.schema == "main" || at.schema == "temp" {
            singleLane = "the statement at \(at.location) writes table \(table), which was made at start: every lane would keep its own copy, so the job runs on one lane (make it a STATE TABLE to use several)"
            break
        }

        var orderedReads: Set<String> = []
        var orderedWrites: Set<String> = []
        var placements: [StepPlacement] = []
        for step in plan.steps {
            let (reads, writes) = access(of: step)
            var reason: String?
            if case .window(let i) = step {
                reason = "keeps window \(plan.windows[i].name), which every lane reads"
            }
            for w in writes.sorted() where reason == nil {
                switch plan.relations[w] {
                case .stateTable: reason = "writes state table \(w)"
                case .window: reason = "writes window \(w)"
                case nil: reason = "writes table \(w), which later batches read"
                default: break
                }
                if reason == nil && (orderedWrites.contains(w) || orderedReads.contains(w)) {
                    reason = "writes \(w), which an earlier in-order step uses"
                }
            }
            for r in reads.sorted() where reason == nil {
                switch plan.relations[r] {
                case .stateTable: reason = "reads state table \(r)"
                case .window: reason = "reads window \(r)"
                case .stream where orderedWrites.contains(r): reason = "reads stream \(r), which runs in order"
                case nil where changing[r] != nil: reason = "reads table \(r), which a per-batch statement changes"
                default: break
                }
                if reason == nil && orderedWrites.contains(r) { reason = "reads \(r) after an in-order step writes it" }
            }
            if let reason {
                placements.append(.ordered(reason))
                orderedReads.formUnion(reads)
                orderedWrites.formUnion(writes)
            } else {
                placements.append(.lane)
            }
        }
        return (placements, singleLane)
    }

    /// Lowercased tables a step reads and writes.
    private func access(of step: BatchStep) -> (reads: Set<String>, writes: Set<String>) {
        switch step {
        case .stream(let i):
            let s = plan.streams[i]
            return (s.access.reads, [s.name.lowercased()])
        case .window(let i):
            let w = plan.windows[i]
            return ([w.parent], [w.name.lowercased()])
        case .statement(let i):
            let s = plan.statements[i]
            return (s.access.reads, s.access.writes)
        }
    }
}
