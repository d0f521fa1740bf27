import EddyCore
import EddySQL

/// A stream is a table the engine fills every batch, so that any number of
/// later steps can read it. When exactly one step reads it, that table is
/// work for nothing: every row is written, then read once. Such a stream
/// becomes a TEMP view instead, and the one step that reads it runs its
/// query straight over the batch's rows (SQLite plans the two as one). The
/// rows, their order of evaluation and the step's answer are the same.
///
/// A stream stays a table when:
/// - a window takes its rows, or no step, or more than one, reads it;
/// - it runs in order while its reader runs on a lane (inlined, its work
///   would move into the ordered tail), unless the job has one lane anyway;
/// - its reader runs on another schedule (a table keeps its rows between
///   its emissions; a view would not);
/// - a step between the two writes something the stream reads (the view
///   would see that change; the table was filled before it);
/// - its query calls a function whose value differs per call (random());
/// - a column of its query has a collation other than BINARY (`k COLLATE
///   NOCASE AS word`), or eddy cannot tell: a view keeps it, and the
///   reader's `GROUP BY word` or `=` would follow it, where the table's
///   column, made by `CREATE TABLE ... AS`, compares with BINARY.
extension Planner {
    mutating func inlineStreams(_ db: Database) {
        let varying: Set<String> = ["random", "randomblob"]
        for i in plan.streams.indices {
            let stream = plan.streams[i]
            let name = stream.name.lowercased()
            guard let at = plan.steps.firstIndex(of: .stream(i)) else { continue }
            if plan.windows.contains(where: { $0.parent == name }) { continue }
            if !stream.access.functions.isDisjoint(with: varying) { continue }
            let readers = plan.steps.indices.filter { k in
                k != at && reads(plan.steps[k]).contains(name)
            }
            guard readers.count == 1, let reader = readers.first, reader > at else { continue }
            if slide(plan.steps[reader]) != stream.slide { continue }
            if plan.lanes > 1 && plan.placements[at].isLane != plan.placements[reader].isLane { continue }
            let between = plan.steps[(at + 1)..<reader]
            if between.contains(where: { !writes($0).isDisjoint(with: stream.access.reads) }) { continue }
            if !Self.collatesAsATable(stream.query.text, db) { continue }
            // eddy's own change of its own objects: the table goes, a view of the
            // same name takes its place, and the reader's prepared statement
            // compiles again against it the next time it runs.
            do {
                try db.execute("""
                    DROP TABLE main.\(quoteIdentifier(stream.name));
                    CREATE TEMP VIEW \(quoteIdentifier(stream.name)) AS \(stream.query.text);
                    """)
                plan.streams[i].inlinedInto = reader
            } catch {
                // The table stays, and the stream is materialized as before.
                JobWarnings.warn("\(stream.location): stream \(stream.name) is kept as a table: \(error.message)")
            }
        }
    }

    /// Whether every column of `query` compares with BINARY, as the
    /// stream's table does. SQLite says which collation each column sorts
    /// with in the key of `ORDER BY 1, 2, ...` over the query (`EXPLAIN`:
    /// `k(2,B,NOCASE)`); when it shows no such key, the answer is no.
    static func collatesAsATable(_ query: String, _ db: Database) -> Bool {
        guard let n = try? db.asJob({ () throws(SQLiteError) in try db.prepare(query, persistent: false) }).columnCount,
              n > 0 else { return false }
        let order = (1...n).map(String.init).joined(separator: ", ")
        guard let program = program("SELECT * FROM (\(query)) ORDER BY \(order)", db) else { return false }
        let binary = "k(\(n)," + Array(repeating: "B", count: n).joined(separator: ",") + ")"
        let keys = program.map(\.p4).filter { $0.hasPrefix("k(\(n),") }
        return !keys.isEmpty && keys.allSatisfy { $0 == binary }
    }

    private func reads(_ step: BatchStep) -> Set<String> {
        switch step {
        case .stream(let i): return plan.streams[i].access.reads
        case .window(let i): return [plan.windows[i].parent]
        case .statement(let i): return plan.statements[i].access.reads
        }
    }

    private func slide(_ step: BatchStep) -> Int64 {
        switch step {
        case .stream(let i): return plan.streams[i].slide
        case .window(let i): return plan.windows[i].parentSlide
        case .statement(let i): return plan.statements[i].slide
        }
    }

    private func writes(_ step: BatchStep) -> Set<String> {
        switch step {
        case .stream(let i): return [plan.streams[i].name.lowercased()]
        case .window(let i): return [plan.windows[i].name.lowercased()]
        case .statement(let i): return plan.statements[i].access.writes
        }
    }
}
