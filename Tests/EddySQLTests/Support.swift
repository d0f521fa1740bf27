import EddySQL
import Testing

/// Every row of a query.
func rows(_ db: Database, _ sql: String) throws -> [[SQLValue]] {
    let s = try db.prepare(sql, persistent: false)
    var out: [[SQLValue]] = []
    while try s.step() { out.append(s.row) }
    return out
}

/// The error a statement fails with, at prepare or while stepping.
func sqlError(_ db: Database, _ sql: String) -> SQLiteError? {
    do {
        _ = try rows(db, sql)
        Issue.record("expected an error from: \(sql)")
        return nil
    } catch let error as SQLiteError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

func t(_ s: String) -> SQLValue { .text(s) }
func i(_ v: Int64) -> SQLValue { .integer(v) }
