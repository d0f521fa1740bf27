import CSQLite
import EddyCore
import EddySQL

/// Appends rows to a table in a SQLite database, together with a marker of
/// the last batch applied, in one transaction of that database: a batch that
/// is re-run after a crash finds its marker and is not applied twice.
final class SQLiteSink {
    let name: String
    let table: String
    let skipApplied: Bool
    private let db: Database
    private let insert: Statement
    private let readMarker: Statement
    private let writeMarker: Statement

    init(name: String, path: String, table: String, columns: [String], skipApplied: Bool) throws {
        self.name = name
        self.table = table
        self.skipApplied = skipApplied
        let dir = Files.parent(of: path)
        if dir != "." { try Files.makeDirectories(dir) }
        db = try Database(path: path)
        try db.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
        try db.execute("""
            CREATE TABLE IF NOT EXISTS _eddy_sink_batches (sink TEXT PRIMARY KEY, batch_time INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS \(quoteIdentifier(table)) (\(columns.map(quoteIdentifier).joined(separator: ", ")));
            """)
        let existing = try db.columns(of: table)
        guard existing.count == columns.count else {
            throw RuntimeError("sink \(name): table \(table) in \(path) has \(existing.count) columns, but the job writes \(columns.count) (\(columns.joined(separator: ", ")))")
        }
        let params = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        insert = try db.prepare("INSERT INTO \(quoteIdentifier(table)) VALUES (\(params))")
        readMarker = try db.prepare("SELECT batch_time FROM _eddy_sink_batches WHERE sink = ?1")
        writeMarker = try db.prepare("INSERT INTO _eddy_sink_batches (sink, batch_time) VALUES (?1, ?2) ON CONFLICT(sink) DO UPDATE SET batch_time = excluded.batch_time")
    }

    func lastBatch() throws -> Int64? {
        try readMarker.bind(1, name)
        defer { readMarker.reset() }
        return try readMarker.step() ? readMarker.int64(0) : nil
    }

    /// Returns the rows written (0 when the batch was already applied).
    func write(batchTime: Int64, rows: Statement) throws -> Int {
        try db.execute("BEGIN IMMEDIATE")
        do {
            if skipApplied, let last = try lastBatch(), last >= batchTime {
                try db.execute("ROLLBACK")
                return 0
            }
            var count = 0
            let columns = rows.columnCount
            while try rows.step() {
                for i in 0..<columns { try insert.bind(Int32(i + 1), rows.value(i)) }
                _ = try insert.step()
                insert.reset()
                count += 1
            }
            rows.reset()
            try writeMarker.bind(1, name)
            try writeMarker.bind(2, batchTime)
            try writeMarker.run()
            try db.execute("COMMIT")
            return count
        } catch {
            rows.reset()
            try? db.execute("ROLLBACK")
            throw error
        }
    }
}
