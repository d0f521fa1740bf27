import EddyBlocks
import Testing

@Suite("BlockBuilder → LZ4 → RecordCursor")
struct BlockRoundTripTests {
    /// Builds a block from records, seals it and decodes it again.
    func roundTrip(_ records: [DecodedRecord], columns: Int) throws -> (Block, [DecodedRecord]) {
        var builder = BlockBuilder(columns: columns)
        for r in records {
            _ = builder.beginRecord(arrival: r.arrival)
            for v in r.values { append(v, to: &builder) }
            builder.endRecord()
        }
        #expect(builder.count == records.count)
        let block = builder.seal(id: 9, source: 2, shard: "host:1", firstSeq: 100, sealTime: 5000)
        #expect(builder.isEmpty, "sealing starts the builder over")
        #expect(builder.byteCount == 0)
        return (block, try decode(block))
    }

    @Test func everyValueType() throws {
        let long = String(repeating: "xyz", count: 500) // length needs a multi-byte varint
        let records = [
            DecodedRecord(arrival: 1_700_000_000_000, values: [.null, .int(42), .real(3.5), .text("héllo 😀"), .blob([0, 1, 255])]),
            DecodedRecord(arrival: 1_700_000_000_005, values: [.int(-1), .int(0), .real(-0.0), .text(""), .blob([])]),
            DecodedRecord(arrival: 1_700_000_000_005, values: [.int(Int64.min), .int(Int64.max), .real(.infinity), .text(long), .null]),
            DecodedRecord(arrival: 1_700_000_000_009, values: [.real(.nan), .real(-.greatestFiniteMagnitude), .real(.leastNonzeroMagnitude),
                                                               .text("tab\tnew\nline\0nul"), .blob(Array(0...255))]),
        ]
        let (block, decoded) = try roundTrip(records, columns: 5)
        #expect(decoded == records)
        #expect(block.count == 4)
        #expect(block.columns == 5)
        #expect(block.firstSeq == 100)
        #expect(block.lastSeq == 103)
        #expect(block.sealTime == 5000)
        #expect(block.shard == "host:1")
        #expect(block.source == 2)
        #expect(block.id == 9)
        #expect(block.baseArrival == 1_700_000_000_000)
        #expect(block.rawBytes > long.utf8.count)
        #expect(block.payload.count < block.rawBytes, "repetitive records compress")
    }

    @Test func negativeArrivalDeltas() throws {
        let records = [1000, 990, 5, -7, 1_000_000, 0].map { DecodedRecord(arrival: Int64($0), values: [.int(Int64($0))]) }
        let (block, decoded) = try roundTrip(records, columns: 1)
        #expect(block.baseArrival == 1000)
        #expect(decoded == records)
    }

    @Test func extremeArrivalDeltasWrapAndComeBack() throws {
        let records = [Int64.max, Int64.min, 0, Int64.max].map { DecodedRecord(arrival: $0, values: [.null]) }
        let (_, decoded) = try roundTrip(records, columns: 1)
        #expect(decoded.map(\.arrival) == records.map(\.arrival))
    }

    @Test func missingValuesArePaddedWithNull() throws {
        var builder = BlockBuilder(columns: 3)
        _ = builder.beginRecord(arrival: 7)
        builder.appendInteger(1)
        #expect(builder.valuesWritten == 1)
        builder.endRecord()
        let block = builder.seal(id: 1, source: 0, shard: "0", firstSeq: 0, sealTime: 0)
        #expect(try decode(block) == [DecodedRecord(arrival: 7, values: [.int(1), .null, .null])])
    }

    @Test func valuesBeyondTheColumnsAreDropped() throws {
        var builder = BlockBuilder(columns: 2)
        _ = builder.beginRecord(arrival: 7)
        builder.appendText("a")
        builder.appendText("b")
        builder.appendText("c")
        builder.appendInteger(4)
        builder.appendNull()
        #expect(builder.valuesWritten == 2)
        builder.endRecord()
        let block = builder.seal(id: 1, source: 0, shard: "0", firstSeq: 0, sealTime: 0)
        #expect(try decode(block) == [DecodedRecord(arrival: 7, values: [.text("a"), .text("b")])])
    }

    @Test func discardedRecordLeavesNoTrace() throws {
        var builder = BlockBuilder(columns: 2)
        _ = builder.beginRecord(arrival: 10)
        builder.appendText("keep")
        builder.appendInteger(1)
        builder.endRecord()
        let size = builder.byteCount
        let mark = builder.beginRecord(arrival: 20)
        builder.appendText("half")
        builder.discardRecord(mark)
        #expect(builder.byteCount == size)
        #expect(builder.count == 1)
        _ = builder.beginRecord(arrival: 30)
        builder.appendText("next")
        builder.appendInteger(2)
        builder.endRecord()
        let block = builder.seal(id: 1, source: 0, shard: "0", firstSeq: 0, sealTime: 0)
        #expect(try decode(block) == [
            DecodedRecord(arrival: 10, values: [.text("keep"), .int(1)]),
            DecodedRecord(arrival: 30, values: [.text("next"), .int(2)]),
        ])
    }

    @Test func baseArrivalIsResetBySeal() throws {
        var builder = BlockBuilder(columns: 1)
        _ = builder.beginRecord(arrival: 100)
        builder.endRecord()
        _ = builder.seal(id: 1, source: 0, shard: "0", firstSeq: 0, sealTime: 0)
        _ = builder.beginRecord(arrival: 5000)
        builder.endRecord()
        let second = builder.seal(id: 2, source: 0, shard: "0", firstSeq: 1, sealTime: 0)
        #expect(second.baseArrival == 5000)
        #expect(try decode(second).map(\.arrival) == [5000])
    }

    @Test func emptyBlock() throws {
        var builder = BlockBuilder(columns: 3)
        let block = builder.seal(id: 1, source: 0, shard: "0", firstSeq: 0, sealTime: 0)
        #expect(block.count == 0)
        #expect(block.rawBytes == 0)
        #expect(block.payload.isEmpty)
        #expect(try decode(block) == [])
        var raw: [UInt8] = [1, 2, 3]
        try LZ4.decompress([], rawBytes: 0, into: &raw)
        #expect(raw.isEmpty)
        raw.withUnsafeBufferPointer { buffer in
            var cursor = RecordCursor(buffer, baseArrival: 0)
            #expect(cursor.atEnd)
            #expect(throws: BlockError.corrupt("truncated record header")) { try cursor.nextArrival() }
        }
    }

    @Test func manyRecordsLargeBlock() throws {
        var rng = SplitMix(seed: 7)
        var records: [DecodedRecord] = []
        var arrival: Int64 = 1_000_000
        for i in 0..<5000 {
            arrival += Int64.random(in: -50...50, using: &rng)
            let text = String(repeating: "w\(i % 97) ", count: Int.random(in: 0...20, using: &rng))
            records.append(DecodedRecord(arrival: arrival, values: [.int(Int64(i)), .text(text), .real(Double(i) / 3)]))
        }
        let (_, decoded) = try roundTrip(records, columns: 3)
        #expect(decoded == records)
    }

    @Test func lz4RoundTripOfRandomBytes() throws {
        var rng = SplitMix(seed: 11)
        for size in [1, 2, 15, 16, 100, 65_536, 300_001] {
            let input = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let compressed = LZ4.compress(input)
            var output: [UInt8] = Array(repeating: 9, count: 3)
            try LZ4.decompress(compressed, rawBytes: input.count, into: &output)
            #expect(output == input, "size \(size)")
        }
        #expect(LZ4.compress([]) == [])
    }

    @Test func varintZigzag() {
        for v: Int64 in [0, 1, -1, 63, -64, 64, Int64.max, Int64.min, 1 << 40, -(1 << 40)] {
            #expect(Varint.unzigzag(Varint.zigzag(v)) == v)
        }
        #expect(Varint.zigzag(0) == 0)
        #expect(Varint.zigzag(-1) == 1)
        #expect(Varint.zigzag(1) == 2)
        for v: UInt64 in [0, 1, 127, 128, 300, 1 << 35, UInt64.max] {
            var bytes: [UInt8] = []
            Varint.append(v, to: &bytes)
            let read: UInt64? = bytes.withUnsafeBufferPointer { b in
                var p = b.baseAddress!
                let r = Varint.read(&p, b.baseAddress! + b.count)
                #expect(p == b.baseAddress! + b.count, "reads exactly its own bytes")
                return r
            }
            #expect(read == v)
        }
    }
}
