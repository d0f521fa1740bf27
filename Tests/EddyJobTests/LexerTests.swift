import EddyCore
@testable import EddyJob
import Testing

private func tokens(_ text: String) throws(JobError) -> [Token] {
    try Lexer(text: text, map: LineMap(file: "job.sql", text: text)).tokenize()
}

private func lexError(_ text: String) -> JobError? {
    do {
        _ = try tokens(text)
        Issue.record("expected a lexer error for: \(text)")
        return nil
    } catch {
        return error
    }
}

@Suite("Lexer")
struct LexerTests {
    @Test func stringsWithDoubledQuotes() throws {
        let t = try tokens("'it''s' '' ''''")
        #expect(t.map(\.kind) == [.string, .string, .string])
        #expect(t.map(\.value) == ["it's", "", "'"])
        #expect(t[0].start == 0 && t[0].end == 7)
    }

    @Test func quotedNamesInAllThreeStyles() throws {
        let t = try tokens(#""my ""col""" `back``tick` [square ] name] "é""#)
        #expect(t.map(\.kind) == [.quotedName, .quotedName, .quotedName, .word, .punctuation, .quotedName])
        #expect(t.map(\.value) == [#"my "col""#, "back`tick", "square ", "name", "]", "é"])
        #expect(t.allSatisfy { $0.kind != .quotedName || $0.isName })
    }

    @Test func commentsAreSkipped() throws {
        let t = try tokens("SELECT -- a comment ; 'not a string\n 1 /* block ; \n 'x' */ + /**/ 2 --")
        #expect(t.map(\.value) == ["SELECT", "1", "+", "2"])
    }

    @Test func numbers() throws {
        let t = try tokens("42 3.5 .5 1e10 2E-3 0x1F 1_000 7.")
        #expect(t.allSatisfy { $0.kind == .number })
        #expect(t.map(\.value) == ["42", "3.5", ".5", "1e10", "2E-3", "0x1F", "1_000", "7."])
    }

    @Test func numberFollowedByAUnitIsTwoAdjacentTokens() throws {
        let t = try tokens("200ms 1e 5 s")
        #expect(t.map(\.kind) == [.number, .word, .number, .word, .number, .word])
        #expect(t.map(\.value) == ["200", "ms", "1", "e", "5", "s"])
        #expect(t[0].end == t[1].start, "200ms: the unit touches the number")
        #expect(t[4].end != t[5].start, "5 s: it does not")
    }

    @Test func wordsVariablesBlobsAndOperators() throws {
        let t = try tokens("_x1 $y x'0A' X'ff' ?1 ? :name @v <= >= <> != == || << >> -> ->> .")
        #expect(t.map(\.kind) == [.word, .variable, .blob, .blob, .variable, .variable, .variable, .variable,
                                  .punctuation, .punctuation, .punctuation, .punctuation, .punctuation, .punctuation,
                                  .punctuation, .punctuation, .punctuation, .punctuation, .punctuation])
        #expect(t.map(\.value) == ["_x1", "$y", "x'0A'", "X'ff'", "?1", "?", ":name", "@v",
                                   "<=", ">=", "<>", "!=", "==", "||", "<<", ">>", "->", "->>", "."])
    }

    @Test func keywordsAreCaseInsensitive() throws {
        let t = try tokens("select Select \"SELECT\"")
        #expect(t[0].isKeyword("SELECT") && t[1].isKeyword("SELECT"))
        #expect(!t[2].isKeyword("SELECT"), "a quoted name is never a keyword")
        #expect(!t[0].isKeyword("SELECTS"))
    }

    @Test func unicodeWords() throws {
        #expect(try tokens("café naïve 日本").map(\.value) == ["café", "naïve", "日本"])
    }

    @Test func unterminatedStringPointsAtItsStart() {
        let e = lexError("SELECT 1;\n  SELECT 'abc")
        #expect(e?.message == "unterminated string literal")
        #expect(e?.location == Loc(file: "job.sql", line: 2, column: 10))
        #expect(e?.description == "job.sql:2:10: unterminated string literal")
    }

    @Test func unterminatedCommentAndNames() {
        let comment = lexError("SELECT 1 /* never\nclosed")
        #expect(comment?.message == "unterminated /* comment")
        #expect(comment?.location.line == 1 && comment?.location.column == 10)
        #expect(lexError("SELECT \"abc")?.message == "unterminated quoted name")
        #expect(lexError("SELECT [abc")?.message == "unterminated quoted name")
        #expect(lexError("SELECT `abc")?.message == "unterminated quoted name")
        #expect(lexError("SELECT x'0A")?.message == "unterminated blob literal")
        #expect(lexError("'")?.location.column == 1)
        #expect(lexError("/*/")?.message == "unterminated /* comment")
    }

    @Test func errorColumnsCountCharacters() {
        // 'é' is two bytes but one column.
        let e = lexError("SELECT 'é', 'x")
        #expect(e?.location.column == 13)
        let emoji = lexError("-- 😀😀\n😀 'x")
        #expect(emoji?.location == Loc(file: "job.sql", line: 2, column: 3))
    }
}

@Suite("LineMap")
struct LineMapTests {
    @Test func linesAndColumns() {
        let map = LineMap(file: "f.sql", text: "ab\ncd\n\nef")
        #expect(map.location(0) == Loc(file: "f.sql", line: 1, column: 1))
        #expect(map.location(1).column == 2)
        #expect(map.location(2) == Loc(file: "f.sql", line: 1, column: 3), "the newline itself")
        #expect(map.location(3) == Loc(file: "f.sql", line: 2, column: 1))
        #expect(map.location(6) == Loc(file: "f.sql", line: 3, column: 1))
        #expect(map.location(8) == Loc(file: "f.sql", line: 4, column: 2))
    }

    @Test func offsetsOutOfRangeAreClamped() {
        let map = LineMap(file: "f.sql", text: "ab\ncd")
        #expect(map.location(-5) == Loc(file: "f.sql", line: 1, column: 1))
        #expect(map.location(1000) == Loc(file: "f.sql", line: 2, column: 3))
        #expect(LineMap(file: "e", text: "").location(0) == Loc(file: "e", line: 1, column: 1))
    }

    @Test func columnsCountCharactersNotBytes() {
        let text = "é x\n日本語 y\n😀z"
        let map = LineMap(file: "f.sql", text: text)
        let bytes = Array(text.utf8)
        func offset(of ascii: Character) -> Int { bytes.firstIndex(of: UInt8(ascii.asciiValue ?? 0)) ?? -1 }
        #expect(map.location(offset(of: "x")) == Loc(file: "f.sql", line: 1, column: 3))
        #expect(map.location(offset(of: "y")) == Loc(file: "f.sql", line: 2, column: 5))
        #expect(map.location(offset(of: "z")) == Loc(file: "f.sql", line: 3, column: 2))
        // An offset inside a multi-byte character points at that character.
        #expect(map.location(1).column == 1)
        #expect(map.location(offset(of: "y") - 3).column == 3, "a byte inside 語")
    }

    /// A job on one long line: every column is computed from per-chunk counts,
    /// and must equal counting the characters one by one.
    @Test func longLinesWithMultiByteCharacters() {
        var text = "x\n"
        for i in 0..<3000 { text += i % 7 == 0 ? "é日😀 " : "ab; " }
        let map = LineMap(file: "f.sql", text: text)
        let bytes = Array(text.utf8)
        var column = 1
        for offset in 2..<bytes.count {
            if bytes[offset] & 0xC0 != 0x80 {
                #expect(map.location(offset) == Loc(file: "f.sql", line: 2, column: column), "offset \(offset)")
                column += 1
            }
        }
    }
}
