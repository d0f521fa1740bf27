import EddyBlocks
import EddyCore
import Glibc
import Testing

/// A decoded value that outlives the block buffer, for comparisons.
enum V: Equatable, CustomStringConvertible {
    case null
    case int(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// Reals compare by bit pattern, so NaN and -0.0 round trips are checked exactly.
    static func == (a: V, b: V) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.int(let x), .int(let y)): return x == y
        case (.real(let x), .real(let y)): return x.bitPattern == y.bitPattern
        case (.text(let x), .text(let y)): return x == y
        case (.blob(let x), .blob(let y)): return x == y
        default: return false
        }
    }

    var description: String {
        switch self {
        case .null: return "NULL"
        case .int(let v): return "\(v)"
        case .real(let v): return "\(v)r"
        case .text(let s): return "'\(s)'"
        case .blob(let b): return "x\(b)"
        }
    }

    init(_ value: BlockValue) {
        switch value {
        case .null: self = .null
        case .integer(let v): self = .int(v)
        case .real(let v): self = .real(v)
        case .text(let p, let n): self = .text(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))
        case .blob(let p, let n): self = .blob(Array(UnsafeBufferPointer(start: p, count: n)))
        }
    }
}

struct DecodedRecord: Equatable {
    var arrival: Int64
    var values: [V]
}

/// Reads `count` records of `columns` values from raw (decompressed) bytes.
func readRecords(_ raw: [UInt8], count: Int, columns: Int, baseArrival: Int64) throws(BlockError) -> ([DecodedRecord], atEnd: Bool) {
    let result = raw.withUnsafeBufferPointer { buffer in
        Result { () throws(BlockError) -> ([DecodedRecord], Bool) in
            var cursor = RecordCursor(buffer, baseArrival: baseArrival)
            var out: [DecodedRecord] = []
            for _ in 0..<count {
                let arrival = try cursor.nextArrival()
                var values: [V] = []
                for _ in 0..<columns { values.append(V(try cursor.nextValue())) }
                out.append(DecodedRecord(arrival: arrival, values: values))
            }
            return (out, cursor.atEnd)
        }
    }
    return try result.get()
}

/// Decompresses a block (or `payload` in its place) and reads every record.
func decode(_ block: Block, payload: [UInt8]? = nil) throws(BlockError) -> [DecodedRecord] {
    var raw: [UInt8] = []
    try LZ4.decompress(payload ?? block.payload, rawBytes: block.rawBytes, into: &raw)
    let (records, atEnd) = try readRecords(raw, count: block.count, columns: block.columns, baseArrival: block.baseArrival)
    guard atEnd else { throw BlockError.corrupt("bytes left after the last record") }
    return records
}

/// Appends one value to the builder.
func append(_ v: V, to builder: inout BlockBuilder) {
    switch v {
    case .null: builder.appendNull()
    case .int(let x): builder.appendInteger(x)
    case .real(let x): builder.appendReal(x)
    case .text(let s): builder.appendText(s)
    case .blob(let b): b.withUnsafeBytes { builder.appendBlob($0) }
    }
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

/// A private temp directory, removed when the test is done with it.
final class TempDir {
    let path: String
    init() throws {
        path = try Files.makeTempDirectory(prefix: "eddy-test")
    }
    deinit { Files.removeTree(path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// A flag one thread sets and another waits for (with a safety timeout, so a
/// broken implementation fails the test instead of hanging it).
final class Flag: Sendable {
    private let lock = ConditionLock<Bool?>(nil)
    func set(_ value: Bool = true) { lock.update { $0 = value } }
    var value: Bool? { lock.withLock { $0 } }
    func wait(timeoutMs: Int64 = 10_000) -> Bool? {
        lock.wait(until: { $0 != nil }, timeoutMs: timeoutMs, then: { $0 }) ?? nil
    }
}

/// Polls `condition` until it holds or `timeoutMs` passes. For waiting on
/// another thread to reach a state; not a speed check.
func eventually(timeoutMs: Int64 = 10_000, _ condition: () -> Bool) -> Bool {
    let deadline = MonotonicTime.now() + timeoutMs * 1_000_000
    while !condition() {
        if MonotonicTime.now() > deadline { return false }
        usleep(1000)
    }
    return true
}
