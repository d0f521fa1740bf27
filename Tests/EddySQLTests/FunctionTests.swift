@testable import EddySQL
import Testing

@Suite("regexp, batch_time, batch_id, window_start")
struct FunctionTests {
    let db: Database

    init() throws { db = try Database(path: "") }

    @Test func regexpFunction() throws {
        #expect(try rows(db, "SELECT regexp('^a.c$', 'abc'), regexp('b', 'abc'), regexp('^b', 'abc'), regexp('[0-9]+', 'x')")
                == [[i(1), i(1), i(0), i(0)]])
    }

    @Test func regexpOperator() throws {
        #expect(try rows(db, "SELECT 'abc' REGEXP 'b', 'abc' REGEXP '^c', 'café' REGEXP 'é$', 'A' REGEXP 'a'")
                == [[i(1), i(0), i(1), i(0)]])
    }

    @Test func extendedSyntax() throws {
        #expect(try rows(db, "SELECT 'aaa' REGEXP '^a{3}$', 'ab|cd' REGEXP '(x|cd)$', 'a+b' REGEXP 'a\\+b'") == [[i(1), i(1), i(1)]])
    }

    @Test func regexpNull() throws {
        #expect(try rows(db, "SELECT NULL REGEXP 'a', 'a' REGEXP NULL, regexp(NULL, NULL)") == [[.null, .null, .null]])
    }

    @Test func regexpOverRowsWithOneCompiledPattern() throws {
        try db.execute("CREATE TABLE t(s TEXT); INSERT INTO t VALUES ('error: disk'), ('ok'), ('ERROR'), (NULL), ('an error')")
        #expect(try rows(db, "SELECT s FROM t WHERE s REGEXP '^error|error$' ORDER BY rowid") == [[t("error: disk")], [t("an error")]])
        // A pattern that changes per row.
        try db.execute("CREATE TABLE p(pat TEXT, s TEXT); INSERT INTO p VALUES ('^a', 'abc'), ('^b', 'abc'), ('c$', 'abc')")
        #expect(try rows(db, "SELECT s REGEXP pat FROM p ORDER BY rowid") == [[i(1)], [i(0)], [i(1)]])
    }

    @Test func badPatternIsAnErrorWithAMessage() throws {
        let error = sqlError(db, "SELECT 'x' REGEXP '('")
        let message = try #require(error?.message)
        #expect(message.hasPrefix("regexp: bad pattern: "), "\(message)")
        #expect(message.count > "regexp: bad pattern: ".count, "the system's reason follows")
        let other = sqlError(db, "SELECT regexp('a{2,1}', 'aa')")
        #expect(other?.message.hasPrefix("regexp: bad pattern: ") == true)
    }

    @Test func batchTimeAndIDFollowTheContext() throws {
        #expect(try rows(db, "SELECT batch_time(), batch_id()") == [[i(0), i(0)]])
        let s = try db.prepare("SELECT batch_time(), batch_id()")
        db.context.batchTime = 1_700_000_001_000
        db.context.batchID = 7
        #expect(try s.step())
        #expect(s.row == [i(1_700_000_001_000), i(7)])
        s.reset()
        db.context.batchTime = 2000
        db.context.batchID = 8
        #expect(try s.step())
        #expect(s.row == [i(2000), i(8)], "a prepared statement sees the new batch")
        s.reset()
    }

    @Test func batchTimeIsTheSameForEveryRow() throws {
        try db.execute("CREATE TABLE n(x); INSERT INTO n VALUES (1), (2), (3)")
        db.context.batchTime = 5000
        #expect(try rows(db, "SELECT count(DISTINCT batch_time()), min(batch_time()) FROM n") == [[i(1), i(5000)]])
    }

    @Test func windowFunctionsOutsideAWindowError() throws {
        #expect(sqlError(db, "SELECT window_start()")?.message == "window_start() works only in statements that read a window")
        #expect(sqlError(db, "SELECT window_end()")?.message == "window_end() works only in statements that read a window")
        db.context.window = (start: 1000, end: 31_000)
        #expect(try rows(db, "SELECT window_start(), window_end()") == [[i(1000), i(31_000)]])
        db.context.window = nil
        #expect(sqlError(db, "SELECT window_start()") != nil)
    }

    @Test func contextsArePerConnection() throws {
        let other = try Database(path: "")
        db.context.batchID = 1
        other.context.batchID = 2
        #expect(try rows(db, "SELECT batch_id()") == [[i(1)]])
        #expect(try rows(other, "SELECT batch_id()") == [[i(2)]])
    }
}
