import EddyCore
import EddyJob
import EddySQL

/// updateStateByKey in SQL is `INSERT INTO totals SELECT word, count(*) FROM
/// lines, split(...) GROUP BY word ON CONFLICT ... DO UPDATE`. It writes a
/// state table, so it runs in batch order, and with it the aggregation of
/// the whole batch, which is nearly all of its work: with several lanes, the
/// job would do its heaviest step on one core at a time.
///
/// So, with more than one lane, the query that makes such an insert's rows
/// becomes a stream of its own, `eddy_rows_line_N` after the statement's
/// line (not `_eddy_...`: the job's policy keeps those from being written).
/// It runs on the batch's lane like any stream over the batch, and the
/// insert reads its rows in order (for a word count, a thousand rows instead
/// of a million words). The stream holds the query's rows in the query's
/// order, so the upsert sees the same rows in the same order, and the state
/// is the same.
///
/// The insert stays as written when:
/// - the job has one lane (the stream would only cost a copy);
/// - it writes no state table (a sink's query already runs on the lane), or
///   its rows are not a SELECT;
/// - its query reads a state table or a window, writes anything, or calls
///   random() (it would run in order anyway, or differ if run apart);
/// - it does not compile apart (say, its upsert reads the WITH clause).
/// When the stream ends up in order all the same (it reads a table that a
/// per-batch statement changes), Inlining.swift makes it a view again.
extension Planner {
    struct RowsOnLane {
        var prepared: Statement
        var access: TableAccess
        var stream: Int
    }

    mutating func rowsOnLane(_ s: SQLStatement, _ statement: JobStatement, _ db: Database) -> RowsOnLane? {
        guard plan.settings.parallelism > 1, let target = s.insertTarget, let split = target.split,
              case .stateTable = plan.relations[target.name.key] else { return nil }
        guard let traced = try? prepareTracing(split.rows, db) else { return nil }
        let access = traced.1
        let ordered = access.reads.contains { r in
            switch plan.relations[r] {
            case .stateTable, .window: return true
            default: return false
            }
        }
        guard !ordered, access.writes.isEmpty, access.functions.isDisjoint(with: ["random", "randomblob"]) else { return nil }

        var name = "eddy_rows_line_\(statement.location.line)"
        while plan.relations[name] != nil { name += "_" }
        let rewritten: (Statement, TableAccess)
        let insert: Statement
        do {
            try db.asJob { () throws(SQLiteError) in try db.execute(Self.streamTableSQL(name, split.rows)) }
        } catch {
            return nil
        }
        do {
            let write = "\(split.verb) SELECT * FROM main.\(quoteIdentifier(name)) WHERE true \(split.tail)"
            rewritten = try db.asJob { () throws(SQLiteError) in try db.prepareTracingAccess(write) }
            insert = try db.asJob { () throws(SQLiteError) in try db.prepare(Self.streamInsertPrefix(name) + split.rows.text) }
        } catch {
            try? db.execute("DROP TABLE main.\(quoteIdentifier(name))")
            return nil
        }
        let index = plan.streams.count
        addStream(name, query: split.rows, location: statement.location, access: access, insert: insert,
                  rowsOf: plan.statements.count, db)
        return RowsOnLane(prepared: rewritten.0, access: rewritten.1, stream: index)
    }
}
