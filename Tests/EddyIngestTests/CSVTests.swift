import EddyBlocks
@testable import EddyIngest
import Testing

private let three = SourceSchema(columns: columns("a", "b", "c"), format: .csv)

private func csv(_ record: String, _ schema: SourceSchema = three) throws -> [V]? {
    let (outcome, values) = try parseOne(record, schema: schema)
    #expect(outcome == .added, "\(record)")
    return values
}

private func malformed(_ record: String, _ schema: SourceSchema = three) throws -> String? {
    let (outcome, _) = try parseOne(record, schema: schema)
    if case .malformed(let message) = outcome { return message }
    Issue.record("expected '\(record)' to be malformed, got \(outcome)")
    return nil
}

@Suite("RecordParser: csv (RFC 4180)")
struct CSVTests {
    @Test func plainFields() throws {
        #expect(try csv("1,two,3.5") == [.text("1"), .text("two"), .text("3.5")])
    }

    @Test func quotedComma() throws {
        #expect(try csv("a,\"b,c\",d") == [.text("a"), .text("b,c"), .text("d")])
    }

    @Test func doubledQuotes() throws {
        #expect(try csv("\"say \"\"hi\"\"\",\"\"\"\",x") == [.text("say \"hi\""), .text("\""), .text("x")])
    }

    @Test func quotedNewline() throws {
        #expect(try csv("\"line 1\nline 2\",\"a\r\nb\",z") == [.text("line 1\nline 2"), .text("a\r\nb"), .text("z")])
    }

    @Test func emptyUnquotedFieldIsNull() throws {
        #expect(try csv("a,,c") == [.text("a"), .null, .text("c")])
        #expect(try csv(",b,c") == [.null, .text("b"), .text("c")])
        #expect(try csv(",,") == [.null, .null, .null])
    }

    @Test func quotedEmptyFieldIsEmptyText() throws {
        #expect(try csv("\"\",b,\"\"") == [.text(""), .text("b"), .text("")])
    }

    @Test func trailingComma() throws {
        #expect(try csv("a,b,") == [.text("a"), .text("b"), .null])
        #expect(try csv("a,\"b\",") == [.text("a"), .text("b"), .null])
        #expect(try malformed("a,b,c,") == "expected 3 fields, found 4")
        let two = SourceSchema(columns: columns("a", "b"), format: .csv)
        #expect(try malformed("a,b,", two) == "expected 2 fields, found 3")
    }

    @Test func spacesAreKept() throws {
        #expect(try csv(" a , b ,c ") == [.text(" a "), .text(" b "), .text("c ")])
    }

    @Test func utf8() throws {
        #expect(try csv("é,\"日本, 語\",😀") == [.text("é"), .text("日本, 語"), .text("😀")])
    }

    @Test func wrongFieldCounts() throws {
        #expect(try malformed("a,b") == "expected 3 fields, found 2")
        #expect(try malformed("a") == "expected 3 fields, found 1")
        #expect(try malformed("a,b,c,d") == "expected 3 fields, found more")
        let one = SourceSchema(columns: columns("a"), format: .csv)
        #expect(try malformed("a,b", one) == "expected 1 field, found more")
        #expect(try csv("\"a,b\"", one) == [.text("a,b")])
    }

    @Test func unterminatedQuote() throws {
        #expect(try malformed("\"abc,d,e") == "unterminated quoted field 1")
        #expect(try malformed("a,\"b") == "unterminated quoted field 2")
        #expect(try malformed("a,b,\"c\"\"") == "unterminated quoted field 3")
    }

    @Test func textAfterClosingQuote() throws {
        #expect(try malformed("\"ab\"x,c,d") == "unexpected character after the closing quote of field 1")
        #expect(try malformed("a,\"b\" ,c") == "unexpected character after the closing quote of field 2")
    }

    @Test func quoteInsideUnquotedField() throws {
        #expect(try malformed("ab\"c,d,e") == "quote inside unquoted field 1")
    }

    @Test func emptyRecordIsSkipped() throws {
        #expect(try parseOne("", schema: three).0 == .skipped)
    }

    @Test func headerIsSkippedOnce() throws {
        var parser = RecordParser(schema: SourceSchema(columns: columns("a", "b"), format: .csv, header: true))
        var builder = BlockBuilder(columns: 2)
        var outcomes: [ParseOutcome] = []
        for record in ["a,b", "1,2", "a,b"] {
            outcomes.append(Array(record.utf8).withUnsafeBytes { parser.parse($0, arrival: 0, into: &builder) })
        }
        #expect(outcomes == [.skipped, .added, .added])
        #expect(try sealAndRead(&builder) == [[.text("1"), .text("2")], [.text("a"), .text("b")]])
    }

    @Test func goodRecordsAfterBadOnesAreIntact() throws {
        var parser = RecordParser(schema: three)
        var builder = BlockBuilder(columns: 3)
        let records = ["1,x,y", "\"bad", "2,\"q\"\"\",", "too,many,fields,here", "3,,z", "a,b\"c,d"]
        var outcomes: [ParseOutcome] = []
        for record in records {
            outcomes.append(Array(record.utf8).withUnsafeBytes { parser.parse($0, arrival: 9, into: &builder) })
        }
        #expect(outcomes.filter { $0 == .added }.count == 3)
        #expect(try sealAndRead(&builder) == [
            [.text("1"), .text("x"), .text("y")],
            [.text("2"), .text("q\""), .null],
            [.text("3"), .null, .text("z")],
        ])
    }
}

@Suite("RecordParser: tsv and lines")
struct TSVTests {
    let tsv = SourceSchema(columns: columns("a", "b", "c"), format: .tsv)

    @Test func tabs() throws {
        let (outcome, values) = try parseOne("1\ttwo words\t\"q\"", schema: tsv)
        #expect(outcome == .added)
        #expect(values == [.text("1"), .text("two words"), .text("\"q\"")])
    }

    @Test func nullMarkers() throws {
        #expect(try parseOne("\\N\t\tc", schema: tsv).1 == [.null, .null, .text("c")])
        #expect(try parseOne("\t\t", schema: tsv).1 == [.null, .null, .null])
        #expect(try parseOne("\\Nx\t\\\t\\n", schema: tsv).1 == [.text("\\Nx"), .text("\\"), .text("\\n")], "only exactly \\N is NULL")
    }

    @Test func fieldCountMismatch() throws {
        #expect(try parseOne("a\tb", schema: tsv).0 == .malformed("expected 3 tab-separated fields, found 2"))
        #expect(try parseOne("a\tb\tc\td", schema: tsv).0 == .malformed("expected 3 tab-separated fields, found 4"))
        let one = SourceSchema(columns: columns("a"), format: .tsv)
        #expect(try parseOne("a\tb", schema: one).0 == .malformed("expected 1 tab-separated field, found 2"))
        #expect(try parseOne("a,b", schema: one).1 == [.text("a,b")])
    }

    @Test func emptyLineIsSkipped() throws {
        #expect(try parseOne("", schema: tsv).0 == .skipped)
    }

    @Test func linesKeepEverything() throws {
        let lines = SourceSchema(columns: columns("line"), format: .lines)
        #expect(try parseOne("a,b\t\"c\" \\N", schema: lines).1 == [.text("a,b\t\"c\" \\N")])
        #expect(try parseOne("", schema: lines).1 == [.text("")], "an empty line is an empty record in lines format")
    }
}
