import EddyBlocks
import EddyCore
@testable import EddyIngest
import Testing

@Suite("RecordDecoder and ErrorLog")
struct RecordDecoderTests {
    let csv = SourceSchema(columns: columns("id", "name"), format: .csv)

    @Test func badRecordsAreCountedAndGoodOnesLand() throws {
        let errors = try ErrorLog(source: "src", path: nil)
        var decoder = RecordDecoder(schema: csv)
        var builder = BlockBuilder(columns: 2)
        let input = "1,a\nbad\n2,\"b\nc\"\n3,x,y\n\n\"open,4\n"
        let added = decoder.decodeAll(Array(input.utf8), arrival: 77, shard: "s1", errors: errors, into: &builder)
        #expect(added == 2)
        #expect(errors.count == 3)
        let rows = try readBlock(builder.seal(id: 1, source: 0, shard: "s1", firstSeq: 0, sealTime: 0))
        #expect(rows == [Row(arrival: 77, values: [.text("1"), .text("a")]), Row(arrival: 77, values: [.text("2"), .text("b\nc")])])
    }

    @Test func errorsPathGetsOneLinePerBadRecord() throws {
        let dir = try TempDir()
        let path = dir.file("bad.log")
        let errors = try ErrorLog(source: "events", path: path)
        var decoder = RecordDecoder(schema: csv)
        var builder = BlockBuilder(columns: 2)
        var input = "1,ok\n"
        for i in 0..<25 { input += "bad \(i)\n" }
        input += "2,ok\nx,y,z"
        let added = decoder.decodeAll(Array(input.utf8), arrival: 0, shard: "shard-7", errors: errors, into: &builder)
        #expect(added == 2)
        #expect(errors.count == 26)
        let lines = String(decoding: try Files.readAll(path), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 27, "26 lines and the empty rest after the last newline")
        #expect(lines.last == "")
        #expect(lines[0] == #"source=events shard=shard-7 error="expected 2 fields, found 1" record="bad 0""#)
        #expect(lines[25] == #"source=events shard=shard-7 error="expected 2 fields, found more" record="x,y,z""#)
        for line in lines.dropLast() { #expect(line.hasPrefix("source=events shard=shard-7 error=")) }
    }

    @Test func errorLogAppends() throws {
        let dir = try TempDir()
        let path = try dir.write("bad.log", "earlier\n")
        let errors = try ErrorLog(source: "s", path: path)
        Array("a\u{1}b\n".utf8).withUnsafeBytes { errors.record(shard: "0", reason: "why \"not\"", bytes: $0) }
        let text = String(decoding: try Files.readAll(path), as: UTF8.self)
        #expect(text == "earlier\n" + #"source=s shard=0 error="why \"not\"" record="a\u0001b\n""# + "\n")
        #expect(errors.count == 1)
    }

    @Test func errorLogThatCannotBeOpenedThrows() throws {
        let dir = try TempDir()
        #expect(throws: Files.IOError.self) { try ErrorLog(source: "s", path: dir.file("missing/dir/bad.log")) }
    }

    @Test func chunkedFeedMatchesDecodeAll() throws {
        let jsonl = SourceSchema(columns: columns("a"), format: .jsonl)
        var input = ""
        for i in 0..<50 { input += i % 7 == 3 ? "{broken\n" : "{\"a\": \(i)}\n" }
        let bytes = Array(input.utf8)
        var whole = RecordDecoder(schema: jsonl)
        var wholeBuilder = BlockBuilder(columns: 2)
        let wholeErrors = try ErrorLog(source: "w", path: nil)
        let n = whole.decodeAll(bytes, arrival: 1, shard: "0", errors: wholeErrors, into: &wholeBuilder)
        for size in 1...7 {
            var decoder = RecordDecoder(schema: jsonl)
            var builder = BlockBuilder(columns: 2)
            let errors = try ErrorLog(source: "c", path: nil)
            var added = 0
            var offset = 0
            bytes.withUnsafeBytes { raw in
                while offset < raw.count {
                    let end = min(raw.count, offset + size)
                    added += decoder.feed(UnsafeRawBufferPointer(rebasing: raw[offset..<end]), arrival: 1, shard: "0",
                                          errors: errors, into: &builder)
                    offset = end
                }
            }
            added += decoder.finish(arrival: 1, shard: "0", errors: errors, into: &builder)
            #expect(added == n)
            #expect(errors.count == wholeErrors.count)
            #expect(builder.buffer == wholeBuilder.buffer, "chunk size \(size)")
        }
        #expect(n == 43)
        #expect(wholeErrors.count == 7)
    }

    @Test func headerIsExpectedAgainAfterFinish() throws {
        var decoder = RecordDecoder(schema: SourceSchema(columns: columns("a", "b"), format: .tsv, header: true))
        var builder = BlockBuilder(columns: 2)
        var added = decoder.decodeAll(Array("a\tb\n1\t2\n".utf8), arrival: 0, shard: "f1", errors: nil, into: &builder)
        added += decoder.decodeAll(Array("a\tb\n3\t4".utf8), arrival: 0, shard: "f2", errors: nil, into: &builder)
        #expect(added == 2)
        #expect(try sealAndRead(&builder) == [[.text("1"), .text("2")], [.text("3"), .text("4")]])
    }

    @Test func oversizedRecordIsReportedAsBad() throws {
        let errors = try ErrorLog(source: "s", path: nil)
        var decoder = RecordDecoder(schema: SourceSchema(columns: columns("line"), format: .lines))
        var builder = BlockBuilder(columns: 1)
        let chunk = [UInt8](repeating: UInt8(ascii: "y"), count: 1 << 20)
        var added = 0
        chunk.withUnsafeBytes { raw in
            for _ in 0...(SourceSchema.maxRecordBytes >> 20) {
                added += decoder.feed(raw, arrival: 0, shard: "0", errors: errors, into: &builder)
            }
        }
        added += Array("\nfine\n".utf8).withUnsafeBytes { decoder.feed($0, arrival: 0, shard: "0", errors: errors, into: &builder) }
        #expect(added == 1)
        #expect(errors.count == 1)
        #expect(try sealAndRead(&builder) == [[.text("fine")]])
    }
}
