import EddyBlocks
import EddyCore
import EddySQL
import Glibc

/// The checkpoint directory (`--checkpoint DIR`):
///
///     DIR/checkpoint.db   job text, settings, batch allocations, offsets,
///                         STATE tables, sink markers (SQLite, WAL journal)
///     DIR/wal/            the write-ahead log of received blocks
///     DIR/spill/          spill files (emptied at every start)
///     DIR/LOCK            held while a job runs, so two cannot share it
///
/// `checkpoint.db` is attached to the engine's connection as schema `ckpt`,
/// so a batch's changes to it (state, offsets, its commit marker) commit in
/// the batch's one transaction.
public final class CheckpointStore: Sendable {
    public static let schema = "ckpt"
    public let directory: String
    public var databasePath: String { directory + "/checkpoint.db" }
    public var walDirectory: String { directory + "/wal" }
    public var spillDirectory: String { directory + "/spill" }
    private let lockFD: Int32

    /// Creates the directory if needed and takes its lock.
    public init(directory: String) throws {
        self.directory = directory
        do {
            try Files.makeDirectories(directory)
        } catch {
            throw RuntimeError("checkpoint \(directory): \(error)")
        }
        let lockPath = directory + "/LOCK"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Files.IOError(path: lockPath, operation: "open", code: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw RuntimeError("checkpoint \(directory) is in use by another eddy process")
        }
        lockFD = fd
    }

    /// Before planning: refuses a job the checkpoint was not made by (unless
    /// `force` allows it), reading the checkpoint on a connection of its own.
    public func verify(_ job: JobChange.Fingerprint, replay: Bool, force: Bool) throws {
        guard exists else { return }
        let db: Database
        do {
            db = try Database(path: databasePath)
            try db.execute("PRAGMA journal_mode = WAL")
            guard case .text(let verdict)? = try db.scalar("PRAGMA quick_check"), verdict == "ok" else {
                throw RuntimeError("checkpoint \(databasePath) is damaged (SQLite's quick_check fails); nothing was loaded from it")
            }
            guard try db.tableExists("_eddy_job") else {
                throw RuntimeError("checkpoint \(databasePath) is not an eddy checkpoint (no _eddy_job table); nothing was loaded from it")
            }
        } catch let e as SQLiteError {
            throw RuntimeError("checkpoint \(databasePath) cannot be read: \(e.message); nothing was loaded from it")
        }
        let stored: StoredJob?
        do {
            stored = try storedJob(db, schema: "main")
        } catch let e as SQLiteError {
            throw RuntimeError("checkpoint \(databasePath) cannot be read: \(e.message); nothing was loaded from it")
        }
        if let stored {
            try JobChange.check(stored: stored, job: job, replay: replay, force: force, directory: directory)
        }
    }

    deinit { if lockFD >= 0 { close(lockFD) } }

    /// Whether the checkpoint has been used before (holds a job).
    public var exists: Bool { Files.exists(databasePath) && (Files.status(databasePath)?.size ?? 0) > 0 }

    static let tables = """
        CREATE TABLE IF NOT EXISTS ckpt._eddy_job (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            text TEXT NOT NULL, hash TEXT NOT NULL, created_ms INTEGER NOT NULL,
            zero_time INTEGER NOT NULL, batch_interval INTEGER NOT NULL, replay INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS ckpt._eddy_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS ckpt._eddy_sources (
            idx INTEGER PRIMARY KEY, name TEXT NOT NULL, definition TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS ckpt._eddy_state_tables (name TEXT PRIMARY KEY, create_sql TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS ckpt._eddy_batches (
            batch_time INTEGER PRIMARY KEY, batch_id INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('allocated', 'committed')),
            records INTEGER NOT NULL DEFAULT 0, allocated_ms INTEGER, committed_ms INTEGER);
        CREATE TABLE IF NOT EXISTS ckpt._eddy_batch_blocks (
            batch_time INTEGER NOT NULL, block_id INTEGER NOT NULL, source INTEGER NOT NULL,
            shard TEXT NOT NULL, first_seq INTEGER NOT NULL, count INTEGER NOT NULL, logged INTEGER NOT NULL,
            PRIMARY KEY (batch_time, block_id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS ckpt._eddy_batch_files (
            batch_time INTEGER NOT NULL, source INTEGER NOT NULL, path TEXT NOT NULL,
            PRIMARY KEY (batch_time, source, path)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS ckpt._eddy_files (
            source INTEGER NOT NULL, path TEXT NOT NULL, PRIMARY KEY (source, path)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS ckpt._eddy_offsets (
            source INTEGER NOT NULL, shard TEXT NOT NULL, next_seq INTEGER NOT NULL, position TEXT,
            PRIMARY KEY (source, shard)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS ckpt._eddy_sink_markers (sink TEXT PRIMARY KEY, batch_time INTEGER NOT NULL);
        """

    /// Attaches `checkpoint.db` to the engine's connection. A damaged file is
    /// refused before anything is read from it.
    public func attach(to db: Database) throws {
        let existed = exists
        do {
            try db.execute("ATTACH DATABASE \(quoteLiteral(databasePath)) AS ckpt")
            try db.execute("PRAGMA ckpt.journal_mode = WAL; PRAGMA ckpt.synchronous = FULL; PRAGMA ckpt.secure_delete = OFF;")
            if existed {
                guard case .text(let verdict)? = try db.scalar("PRAGMA ckpt.quick_check"), verdict == "ok" else {
                    throw RuntimeError("checkpoint \(databasePath) is damaged (SQLite's quick_check fails); nothing was loaded from it")
                }
            }
            try db.execute(Self.tables)
        } catch let e as SQLiteError {
            throw RuntimeError("checkpoint \(databasePath) cannot be used: \(e.message); nothing was loaded from it")
        }
    }

    public static func stateTableExists(_ db: Database, _ name: String) -> Bool {
        (try? db.tableExists(name, schema: schema)) ?? false
    }

    // MARK: the job

    public struct StoredJob: Sendable {
        public var text: String
        public var zeroTime: Int64
        public var batchInterval: Int64
        public var replay: Bool
        public var sources: [(name: String, definition: String)]
        public var stateTables: [String: String]
    }

    public func storedJob(_ db: Database, schema: String = CheckpointStore.schema) throws -> StoredJob? {
        let s = try db.prepare("SELECT text, zero_time, batch_interval, replay FROM \(schema)._eddy_job WHERE id = 1", persistent: false)
        guard try s.step() else { return nil }
        var job = StoredJob(text: s.string(0) ?? "", zeroTime: s.int64(1), batchInterval: s.int64(2), replay: s.int64(3) != 0,
                            sources: [], stateTables: [:])
        let sources = try db.prepare("SELECT name, definition FROM \(schema)._eddy_sources ORDER BY idx", persistent: false)
        while try sources.step() { job.sources.append((sources.string(0) ?? "", sources.string(1) ?? "")) }
        let tables = try db.prepare("SELECT name, create_sql FROM \(schema)._eddy_state_tables", persistent: false)
        while try tables.step() { job.stateTables[(tables.string(0) ?? "").lowercased()] = tables.string(1) ?? "" }
        return job
    }

    /// Records the job a fresh checkpoint belongs to.
    public func storeJob(_ db: Database, plan: Plan, zeroTime: Int64, replay: Bool) throws {
        try db.execute("BEGIN")
        do {
            try db.execute("DELETE FROM ckpt._eddy_job; DELETE FROM ckpt._eddy_sources; DELETE FROM ckpt._eddy_state_tables; DELETE FROM ckpt._eddy_settings;")
            let job = try db.prepare("INSERT INTO ckpt._eddy_job VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)", persistent: false)
            try job.bind(1, plan.jobText)
            try job.bind(2, JobChange.hash(plan.jobText))
            try job.bind(3, WallClock.nowMs())
            try job.bind(4, zeroTime)
            try job.bind(5, plan.settings.batchInterval)
            try job.bind(6, Int64(replay ? 1 : 0))
            try job.run()
            let source = try db.prepare("INSERT INTO ckpt._eddy_sources VALUES (?1, ?2, ?3)", persistent: false)
            for s in plan.sources {
                try source.bind(1, Int64(s.index))
                try source.bind(2, s.name)
                try source.bind(3, JobChange.definition(of: s))
                try source.run()
            }
            let table = try db.prepare("INSERT INTO ckpt._eddy_state_tables VALUES (?1, ?2)", persistent: false)
            for t in plan.stateTables {
                try table.bind(1, t.name)
                try table.bind(2, JobChange.stateTableSQL(t.name, t.definition))
                try table.run()
            }
            let setting = try db.prepare("INSERT INTO ckpt._eddy_settings VALUES (?1, ?2)", persistent: false)
            for (k, v) in plan.settings.described {
                try setting.bind(1, k)
                try setting.bind(2, v)
                try setting.run()
            }
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    /// After `--force`: the checkpoint now belongs to the new job text.
    public func updateJobText(_ db: Database, _ text: String) throws {
        let s = try db.prepare("UPDATE ckpt._eddy_job SET text = ?1, hash = ?2 WHERE id = 1", persistent: false)
        try s.bind(1, text)
        try s.bind(2, JobChange.hash(text))
        try s.run()
    }
}
