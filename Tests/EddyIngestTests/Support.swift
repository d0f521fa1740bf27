import EddyBlocks
import EddyCore
@testable import EddyIngest
import Glibc
import Testing

/// A decoded value that outlives the block buffer, for comparisons.
enum V: Equatable, CustomStringConvertible {
    case null
    case int(Int64)
    case real(Double)
    case text(String)

    var description: String {
        switch self {
        case .null: return "NULL"
        case .int(let v): return "\(v)"
        case .real(let v): return "\(v)r"
        case .text(let s): return "'\(s)'"
        }
    }
}

/// Seals what the builder holds and reads every record back.
func sealAndRead(_ builder: inout BlockBuilder, firstSeq: Int64 = 0) throws -> [[V]] {
    try readBlock(builder.seal(id: 1, source: 0, shard: "t", firstSeq: firstSeq, sealTime: 0)).map(\.values)
}

struct Row: Equatable {
    var arrival: Int64
    var values: [V]
}

/// Decompresses a block and reads every record with a RecordCursor.
func readBlock(_ block: Block) throws -> [Row] {
    var raw: [UInt8] = []
    try LZ4.decompress(block.payload, rawBytes: block.rawBytes, into: &raw)
    return try raw.withUnsafeBufferPointer { buffer in
        var cursor = RecordCursor(buffer, baseArrival: block.baseArrival)
        var rows: [Row] = []
        for _ in 0..<block.count {
            let arrival = try cursor.nextArrival()
            var values: [V] = []
            for _ in 0..<block.columns {
                switch try cursor.nextValue() {
                case .null: values.append(.null)
                case .integer(let v): values.append(.int(v))
                case .real(let v): values.append(.real(v))
                case .text(let p, let n): values.append(.text(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)))
                case .blob: Issue.record("parsers never write blobs")
                }
            }
            rows.append(Row(arrival: arrival, values: values))
        }
        #expect(cursor.atEnd, "no bytes after the last record")
        return rows
    }
}

func columns(_ names: String...) -> [ColumnSpec] { names.map { ColumnSpec(name: $0, type: "") } }

/// Parses one framed record (given as a string) and returns the outcome and
/// the values, if it was added.
func parseOne(_ record: String, schema: SourceSchema) throws -> (ParseOutcome, [V]?) {
    var parser = RecordParser(schema: schema)
    var builder = BlockBuilder(columns: schema.valueCount)
    var bytes = Array(record.utf8)
    let outcome = bytes.withUnsafeMutableBytes { parser.parse(UnsafeRawBufferPointer($0), arrival: 5, into: &builder) }
    bytes.removeAll()
    if outcome != .added {
        #expect(builder.count == 0 && builder.byteCount == 0, "a record not added leaves the builder untouched")
        return (outcome, nil)
    }
    let rows = try sealAndRead(&builder)
    #expect(rows.count == 1)
    return (outcome, rows.first)
}

/// A private temp directory, removed when the test is done with it.
final class TempDir {
    let path: String
    init() throws { path = try Files.makeTempDirectory(prefix: "eddy-test") }
    deinit { Files.removeTree(path) }
    func file(_ name: String) -> String { path + "/" + name }
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let p = file(name)
        try Files.write(p, Array(text.utf8))
        return p
    }
}

/// Sets a file's modification time, in epoch milliseconds.
func setMTime(_ path: String, ms: Int64) {
    var times = [timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000),
                 timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000)]
    let rc = utimensat(AT_FDCWD, path, &times, 0)
    #expect(rc == 0, "utimensat \(path)")
}

/// A small deterministic PRNG (SplitMix64), so "random" inputs repeat.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
