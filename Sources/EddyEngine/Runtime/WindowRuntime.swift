import DequeModule
import EddyCore
import EddySQL

/// What a window holds, shared by every lane: its table lives in the shared
/// database (`eddy_shared`), and this records which parent emissions are in
/// it. Each emission is inserted once, tagged with its time, and deleted once
/// it leaves the window; nothing is reloaded per slide. Rows are tracked by
/// rowid range, which SQLite hands out in increasing order, so expiring an
/// emission is a range delete.
///
/// Only the ordered tail changes a window (and recovery, before lanes
/// start), one batch at a time in batch order: that, not a lock, is what
/// makes the `@unchecked Sendable` sound.
final class WindowState: @unchecked Sendable {
    let plan: PlannedWindow
    /// Parent emissions in the table, oldest first.
    private(set) var entries: Deque<(time: Int64, first: Int64, last: Int64)> = []

    init(plan: PlannedWindow) { self.plan = plan }

    func added(time: Int64, rows n: Int64, lastRowID: Int64) {
        guard n > 0 else { return }
        entries.append((time, lastRowID - n + 1, lastRowID))
    }

    /// Emissions that leave the window ending at `time` (at or before
    /// `time - range`), removed from the record.
    func takeExpired(at time: Int64) -> [(first: Int64, last: Int64)] {
        var out: [(Int64, Int64)] = []
        while let first = entries.first, first.time <= time - plan.range {
            out.append((first.first, first.last))
            entries.removeFirst()
        }
        return out
    }

    func removeAll() { entries.removeAll() }

    /// Rows currently held.
    var rowCount: Int64 { entries.reduce(0) { $0 + $1.last - $1.first + 1 } }

    /// The emission times the window still holds.
    var times: [Int64] { entries.map(\.time) }
}

/// One lane's statements on a window's shared table.
final class WindowRuntime {
    let state: WindowState
    var plan: PlannedWindow { state.plan }
    private let append: Statement
    private let expire: Statement
    private let clear: Statement

    init(state: WindowState, database: Database) throws(SQLiteError) {
        self.state = state
        let table = Lanes.sharedSchema + "." + quoteIdentifier(state.plan.name)
        append = try database.prepare("INSERT INTO \(table) SELECT * FROM \(quoteIdentifier(state.plan.parent))")
        expire = try database.prepare("DELETE FROM \(table) WHERE rowid BETWEEN ?1 AND ?2")
        clear = try database.prepare("DELETE FROM \(table)")
    }

    /// Adds the parent's current rows as its emission at `time`.
    func add(time: Int64, database: Database) throws(SQLiteError) {
        try append.run()
        state.added(time: time, rows: Int64(database.changes), lastRowID: database.lastInsertRowID)
    }

    /// Deletes the emissions that left the window ending at `time`.
    func expire(at time: Int64) throws(SQLiteError) {
        for range in state.takeExpired(at: time) {
            try expire.bind(1, range.first)
            try expire.bind(2, range.last)
            try expire.run()
        }
    }

    func reset() throws(SQLiteError) {
        try clear.run()
        state.removeAll()
    }
}
