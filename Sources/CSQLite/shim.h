#ifndef EDDY_CSQLITE_SHIM_H
#define EDDY_CSQLITE_SHIM_H
#include <sqlite3.h>

// Swift cannot call C variadic functions nor use the SQLITE_STATIC /
// SQLITE_TRANSIENT destructor macros, so eddy reaches them through these.

/// Turns off SQLite's global memory statistics. Debian builds SQLite with them
/// on, which puts a global mutex on every allocation. Must run before the
/// first connection is opened.
static inline int eddy_sqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/// Binds text that stays alive until the statement is reset: the loader binds
/// straight out of a decoded block buffer without copying.
static inline int eddy_bind_text_static(sqlite3_stmt *s, int i, const char *p, int n) {
    return sqlite3_bind_text(s, i, p, n, SQLITE_STATIC);
}

static inline int eddy_bind_text_transient(sqlite3_stmt *s, int i, const char *p, int n) {
    return sqlite3_bind_text(s, i, p, n, SQLITE_TRANSIENT);
}

static inline int eddy_bind_blob_transient(sqlite3_stmt *s, int i, const void *p, int n) {
    return sqlite3_bind_blob(s, i, p, n, SQLITE_TRANSIENT);
}

static inline void eddy_result_text_transient(sqlite3_context *c, const char *p, int n) {
    sqlite3_result_text(c, p, n, SQLITE_TRANSIENT);
}

/// Sets one of sqlite3_db_config's on/off options and returns, through
/// `now`, the value it holds afterwards, so the caller can check the option
/// really took (an old SQLite ignores options it does not know).
static inline int eddy_db_config_flag(sqlite3 *db, int op, int on, int *now) {
    return sqlite3_db_config(db, op, on, now);
}

/// Marks a virtual table module as harmless, so the table-valued split()
/// works inside views and triggers with SQLITE_DBCONFIG_TRUSTED_SCHEMA off.
static inline int eddy_vtab_config_innocuous(sqlite3 *db) {
    return sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
}

/// sqlite3_mprintf is variadic; virtual tables need their messages in
/// SQLite-allocated memory.
static inline char *eddy_sqlite_strdup(const char *s) {
    return sqlite3_mprintf("%s", s);
}

static inline int eddy_bind_empty_text(sqlite3_stmt *s, int i) {
    return sqlite3_bind_text(s, i, "", 0, SQLITE_STATIC);
}

#endif
