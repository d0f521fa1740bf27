import EddyIngest
import Testing

/// Frames `input` fed in chunks of `chunk` bytes (whole when nil), then finishes.
private func frame(_ input: [UInt8], quoteAware: Bool, chunk: Int? = nil, finish: Bool = true) -> (records: [String], oversized: Int) {
    var framer = RecordFramer(quoteAware: quoteAware)
    var records: [String] = []
    let step = chunk ?? max(1, input.count)
    var offset = 0
    input.withUnsafeBytes { raw in
        while offset < raw.count {
            let end = min(raw.count, offset + step)
            framer.feed(UnsafeRawBufferPointer(rebasing: raw[offset..<end])) { records.append(String(decoding: $0, as: UTF8.self)) }
            offset = end
        }
    }
    if finish { framer.finish { records.append(String(decoding: $0, as: UTF8.self)) } }
    return (records, framer.oversizedRecords)
}

private func frame(_ input: String, quoteAware: Bool = false, chunk: Int? = nil, finish: Bool = true) -> [String] {
    frame(Array(input.utf8), quoteAware: quoteAware, chunk: chunk, finish: finish).records
}

@Suite("RecordFramer")
struct RecordFramerTests {
    static let lines = "alpha\nbeta gamma\n\nδέλτα 😀\r\nlast line without end"
    static let linesExpected = ["alpha", "beta gamma", "", "δέλτα 😀", "last line without end"]

    @Test func wholeInput() {
        #expect(frame(Self.lines) == Self.linesExpected)
    }

    @Test("every chunk size gives the same records", arguments: 1...7)
    func chunked(size: Int) {
        var long = ""
        for i in 0..<60 { long += "record \(i) " + String(repeating: "x", count: i % 9) + (i % 4 == 0 ? "\r\n" : "\n") }
        long += Self.lines
        let whole = frame(long)
        #expect(whole.count == 65)
        #expect(frame(long, chunk: size) == whole)
    }

    @Test("csv: every chunk size gives the same records", arguments: 1...7)
    func chunkedCSV(size: Int) {
        var long = ""
        for i in 0..<40 { long += "\(i),\"quoted, \"\"with\"\"\nnewline \(i)\",plain\r\n" }
        long += "1,\"\",\n2,\"a\r\nb\",c"
        let whole = frame(long, quoteAware: true)
        #expect(whole.count == 42)
        #expect(whole[0] == "0,\"quoted, \"\"with\"\"\nnewline 0\",plain")
        #expect(whole[41] == "2,\"a\r\nb\",c")
        #expect(frame(long, quoteAware: true, chunk: size) == whole)
    }

    @Test func crlfLosesTheCarriageReturn() {
        #expect(frame("a\r\nb\r\n") == ["a", "b"])
        #expect(frame("a\r\nb\r\n", chunk: 2) == ["a", "b"], "\\r and \\n in different chunks")
        #expect(frame("a\r\r\n") == ["a\r"], "only one \\r belongs to the line ending")
        #expect(frame("\r\n") == [""])
    }

    @Test func lastRecordWithoutNewlineNeedsFinish() {
        var framer = RecordFramer(quoteAware: false)
        var records: [String] = []
        Array("one\ntwo".utf8).withUnsafeBytes { framer.feed($0) { records.append(String(decoding: $0, as: UTF8.self)) } }
        #expect(records == ["one"])
        #expect(framer.pendingBytes == 3)
        framer.finish { records.append(String(decoding: $0, as: UTF8.self)) }
        #expect(records == ["one", "two"])
        #expect(framer.pendingBytes == 0)
        framer.finish { records.append(String(decoding: $0, as: UTF8.self)) }
        #expect(records == ["one", "two"], "a second finish has nothing left")
    }

    @Test func noFinishNoPartialRecord() {
        #expect(frame("a\nb", finish: false) == ["a"])
        #expect(frame("", finish: true) == [])
        #expect(frame("\n\n") == ["", ""])
    }

    @Test func csvQuotedNewlineIsOneRecord() {
        #expect(frame("1,\"x\ny\",2\n3,z,4\n", quoteAware: true) == ["1,\"x\ny\",2", "3,z,4"])
        #expect(frame("1,\"x\ny\",2\n", quoteAware: false) == ["1,\"x", "y\",2"], "other formats do not look at quotes")
    }

    @Test func csvQuoteStateIsResetByFinish() {
        var framer = RecordFramer(quoteAware: true)
        var records: [String] = []
        Array("\"open\nstill open".utf8).withUnsafeBytes { framer.feed($0) { records.append(String(decoding: $0, as: UTF8.self)) } }
        #expect(records.isEmpty)
        framer.finish { records.append(String(decoding: $0, as: UTF8.self)) }
        #expect(records == ["\"open\nstill open"])
        Array("next\n".utf8).withUnsafeBytes { framer.feed($0) { records.append(String(decoding: $0, as: UTF8.self)) } }
        #expect(records.last == "next", "a new input starts outside quotes")
    }

    @Test func oversizedRecordsAreCountedAndSkipped() {
        let limit = SourceSchema.maxRecordBytes
        var framer = RecordFramer(quoteAware: false)
        var records: [String] = []
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        Array("before\nstart".utf8).withUnsafeBytes { framer.feed($0) { records.append(String(decoding: $0, as: UTF8.self)) } }
        var fed = 5
        chunk.withUnsafeBytes { raw in
            while fed <= limit {
                framer.feed(raw) { records.append(String(decoding: $0, as: UTF8.self)) }
                fed += raw.count
            }
        }
        #expect(framer.pendingBytes == 0, "an oversized record is not kept in memory")
        Array("tail\nafter\nlong again".utf8).withUnsafeBytes { framer.feed($0) { records.append(String(decoding: $0, as: UTF8.self)) } }
        #expect(records == ["before", "after"])
        #expect(framer.oversizedRecords == 1)

        // Oversized at the end of input, without a newline.
        chunk.withUnsafeBytes { raw in
            for _ in 0...(limit >> 20) { framer.feed(raw) { records.append(String(decoding: $0, as: UTF8.self)) } }
        }
        framer.finish { records.append(String(decoding: $0, as: UTF8.self)) }
        #expect(framer.oversizedRecords == 2)
        #expect(records == ["before", "after"])
    }
}
