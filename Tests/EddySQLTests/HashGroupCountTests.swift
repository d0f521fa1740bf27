import CSQLite
@testable import EddySQL
import Testing

/// The hash count itself: what it leaves in its table, and when it declines
/// a batch (a REAL or BLOB key, or more groups than its memory limit) so
/// that the query runs as written. The planner's side, and answers compared
/// with SQLite's sort, are in EddyEngineTests/HashCountingTests.
@Suite struct HashGroupCountTests {
    let db: Database

    init() throws {
        db = try Database(path: "")
        try db.execute("CREATE TABLE src (k); CREATE TABLE g (k, n);")
    }

    func groups() throws -> [[SQLValue]] {
        let s = try db.prepare("SELECT k, n FROM g ORDER BY k", persistent: false)
        var rows: [[SQLValue]] = []
        while try s.step() { rows.append(s.row) }
        return rows
    }

    func counter(limit: Int = 64 << 20) throws -> HashGroupCount {
        try HashGroupCount(keysSQL: "SELECT k FROM src", table: "g", memoryLimit: limit, database: db)
    }

    @Test func countsNullsIntegersAndTextApart() throws {
        try db.execute("INSERT INTO src VALUES ('a'), (1), (NULL), ('a'), ('1'), (1), (''), (NULL), ('é'), ('a')")
        let c = try counter()
        #expect(try c.fill())
        #expect(try groups() == [[.null, .integer(2)], [.integer(1), .integer(2)], [.text(""), .integer(1)],
                                 [.text("1"), .integer(1)], [.text("a"), .integer(3)], [.text("é"), .integer(1)]])
        // The next batch starts from nothing.
        try db.execute("DELETE FROM src; INSERT INTO src VALUES ('b')")
        #expect(try c.fill())
        #expect(try groups() == [[.text("b"), .integer(1)]])
        // An empty batch leaves no group.
        try db.execute("DELETE FROM src")
        #expect(try c.fill())
        #expect(try groups().isEmpty)
    }

    @Test func declinesRealAndBlobKeysAndLeavesTheTable() throws {
        try db.execute("INSERT INTO src VALUES ('a')")
        let c = try counter()
        #expect(try c.fill())
        for value in ["1.0", "x'00'"] {
            try db.execute("DELETE FROM src; INSERT INTO src VALUES ('b'), (\(value)), ('c')")
            #expect(try !c.fill(), "\(value)")
            #expect(try groups() == [[.text("a"), .integer(1)]], "\(value)")
        }
    }

    /// Keys whose hashes collide in the low bits and keys sharing long
    /// prefixes: every one is its own group, counted right, through many
    /// rehashes.
    @Test func manyKeysThroughGrowth() throws {
        try db.execute("""
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 29999)
            INSERT INTO src SELECT printf('%s%d', 'a-rather-long-shared-prefix-', i % 10000) FROM n
            """)
        let c = try counter()
        #expect(try c.fill())
        let counts = try db.prepare("SELECT count(*), min(n), max(n), sum(n) FROM g", persistent: false)
        #expect(try counts.step())
        #expect(counts.row == [.integer(10_000), .integer(3), .integer(3), .integer(30_000)])
    }

    @Test func declinesABatchBeyondItsMemoryLimit() throws {
        try db.execute("""
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 19999)
            INSERT INTO src SELECT 'key' || i FROM n
            """)
        #expect(try !counter(limit: 256 << 10).fill())
        #expect(try groups().isEmpty)
        #expect(try counter(limit: 4 << 20).fill())
        #expect(try groups().count == 20_000)
    }
}
