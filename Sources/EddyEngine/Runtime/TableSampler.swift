import EddyCore
import EddyMonitor
import EddySQL
import Logging

/// The sizes of the state tables and windows, for the monitor. Window rows
/// are exact and free (the window keeps count of what it holds). Everything
/// else costs a scan: `count(*)` walks a state table's b-tree, and the pages'
/// bytes come from SQLite's `dbstat` table, which visits every page. So
/// those are sampled on the ordered tail, during a batch's turn (when no
/// other batch changes them), at most once every `minimumSpacing`, and
/// never more often than keeps the sampling under 1% of the tail's time: a
/// sample that took 50 ms waits at least 5 s for the next.
final class TableSampler {
    static let minimumSpacingNanos: Int64 = 5_000_000_000
    /// The next sample waits at least this many times as long as the last took.
    static let costFactor: Int64 = 100

    private let stateTables: [String]
    private let stateSchema: String
    private let windows: [WindowState]
    private var nextSampleAt: Int64 = 0
    /// Lowercased name → last sampled rows (state tables) and bytes.
    private var sampled: [String: (rows: Int64?, bytes: Int64?, atMs: Int64)] = [:]
    private var dbstatWorks = true
    private let logger = Logger(label: "eddy.monitor")

    init(plan: Plan, stateSchema: String, windows: [WindowState]) {
        stateTables = plan.stateTables.map(\.name)
        self.stateSchema = stateSchema
        self.windows = windows
    }

    var isEmpty: Bool { stateTables.isEmpty && windows.isEmpty }

    /// The figures after the batch just committed on `db`; samples first when one is due.
    func figures(db: Database) -> [TableFigures] {
        if isEmpty { return [] }
        let now = MonotonicTime.now()
        if now >= nextSampleAt {
            sample(db: db)
            let took = MonotonicTime.now() - now
            nextSampleAt = MonotonicTime.now() + max(Self.minimumSpacingNanos, took * Self.costFactor)
        }
        let nowMs = WallClock.nowMs()
        var out: [TableFigures] = []
        for name in stateTables {
            let s = sampled[name.lowercased()]
            out.append(TableFigures(name: name, kind: .state, rows: s?.rows ?? 0, bytes: s?.bytes, rowsExact: false,
                                    sampledAtMs: s?.atMs ?? nowMs))
        }
        for w in windows {
            let s = sampled[w.plan.name.lowercased()]
            out.append(TableFigures(name: w.plan.name, kind: .window, rows: w.rowCount, bytes: s?.bytes, rowsExact: true,
                                    sampledAtMs: nowMs))
        }
        return out
    }

    private func sample(db: Database) {
        let atMs = WallClock.nowMs()
        var bytes: [String: Int64] = [:]
        if dbstatWorks {
            do {
                for schema in Set([stateSchema, Lanes.sharedSchema]) {
                    for (table, n) in try pageBytes(db: db, schema: schema) { bytes[table, default: 0] += n }
                }
            } catch {
                // A SQLite built without dbstat: rows only, and say so once.
                dbstatWorks = false
                logger.info("monitor: table sizes in bytes are not available (\(error.message)); rows are")
            }
        }
        for name in stateTables {
            let rows: Int64?
            switch try? db.scalar("SELECT count(*) FROM \(quoteIdentifier(stateSchema)).\(quoteIdentifier(name))") {
            case .integer(let n)?: rows = n
            default: rows = nil
            }
            sampled[name.lowercased()] = (rows, bytes[name.lowercased()], atMs)
        }
        for w in windows {
            sampled[w.plan.name.lowercased()] = (nil, bytes[w.plan.name.lowercased()], atMs)
        }
    }

    /// Bytes of the pages of each table in `schema`, its indexes included,
    /// by lowercased table name.
    private func pageBytes(db: Database, schema: String) throws(SQLiteError) -> [String: Int64] {
        let s = try db.prepare("""
            SELECT lower(m.tbl_name), sum(d.pgsize) FROM dbstat(\(quoteLiteral(schema)), 1) AS d
              JOIN \(quoteIdentifier(schema)).sqlite_schema AS m ON m.name = d.name GROUP BY 1
            """, persistent: false)
        var out: [String: Int64] = [:]
        while try s.step() {
            if let name = s.string(0) { out[name] = s.int64(1) }
        }
        return out
    }
}
