import EddyBlocks
@testable import EddyIngest
import Testing

private let schema = SourceSchema(columns: columns("id", "name", "tags", "meta", "ok", "score"), format: .jsonl)

/// The declared columns' values of one jsonl record (without `_raw`).
private func json(_ line: String, _ s: SourceSchema = schema) throws -> [V]? {
    let (outcome, values) = try parseOne(line, schema: s)
    #expect(outcome == .added, "\(line)")
    guard let values else { return nil }
    #expect(values.last == .text(line), "_raw holds the whole line")
    return Array(values.dropLast())
}

private func malformed(_ line: String) throws -> String? {
    let (outcome, _) = try parseOne(line, schema: schema)
    if case .malformed(let message) = outcome { return message }
    Issue.record("expected '\(line.prefix(60))' to be malformed, got \(outcome)")
    return nil
}

private func one(_ value: String) throws -> V? {
    try json("{\"v\": \(value)}", SourceSchema(columns: columns("v"), format: .jsonl))?.first
}

@Suite("RecordParser: jsonl")
struct JSONLTests {
    @Test func declaredColumnsByName() throws {
        let line = #"{"score": 2.5, "extra": {"x": [1, 2]}, "name": "ann", "id": 7, "ok": true, "tags": ["a", "b"], "meta": {"k": [true, null]}}"#
        #expect(try json(line) == [.int(7), .text("ann"), .text(#"["a", "b"]"#), .text(#"{"k": [true, null]}"#), .int(1), .real(2.5)])
    }

    @Test func missingAndNullFieldsAreNull() throws {
        #expect(try json(#"{"id": null, "ok": false}"#) == [.null, .null, .null, .null, .int(0), .null])
        #expect(try json("{}") == Array(repeating: .null, count: 6))
        #expect(try json(" \t{ } ") == Array(repeating: .null, count: 6), "spaces around the object")
    }

    @Test func nestedValuesKeptAsJSONText() throws {
        let line = #"{"tags": [1, [2, {"deep": "x\"y"}], {}], "meta": {"a": {"b": {"c": []}}}}"#
        let values = try json(line)
        #expect(values?[2] == .text(#"[1, [2, {"deep": "x\"y"}], {}]"#))
        #expect(values?[3] == .text(#"{"a": {"b": {"c": []}}}"#))
    }

    @Test func stringEscapesDecodeToUTF8() throws {
        #expect(try one(#""line\nbreak""#) == .text("line\nbreak"))
        #expect(try one(#""say \"hi\"""#) == .text("say \"hi\""))
        #expect(try one(#""caf\u00e9""#) == .text("café"))
        #expect(try one(#""\ud83d\ude00!""#) == .text("😀!"))
        #expect(try one(#""\\ \/ \b\f\r\t""#) == .text("\\ / \u{8}\u{c}\r\t"))
        #expect(try one(#""\u00E9\u4e2d""#) == .text("é中"))
        #expect(try one(#""plain é 😀""#) == .text("plain é 😀"), "raw UTF-8 passes through")
        #expect(try one(#""""#) == .text(""))
    }

    @Test func escapedFieldNameMatches() throws {
        #expect(try json(#"{"n\u0061me": "x\ty"}"#)?[1] == .text("x\ty"))
    }

    @Test func numbers() throws {
        #expect(try one("0") == .int(0))
        #expect(try one("-0") == .int(0))
        #expect(try one("42") == .int(42))
        #expect(try one("-17") == .int(-17))
        #expect(try one("9223372036854775807") == .int(Int64.max))
        #expect(try one("-9223372036854775808") == .int(Int64.min))
        #expect(try one("9223372036854775808") == .real(9223372036854775808.0), "beyond Int64 becomes real")
        #expect(try one("-9223372036854775809") == .real(-9223372036854775809.0))
        #expect(try one("123456789012345678901234567890") == .real(1.2345678901234568e29))
        #expect(try one("1.5") == .real(1.5))
        #expect(try one("1e3") == .real(1000))
        #expect(try one("-2.5E-2") == .real(-0.025))
        #expect(try one("1.0") == .real(1.0), "a decimal point makes it real")
    }

    @Test func booleans() throws {
        #expect(try one("true") == .int(1))
        #expect(try one("false") == .int(0))
        #expect(try one("null") == .null)
    }

    @Test func lastDuplicateFieldWins() throws {
        #expect(try json(#"{"id": 1, "id": 2}"#)?[0] == .int(2))
    }

    @Test func blankLineIsSkipped() throws {
        #expect(try parseOne("   ", schema: schema).0 == .skipped)
        #expect(try parseOne("", schema: schema).0 == .skipped)
    }

    @Test func malformedLines() throws {
        #expect(try malformed(#"{"id": 1"#) == "unexpected end of record inside an object")
        #expect(try malformed(#"{"id": "#) == "unexpected end of record, expected a value")
        #expect(try malformed(#"{"id"#) == "unterminated string")
        #expect(try malformed(#"{"id": 1} x"#) == "unexpected text after the JSON object at byte 11")
        #expect(try malformed(#"{"id": 1}{}"#) == "unexpected text after the JSON object at byte 10")
        #expect(try malformed("[1, 2]") == "a jsonl record must be a JSON object")
        #expect(try malformed(#""text""#) == "a jsonl record must be a JSON object")
        #expect(try malformed("42") == "a jsonl record must be a JSON object")
        #expect(try malformed(#"{"name": "\q"}"#) == "bad escape '\\q' in a string")
        #expect(try malformed(#"{"name": "\u12"}"#) == "bad hex digit in \\u escape")
        #expect(try malformed(#"{"name": "\u12""#) == "truncated \\u escape")
        #expect(try malformed(#"{"name": "\ud83d"}"#) == "unpaired surrogate in \\u escape")
        #expect(try malformed(#"{"name": "\ude00"}"#) == "unpaired surrogate in \\u escape")
        #expect(try malformed(#"{"name": "\ud83d\u0041"}"#) == "unpaired surrogate in \\u escape")
        #expect(try malformed("{\"name\": \"a\tb\"}") == "control character inside a string at byte 12")
        #expect(try malformed(#"{"id": 01}"#) == "bad number (leading zero) at byte 8")
        #expect(try malformed(#"{"id": 1.}"#) == "bad number at byte 8")
        #expect(try malformed(#"{"id": -}"#) == "bad number at byte 8")
        #expect(try malformed(#"{"id": 1e}"#) == "bad number exponent at byte 8")
        #expect(try malformed(#"{"id": tru}"#) == "bad literal at byte 8")
        #expect(try malformed(#"{"id": 1,}"#) == "expected a field name at byte 10")
        #expect(try malformed(#"{"id" 1}"#) == "expected ':' at byte 7")
        #expect(try malformed(#"{"id": 1 "x": 2}"#) == "expected ',' or '}' at byte 10")
        #expect(try malformed(#"{id: 1}"#) == "expected a field name at byte 2")
        #expect(try malformed(#"{"tags": [1, 2}"#) == "expected ',' at byte 15")
        #expect(try malformed(#"{"tags": [1, 2"#) == "unexpected end of record inside an array")
        #expect(try malformed(#"{"id": 'x'}"#) == "unexpected character ''' at byte 8")
    }

    @Test func malformedValuesInIgnoredFieldsAreStillCaught() throws {
        #expect(try malformed(#"{"other": [1, {"x": tru}]}"#) == "bad literal at byte 21")
        #expect(try malformed(#"{"other": "\x"}"#) == "bad escape '\\x' in a string")
        #expect(try malformed(#"{"other": 00}"#) == "bad number (leading zero) at byte 11")
    }

    @Test func deepNestingIsRefused() throws {
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(try malformed("{\"tags\": \(deep)}") == "JSON nested deeper than 256 levels")
        #expect(try malformed("{\"other\": \(deep)}") == "JSON nested deeper than 256 levels")
        let objects = String(repeating: "{\"a\":", count: 1000) + "1" + String(repeating: "}", count: 1000)
        #expect(try malformed("{\"meta\": \(objects)}") == "JSON nested deeper than 256 levels")
        let unclosed = String(repeating: "[", count: 100_000)
        #expect(try malformed("{\"tags\": \(unclosed)") == "JSON nested deeper than 256 levels")
    }

    @Test func nestingWithinTheLimitIsKept() throws {
        let nested = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(try json("{\"tags\": \(nested)}")?[2] == .text(nested))
    }

    @Test func everyTruncationOfAGoodLineIsMalformed() throws {
        let line = #"{"id": 12, "name": "a\u00e9\n", "tags": [1, {"b": null}], "ok": false, "score": -1.5e3}"#
        #expect(try json(line) == [.int(12), .text("aé\n"), .text(#"[1, {"b": null}]"#), .null, .int(0), .real(-1500)])
        let bytes = Array(line.utf8)
        for length in 1..<bytes.count {
            let prefix = String(decoding: bytes[0..<length], as: UTF8.self)
            let (outcome, _) = try parseOne(prefix, schema: schema)
            if case .malformed = outcome { continue }
            Issue.record("prefix of \(length) bytes gave \(outcome)")
        }
    }

    @Test func goodLinesAfterBadOnesAreIntact() throws {
        var parser = RecordParser(schema: schema)
        var builder = BlockBuilder(columns: schema.valueCount)
        let lines = [#"{"id": 1, "name": "caf\u00e9"}"#, #"{"id": 2, "name": "\ud800"}"#, "not json", #"{"id": 3}"#]
        var outcomes: [ParseOutcome] = []
        for line in lines {
            outcomes.append(Array(line.utf8).withUnsafeBytes { parser.parse($0, arrival: 0, into: &builder) })
        }
        #expect(outcomes.map { $0 == .added } == [true, false, false, true])
        let rows = try sealAndRead(&builder)
        #expect(rows.map { Array($0.prefix(2)) } == [[.int(1), .text("café")], [.int(3), .null]])
        #expect(rows.map { $0.last } == [.text(lines[0]), .text(lines[3])])
    }
}
