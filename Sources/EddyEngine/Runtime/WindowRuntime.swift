import DequeModule
import EddySQL

/// A window's table, kept incrementally: each parent emission is inserted
/// once, tagged with its time, and deleted once it leaves the window. Nothing
/// is reloaded per slide. Rows are tracked by rowid range, which SQLite hands
/// out in increasing order, so expiring a batch is a range delete.
final class WindowRuntime {
    let plan: PlannedWindow
    private let append: Statement
    private let expire: Statement
    private let clear: Statement
    /// Parent emissions in the table, oldest first.
    private(set) var entries: Deque<(time: Int64, first: Int64, last: Int64)> = []

    init(plan: PlannedWindow, database: Database) throws(SQLiteError) {
        self.plan = plan
        let table = "main." + quoteIdentifier(plan.name)
        append = try database.prepare("INSERT INTO \(table) SELECT * FROM main.\(quoteIdentifier(plan.parent))")
        expire = try database.prepare("DELETE FROM \(table) WHERE rowid BETWEEN ?1 AND ?2")
        clear = try database.prepare("DELETE FROM \(table)")
    }

    /// Adds the parent's current rows as its emission at `time`.
    func add(time: Int64, database: Database) throws(SQLiteError) {
        try append.run()
        let n = Int64(database.changes)
        guard n > 0 else { return }
        let last = database.lastInsertRowID
        entries.append((time, last - n + 1, last))
    }

    /// Deletes the emissions that left the window ending at `time`: those at
    /// or before `time - range`.
    func expire(at time: Int64) throws(SQLiteError) {
        while let first = entries.first, first.time <= time - plan.range {
            try expire.bind(1, first.first)
            try expire.bind(2, first.last)
            try expire.run()
            entries.removeFirst()
        }
    }

    /// Rows currently held.
    var rowCount: Int64 { entries.reduce(0) { $0 + $1.last - $1.first + 1 } }

    /// The emission times the window still holds.
    var times: [Int64] { entries.map(\.time) }

    func reset() throws(SQLiteError) {
        try clear.run()
        entries.removeAll()
    }
}
