import EddyCore
import EddySQL

/// Opens a lane's connection the way every run needs it. Batch, stream and
/// sink tables live in `main`, a private temp database: pages beyond its
/// cache go to its temp file, which is what keeps memory bounded. Journal in
/// memory (a failed batch still rolls back), no fsync, no secure_delete
/// (Debian builds it on; it zeroes every freed page).
///
/// `main`'s cache is `sort_memory`, not a share of `sqlite_cache`: SQLite's
/// sorter keeps runs up to main's cache size in memory, and one run of a
/// whole batch's words (a `GROUP BY` over 1M of them) sorts about 1.5 times
/// slower than 2MB runs merged, at twice the memory (README, Performance).
enum EngineDatabase {
    static func open(settings: Settings, lanes: Int = 1) throws(SQLiteError) -> Database {
        let db = try Database(path: "")
        let cacheKiB = max(1024, settings.sqliteCache / 1024 / Int64(max(1, lanes)))
        try db.execute("""
            PRAGMA main.journal_mode = MEMORY;
            PRAGMA main.synchronous = OFF;
            PRAGMA main.locking_mode = EXCLUSIVE;
            PRAGMA main.secure_delete = OFF;
            PRAGMA temp.secure_delete = OFF;
            PRAGMA main.cache_size = -\(max(1024, settings.sortMemory / 1024));
            PRAGMA temp.cache_size = -\(max(1024, cacheKiB / 4));
            PRAGMA foreign_keys = OFF;
            PRAGMA recursive_triggers = OFF;
            """)
        return db
    }

    /// Attaches the database every lane shares, as `eddy_shared`: windows,
    /// and state tables when there is no checkpoint. It is scratch (the
    /// checkpoint keeps what must survive), so no fsync and a journal in
    /// memory; its pages beyond the cache go to its file, as `main`'s do.
    /// Without a path, a private in-memory database stands in (`eddy check`).
    static func attachShared(_ db: Database, path: String?, settings: Settings, lanes: Int = 1) throws(SQLiteError) {
        let cacheKiB = max(1024, settings.sqliteCache / 1024 / Int64(max(1, lanes)))
        try db.execute("ATTACH DATABASE \(quoteLiteral(path ?? ":memory:")) AS \(Lanes.sharedSchema)")
        try db.execute("""
            PRAGMA \(Lanes.sharedSchema).journal_mode = MEMORY;
            PRAGMA \(Lanes.sharedSchema).synchronous = OFF;
            PRAGMA \(Lanes.sharedSchema).secure_delete = OFF;
            PRAGMA \(Lanes.sharedSchema).cache_size = -\(cacheKiB);
            """)
        db.protectSchema(Lanes.sharedSchema)
    }
}
