import EddyCore
@testable import EddyEngine
import EddyJob
import EddySQL
import Testing

/// A window's table is kept incrementally: each parent emission goes in once
/// and comes out once, when it leaves the window.
@Suite struct WindowRuntimeTests {
    @Test func rowsEnterOnceAndLeaveWhenTheyExpire() throws {
        let prepared = try Planner.prepare(try JobParser.parse(path: "job.sql", text: """
            CREATE SOURCE s (v INTEGER) WITH (connector = 'stdin', format = 'csv');
            CREATE WINDOW w ON s RANGE '3s' SLIDE '1s';
            """))
        let db = prepared.database
        let window = try WindowRuntime(state: WindowState(plan: prepared.plan.windows[0]), database: db)
        let changesBefore = try db.scalar("SELECT total_changes()")
        var inserted: Int64 = 0
        for t in 1...6 {
            try db.execute("DELETE FROM s")
            for i in 0..<t { try db.execute("INSERT INTO s (v) VALUES (\(t * 100 + i))") }
            try window.add(time: Int64(t) * 1000, database: db)
            inserted += Int64(t)
            try window.expire(at: Int64(t) * 1000)
            // Holds exactly the last three emissions.
            #expect(window.state.times == Array(max(1, t - 2)...t).map { Int64($0) * 1000 })
            let expected = (max(1, t - 2)...t).reduce(0) { $0 + $1 }
            #expect(try db.scalar("SELECT count(*) FROM w") == .integer(Int64(expected)))
            #expect(window.state.rowCount == Int64(expected))
        }
        // Every row was written once and deleted at most once: no reloads.
        guard case .integer(let before)? = changesBefore, case .integer(let after)? = try db.scalar("SELECT total_changes()") else {
            Issue.record("total_changes() did not return an integer")
            return
        }
        let sourceWrites: Int64 = 21 + 15 // inserted into s, deleted from s (before each batch)
        let windowWrites = inserted + (inserted - window.state.rowCount) // in once, out once
        #expect(after - before == sourceWrites + windowWrites)
    }

    @Test func theEngineConnectionHasSecureDeleteOff() throws {
        let prepared = try Planner.prepare(try JobParser.parse(path: "job.sql", text: "CREATE SOURCE s WITH (connector = 'stdin');"))
        #expect(try prepared.database.scalar("PRAGMA main.secure_delete") == .integer(0))
        #expect(try prepared.database.scalar("PRAGMA temp.secure_delete") == .integer(0))
    }
}
