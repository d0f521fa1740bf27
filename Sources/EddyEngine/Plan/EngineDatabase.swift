import EddyCore
import EddySQL

/// Opens the engine's connection the way every run needs it. Batch, stream
/// and window tables live in `main`, a private temp database: pages beyond
/// `sqlite_cache` go to its temp file, which is what keeps a long window's
/// memory bounded. Journal in memory (a failed batch still rolls back), no
/// fsync, no secure_delete (Debian builds it on; it zeroes every freed page).
enum EngineDatabase {
    static func open(settings: Settings) throws(SQLiteError) -> Database {
        let db = try Database(path: "")
        let cacheKiB = max(1024, settings.sqliteCache / 1024)
        try db.execute("""
            PRAGMA main.journal_mode = MEMORY;
            PRAGMA main.synchronous = OFF;
            PRAGMA main.locking_mode = EXCLUSIVE;
            PRAGMA main.secure_delete = OFF;
            PRAGMA temp.secure_delete = OFF;
            PRAGMA main.cache_size = -\(cacheKiB);
            PRAGMA temp.cache_size = -\(max(1024, cacheKiB / 4));
            PRAGMA foreign_keys = OFF;
            PRAGMA recursive_triggers = OFF;
            """)
        return db
    }
}
