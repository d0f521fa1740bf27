/// Accumulates parsed records for one shard until the block is sealed.
/// Parsers write values straight into the encoded buffer: no per-record
/// allocation on the receiver's hot path.
public struct BlockBuilder: Sendable {
    public let columns: Int
    public private(set) var buffer: [UInt8] = []
    public private(set) var count: Int = 0
    public private(set) var baseArrival: Int64 = 0
    private var valuesInRecord = 0

    public init(columns: Int, reserve: Int = 0) {
        self.columns = columns
        if reserve > 0 { buffer.reserveCapacity(reserve) }
    }

    public var isEmpty: Bool { count == 0 }
    public var byteCount: Int { buffer.count }

    /// Where the current record starts; `discardRecord` goes back to it.
    public typealias Mark = Int

    public mutating func beginRecord(arrival: Int64) -> Mark {
        if count == 0 && buffer.isEmpty { baseArrival = arrival }
        let mark = buffer.count
        Varint.append(Varint.zigzag(arrival &- baseArrival), to: &buffer)
        valuesInRecord = 0
        return mark
    }

    /// Completes the record, padding missing trailing values with NULL.
    public mutating func endRecord() {
        while valuesInRecord < columns { appendNull() }
        count += 1
    }

    /// Drops a record that turned out malformed halfway through parsing.
    public mutating func discardRecord(_ mark: Mark) {
        buffer.removeSubrange(mark...)
        valuesInRecord = 0
    }

    /// Values written so far in the current record.
    public var valuesWritten: Int { valuesInRecord }

    public mutating func appendNull() {
        guard valuesInRecord < columns else { return }
        buffer.append(ValueTag.null.rawValue)
        valuesInRecord += 1
    }

    public mutating func appendInteger(_ v: Int64) {
        guard valuesInRecord < columns else { return }
        buffer.append(ValueTag.integer.rawValue)
        Varint.append(Varint.zigzag(v), to: &buffer)
        valuesInRecord += 1
    }

    public mutating func appendReal(_ v: Double) {
        guard valuesInRecord < columns else { return }
        buffer.append(ValueTag.real.rawValue)
        var bits = v.bitPattern.littleEndian
        withUnsafeBytes(of: &bits) { buffer.append(contentsOf: $0) }
        valuesInRecord += 1
    }

    public mutating func appendText(_ bytes: UnsafeRawBufferPointer) {
        guard valuesInRecord < columns else { return }
        Varint.append(UInt64(bytes.count) << 3 | UInt64(ValueTag.text.rawValue), to: &buffer)
        buffer.append(contentsOf: bytes)
        valuesInRecord += 1
    }

    public mutating func appendText(_ bytes: UnsafeBufferPointer<UInt8>) {
        appendText(UnsafeRawBufferPointer(bytes))
    }

    public mutating func appendText(_ text: String) {
        var text = text
        text.withUTF8 { appendText(UnsafeRawBufferPointer($0)) }
    }

    public mutating func appendBlob(_ bytes: UnsafeRawBufferPointer) {
        guard valuesInRecord < columns else { return }
        Varint.append(UInt64(bytes.count) << 3 | UInt64(ValueTag.blob.rawValue), to: &buffer)
        buffer.append(contentsOf: bytes)
        valuesInRecord += 1
    }

    /// Compresses what was built into a block and starts over empty.
    public mutating func seal(id: UInt64, source: Int, shard: String, firstSeq: Int64, sealTime: Int64,
                              position: String? = nil) -> Block {
        let block = Block(id: id, source: source, shard: shard, firstSeq: firstSeq, count: count,
                          columns: columns, sealTime: sealTime, baseArrival: baseArrival,
                          rawBytes: buffer.count, payload: LZ4.compress(buffer), position: position)
        buffer.removeAll(keepingCapacity: true)
        count = 0
        valuesInRecord = 0
        return block
    }
}

/// One decoded value, pointing into the decoded block buffer. Text and blob
/// pointers stay valid while the buffer they came from is alive and unchanged.
public enum BlockValue {
    case null
    case integer(Int64)
    case real(Double)
    case text(UnsafePointer<UInt8>, Int)
    case blob(UnsafePointer<UInt8>, Int)
}

/// Walks the records of a decompressed block. Every read is bounds-checked,
/// so a corrupt block yields an error and never a crash.
public struct RecordCursor {
    @usableFromInline var p: UnsafePointer<UInt8>
    @usableFromInline let end: UnsafePointer<UInt8>
    @usableFromInline let baseArrival: Int64

    @inlinable
    public init(_ buffer: UnsafeBufferPointer<UInt8>, baseArrival: Int64) {
        // An empty buffer has no base address; point both ends at a static byte.
        let start = buffer.baseAddress ?? UnsafePointer(RecordCursor.emptyByte)
        p = start
        end = start + buffer.count
        self.baseArrival = baseArrival
    }

    /// A valid address for empty buffers, which have none.
    public nonisolated(unsafe) static let emptyByte: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    @inlinable public var atEnd: Bool { p >= end }

    @inlinable
    public mutating func nextArrival() throws(BlockError) -> Int64 {
        guard let v = Varint.read(&p, end) else { throw .corrupt("truncated record header") }
        return baseArrival &+ Varint.unzigzag(v)
    }

    @inlinable
    public mutating func nextValue() throws(BlockError) -> BlockValue {
        guard let header = Varint.read(&p, end) else { throw .corrupt("truncated value header") }
        let tag = UInt8(header & 7)
        let length = header >> 3
        switch tag {
        case ValueTag.null.rawValue:
            return .null
        case ValueTag.integer.rawValue:
            guard let v = Varint.read(&p, end) else { throw .corrupt("truncated integer") }
            return .integer(Varint.unzigzag(v))
        case ValueTag.real.rawValue:
            guard end - p >= 8 else { throw .corrupt("truncated real") }
            var bits: UInt64 = 0
            withUnsafeMutableBytes(of: &bits) { $0.copyMemory(from: UnsafeRawBufferPointer(start: p, count: 8)) }
            p += 8
            return .real(Double(bitPattern: UInt64(littleEndian: bits)))
        case ValueTag.text.rawValue, ValueTag.blob.rawValue:
            guard length <= UInt64(end - p) else { throw .corrupt("value runs past the block end") }
            let start = p
            p += Int(length)
            return tag == ValueTag.text.rawValue ? .text(start, Int(length)) : .blob(start, Int(length))
        default:
            throw .corrupt("unknown value tag \(tag)")
        }
    }
}
