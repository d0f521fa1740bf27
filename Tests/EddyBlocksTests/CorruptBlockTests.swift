import EddyBlocks
import Testing

@Suite("Corrupt blocks throw BlockError and never crash")
struct CorruptBlockTests {
    func sampleBlock(records: Int = 200) -> Block {
        var builder = BlockBuilder(columns: 3)
        for i in 0..<records {
            _ = builder.beginRecord(arrival: 1000 + Int64(i % 7) - 3)
            builder.appendInteger(Int64(i) * 1_000_003)
            builder.appendText("record number \(i) with some text")
            builder.appendReal(Double(i) * 0.5)
            builder.endRecord()
        }
        return builder.seal(id: 1, source: 0, shard: "s", firstSeq: 0, sealTime: 0)
    }

    func isCorrupt(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch let error as BlockError {
            if case .corrupt = error { return true }
            return false
        } catch {
            return false
        }
    }

    @Test func sampleDecodes() throws {
        #expect(try decode(sampleBlock()).count == 200)
    }

    @Test func everyTruncationOfTheLZ4PayloadThrows() {
        let block = sampleBlock(records: 40)
        for length in 0..<block.payload.count {
            let truncated = Array(block.payload[0..<length])
            #expect(isCorrupt { _ = try decode(block, payload: truncated) }, "payload cut to \(length) of \(block.payload.count) bytes")
        }
    }

    @Test func wrongRawBytesThrows() {
        let block = sampleBlock()
        for raw in [block.rawBytes - 1, block.rawBytes + 1, block.rawBytes / 2, block.rawBytes * 2, 1, -1, Int(Int32.max)] {
            var wrong = block
            wrong.rawBytes = raw
            #expect(isCorrupt { _ = try decode(wrong) }, "rawBytes \(raw) instead of \(block.rawBytes)")
        }
    }

    @Test func emptyPayloadWithRawBytesThrows() {
        var output: [UInt8] = []
        #expect(throws: BlockError.corrupt("bad block sizes: 0 compressed, 10 raw")) {
            try LZ4.decompress([], rawBytes: 10, into: &output)
        }
    }

    @Test func flippedBytesNeverCrash() throws {
        // Any single corrupted byte must end in an error or in records that
        // decode within bounds: never a crash or a read past the buffer.
        let block = sampleBlock(records: 40)
        var rng = SplitMix(seed: 3)
        var errors = 0
        for index in 0..<block.payload.count {
            var bad = block
            bad.payload[index] ^= UInt8.random(in: 1...255, using: &rng)
            do {
                _ = try decode(bad)
            } catch {
                errors += 1
            }
        }
        #expect(errors > 0)
    }

    @Test func randomPayloadsNeverCrash() {
        var rng = SplitMix(seed: 5)
        for _ in 0..<300 {
            let size = Int.random(in: 1...200, using: &rng)
            let payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let block = Block(id: 1, source: 0, shard: "s", firstSeq: 0, count: Int.random(in: 1...50, using: &rng),
                              columns: Int.random(in: 1...5, using: &rng), sealTime: 0, baseArrival: 0,
                              rawBytes: Int.random(in: 1...1000, using: &rng), payload: payload)
            _ = try? decode(block)
        }
    }

    /// Every strict prefix of valid raw records fails to yield all records.
    @Test func everyTruncationOfTheRawRecordsThrows() throws {
        let block = sampleBlock()
        var raw: [UInt8] = []
        try LZ4.decompress(block.payload, rawBytes: block.rawBytes, into: &raw)
        for length in 0..<raw.count {
            let prefix = Array(raw[0..<length])
            #expect(isCorrupt { _ = try readRecords(prefix, count: block.count, columns: 3, baseArrival: 0) }, "raw cut to \(length)")
        }
    }

    func firstError(_ raw: [UInt8]) -> BlockError? {
        do {
            _ = try readRecords(raw, count: 1, columns: 1, baseArrival: 0)
            return nil
        } catch {
            return error
        }
    }

    @Test func truncatedVarints() {
        #expect(firstError([0x80]) == .corrupt("truncated record header"))
        #expect(firstError([0x80, 0x80, 0x80]) == .corrupt("truncated record header"))
        #expect(firstError([0x00]) == .corrupt("truncated value header"))
        #expect(firstError([0x00, 0x81]) == .corrupt("truncated value header"))
        #expect(firstError([0x00, 0x01]) == .corrupt("truncated integer"))
        #expect(firstError([0x00, 0x01, 0xFF, 0xFF]) == .corrupt("truncated integer"))
        #expect(firstError([0x00, 0x02, 1, 2, 3]) == .corrupt("truncated real"))
        // Text of length 10 with only one byte present.
        #expect(firstError([0x00, 10 << 3 | 3, 0x61]) == .corrupt("value runs past the block end"))
        #expect(firstError([0x00, 10 << 3 | 4]) == .corrupt("value runs past the block end"))
        for tag: UInt8 in 5...7 {
            #expect(firstError([0x00, tag]) == .corrupt("unknown value tag \(tag)"))
        }
    }

    @Test func overlongVarintIsRejected() {
        // Eleven continuation bytes: more than 64 bits.
        #expect(firstError(Array(repeating: 0xFF, count: 11) + [0x01]) == .corrupt("truncated record header"))
    }

    @Test func hugeLengthDoesNotOverflow() {
        var raw: [UInt8] = [0x00]
        Varint.append(UInt64.max & ~7 | 3, to: &raw) // text of length 2^61 - 1
        raw += [1, 2, 3]
        #expect(firstError(raw) == .corrupt("value runs past the block end"))
    }

    @Test func validHandMadeRecord() throws {
        // arrival delta -1 (zigzag 1), integer 5 (zigzag 10), text "hi".
        let raw: [UInt8] = [0x01, 0x01, 0x0A, 2 << 3 | 3, 0x68, 0x69]
        let (records, atEnd) = try readRecords(raw, count: 1, columns: 2, baseArrival: 100)
        #expect(atEnd)
        #expect(records == [DecodedRecord(arrival: 99, values: [.int(5), .text("hi")])])
    }
}
