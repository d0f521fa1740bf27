@testable import EddySQL
import Testing

@Suite("split()")
struct SplitTests {
    let db: Database

    init() throws { db = try Database(path: "") }

    func split(_ args: String) throws -> [[SQLValue]] {
        try rows(db, "SELECT value, ordinal FROM split(\(args))")
    }

    @Test func spaces() throws {
        #expect(try split("'a b c', ' '") == [[t("a"), i(1)], [t("b"), i(2)], [t("c"), i(3)]])
        #expect(try split("'a b c'") == [[t("a"), i(1)], [t("b"), i(2)], [t("c"), i(3)]], "space is the default separator")
    }

    @Test func emptyPiecesAreKept() throws {
        #expect(try split("'a  b', ' '") == [[t("a"), i(1)], [t(""), i(2)], [t("b"), i(3)]])
        #expect(try split("' a ', ' '") == [[t(""), i(1)], [t("a"), i(2)], [t(""), i(3)]])
        #expect(try split("',', ','") == [[t(""), i(1)], [t(""), i(2)]])
    }

    @Test func emptyTextIsOneEmptyPiece() throws {
        #expect(try split("'', ' '") == [[t(""), i(1)]])
    }

    @Test func nullTextGivesNoRows() throws {
        #expect(try split("NULL, ' '") == [])
        #expect(try split("NULL") == [])
    }

    @Test func noSeparatorInText() throws {
        #expect(try split("'abc', ','") == [[t("abc"), i(1)]])
    }

    @Test func multiByteSeparator() throws {
        #expect(try split("'a::b::::c', '::'") == [[t("a"), i(1)], [t("b"), i(2)], [t(""), i(3)], [t("c"), i(4)]])
        #expect(try split("'a:b::c:', '::'") == [[t("a:b"), i(1)], [t("c:"), i(2)]])
        #expect(try split("'x→y→→z', '→'") == [[t("x"), i(1)], [t("y"), i(2)], [t(""), i(3)], [t("z"), i(4)]])
        #expect(try split("'abab', 'abab'") == [[t(""), i(1)], [t(""), i(2)]])
        #expect(try split("'ab', 'abc'") == [[t("ab"), i(1)]], "a separator longer than the text")
    }

    @Test func emptySeparatorSplitsCharacters() throws {
        #expect(try split("'abc', ''") == [[t("a"), i(1)], [t("b"), i(2)], [t("c"), i(3)]])
        #expect(try split("'héllo😀', ''") == [[t("h"), i(1)], [t("é"), i(2)], [t("l"), i(3)], [t("l"), i(4)], [t("o"), i(5)], [t("😀"), i(6)]])
        #expect(try split("'', ''") == [])
    }

    @Test func utf8TextSplitBySpace() throws {
        #expect(try split("'日本 語 😀x', ' '") == [[t("日本"), i(1)], [t("語"), i(2)], [t("😀x"), i(3)]])
    }

    @Test func numbersAreSplitAsText() throws {
        #expect(try split("12.5, '.'") == [[t("12"), i(1)], [t("5"), i(2)]])
    }

    @Test func hiddenColumns() throws {
        #expect(try rows(db, "SELECT value, input, sep FROM split('a-b', '-')") == [[t("a"), t("a-b"), t("-")], [t("b"), t("a-b"), t("-")]])
    }

    @Test func lateralJoinOverATable() throws {
        try db.execute("""
            CREATE TABLE lines(id INTEGER, line TEXT);
            INSERT INTO lines VALUES (1, 'the cat the'), (2, 'dog'), (3, NULL), (4, 'a  b');
            """)
        #expect(try rows(db, "SELECT l.id, s.value, s.ordinal FROM lines l, split(l.line, ' ') s ORDER BY l.id, s.ordinal") == [
            [i(1), t("the"), i(1)], [i(1), t("cat"), i(2)], [i(1), t("the"), i(3)],
            [i(2), t("dog"), i(1)],
            [i(4), t("a"), i(1)], [i(4), t(""), i(2)], [i(4), t("b"), i(3)],
        ])
        #expect(try rows(db, """
            SELECT s.value, count(*) FROM lines, split(lines.line) s
            WHERE s.value <> '' GROUP BY s.value ORDER BY count(*) DESC, s.value
            """) == [[t("the"), i(2)], [t("a"), i(1)], [t("b"), i(1)], [t("cat"), i(1)], [t("dog"), i(1)]])
        #expect(try rows(db, "SELECT count(*) FROM lines JOIN split(lines.line, ' ') ON 1") == [[i(7)]])
    }

    @Test func separatorFromAColumn() throws {
        try db.execute("CREATE TABLE t(s TEXT, sep TEXT); INSERT INTO t VALUES ('a,b', ','), ('c;d;e', ';')")
        #expect(try rows(db, "SELECT group_concat(x.value, '|') FROM t, split(t.s, t.sep) x GROUP BY t.s ORDER BY t.s") == [[t("a|b")], [t("c|d|e")]])
    }

    @Test func withoutTextIsAnError() throws {
        let error = sqlError(db, "SELECT * FROM split")
        #expect(error?.message.contains("split() needs the text to split") == true, "\(String(describing: error))")
    }

    @Test func longText() throws {
        let words = (0..<5000).map { "w\($0)" }
        let text = words.joined(separator: " ")
        let s = try db.prepare("SELECT value FROM split(?1, ' ')")
        try s.bind(1, text)
        var got: [String] = []
        while try s.step() { got.append(s.string(0) ?? "NULL") }
        #expect(got == words)
        // Reused with another binding: no state left over.
        s.reset()
        try s.bind(1, "x y")
        got = []
        while try s.step() { got.append(s.string(0) ?? "NULL") }
        #expect(got == ["x", "y"])
    }
}
