import EddyBlocks
import EddyIngest
import EddyFuzzSupport

/// The record parsers (lines, csv, tsv, jsonl) on any bytes, through
/// `RecordDecoder` as receivers use it. Input: a format byte, a chunk-size
/// byte, then the stream.
///
/// - byte 0: bits 0-1 the format, bit 2 `header = on`, bits 3-4 the number
///   of declared columns less one (lines has one);
/// - byte 1: the size of the reads the stream arrives in (0: all at once).
///
/// Checked: the records do not depend on how the stream was cut into reads;
/// every record has the schema's values; the block they make goes through the
/// write-ahead log encoding and LZ4 and walks back record by record.
@_cdecl("fuzz_records_main")
public func fuzzRecordsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzRecords(UnsafeBufferPointer(start: data, count: size)) }
}

func fuzzRecords(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    guard input.count >= 2 else { return 0 }
    let format = RecordFormat.allCases[Int(input[0] & 3)]
    let header = input[0] & 4 != 0 && (format == .csv || format == .tsv)
    let names = ["ts", "device", "value", "tags"]
    let columnCount = format == .lines ? 1 : 1 + Int((input[0] >> 3) & 3)
    let schema = SourceSchema(columns: names.prefix(columnCount).map { ColumnSpec(name: $0, type: "") },
                              format: format, header: header)
    let chunk = Int(input[1])
    let stream = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[2...])

    // In reads of `chunk` bytes, as a socket delivers them.
    var decoder = RecordDecoder(schema: schema)
    var builder = BlockBuilder(columns: schema.valueCount)
    var added = 0
    var offset = 0
    while offset < stream.count {
        let n = chunk == 0 ? stream.count - offset : min(chunk, stream.count - offset)
        added += decoder.feed(UnsafeRawBufferPointer(rebasing: stream[offset..<(offset + n)]), arrival: 1000,
                              shard: "0", errors: nil, into: &builder)
        offset += n
    }
    added += decoder.finish(arrival: 1000, shard: "0", errors: nil, into: &builder)

    // All at once, as a file is read.
    var whole = RecordDecoder(schema: schema)
    var reference = BlockBuilder(columns: schema.valueCount)
    let referenceAdded = whole.decodeAll(Array(stream), arrival: 1000, shard: "0", errors: nil, into: &reference)
    guard added == referenceAdded, builder.count == added, reference.count == referenceAdded,
          builder.buffer == reference.buffer else {
        fatalError("records depend on how the stream was cut: \(added) records in reads of \(chunk), \(referenceAdded) at once")
    }
    guard added > 0 else { return 0 }

    let block = builder.seal(id: 7, source: 0, shard: "0", firstSeq: 0, sealTime: 2000)
    let decoded: Block
    var raw: [UInt8] = []
    do {
        decoded = try WriteAheadLog.decode(WriteAheadLog.encode(block))
        try LZ4.decompress(decoded.payload, rawBytes: decoded.rawBytes, into: &raw)
    } catch {
        fatalError("a block made by the parsers does not decode: \(error)")
    }
    guard decoded == block, raw == reference.buffer else { fatalError("a block made by the parsers changed on the way") }
    raw.withUnsafeBufferPointer { bytes in
        var cursor = RecordCursor(bytes, baseArrival: decoded.baseArrival)
        do {
            for _ in 0..<decoded.count {
                guard try cursor.nextArrival() == 1000 else { fatalError("arrival changed") }
                for _ in 0..<decoded.columns { _ = try cursor.nextValue() }
            }
        } catch {
            fatalError("a block made by the parsers does not walk back: \(error)")
        }
        guard cursor.atEnd else { fatalError("bytes left after the block's \(decoded.count) records") }
    }
    return 0
}
