import EddyBlocks
import EddyCore
import EddySQL
import Glibc

/// What `eddy status --checkpoint DIR` prints. It reads the checkpoint
/// read-only and takes no lock, so it works while a job runs.
public enum CheckpointStatus {
    public static func describe(directory: String) throws -> String {
        let path = directory + "/checkpoint.db"
        guard Files.exists(path) else { throw UsageError("--checkpoint \(directory): no checkpoint there (no checkpoint.db)") }
        let db: Database
        do {
            db = try Database(path: "file:\(path)?mode=ro", readOnly: true)
            guard try db.tableExists("_eddy_job") else { throw RuntimeError("\(path) is not an eddy checkpoint") }
        } catch let e as SQLiteError {
            throw RuntimeError("checkpoint \(path) cannot be read: \(e.message)")
        }
        var out: [String] = ["checkpoint \(directory)"]
        func rows(_ sql: String, _ body: (Statement) -> Void) throws {
            let s = try db.prepare(sql, persistent: false)
            while try s.step() { body(s) }
        }
        try rows("SELECT hash, created_ms, zero_time, batch_interval, replay, length(text) FROM _eddy_job") { s in
            out.append("  job: \(s.int64(5)) bytes of SQL, hash \(s.string(0) ?? ""), \(s.int64(4) != 0 ? "replay" : "live") run, batch_interval \(Units.formatDuration(s.int64(3))), created \(iso(s.int64(1)))")
        }
        var last = "none yet"
        try rows("SELECT batch_id, batch_time, records, committed_ms FROM _eddy_batches WHERE state = 'committed' ORDER BY batch_time DESC LIMIT 1") { s in
            last = "batch \(s.int64(0)) at \(s.int64(1)) (\(iso(s.int64(1)))), \(s.int64(2)) records, committed \(iso(s.int64(3)))"
        }
        out.append("  last committed batch: \(last)")
        try rows("SELECT batch_id, batch_time FROM _eddy_batches WHERE state = 'allocated'") { s in
            out.append("  in flight: batch \(s.int64(0)) at \(s.int64(1)) was allocated but not committed; the next run runs it again")
        }
        var sourceNames: [Int64: String] = [:]
        try rows("SELECT idx, name FROM _eddy_sources") { s in sourceNames[s.int64(0)] = s.string(1) ?? "" }
        out.append("  offsets (next _seq per source and shard):")
        var any = false
        try rows("SELECT source, shard, next_seq, position FROM _eddy_offsets ORDER BY source, shard") { s in
            any = true
            let position = s.string(3).map { ", position \($0)" } ?? ""
            out.append("    \(sourceNames[s.int64(0)] ?? "source \(s.int64(0))")/\(s.string(1) ?? ""): \(s.int64(2))\(position)")
        }
        if !any { out.append("    (none)") }
        try rows("SELECT source, count(*) FROM _eddy_files GROUP BY source") { s in
            out.append("  files seen by \(sourceNames[s.int64(0)] ?? "source \(s.int64(0))"): \(s.int64(1))")
        }
        let wal = directory + "/wal"
        let summary = WriteAheadLog.summary(directory: wal)
        out.append("  write-ahead log: \(summary.segments) segment(s), \(summary.bytes) bytes, \(summary.blocks) block(s) holding \(summary.records) record(s)")
        var retained: Int64 = 0
        try rows("SELECT count(*) FROM _eddy_batch_blocks WHERE logged = 1") { s in retained = s.int64(0) }
        out.append("  retained blocks (recorded batches whose logged blocks are kept): \(retained)")
        out.append("  state tables:")
        any = false
        var tables: [String] = []
        try rows("SELECT name FROM _eddy_state_tables ORDER BY name") { s in tables.append(s.string(0) ?? "") }
        for t in tables {
            any = true
            let count = (try? db.scalar("SELECT count(*) FROM \(quoteIdentifier(t))")) ?? nil
            out.append("    \(t): \(count.map { "\($0)" } ?? "?") rows")
        }
        if !any { out.append("    (none)") }
        out.append("  sink markers (last batch each sink wrote):")
        any = false
        try rows("SELECT sink, batch_time FROM _eddy_sink_markers ORDER BY sink") { s in
            any = true
            out.append("    \(s.string(0) ?? ""): batch \(s.int64(1))")
        }
        if !any { out.append("    (none)") }
        return out.joined(separator: "\n") + "\n"
    }

    static func iso(_ ms: Int64) -> String {
        var t = time_t(ms / 1000)
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))Z"
    }
}
