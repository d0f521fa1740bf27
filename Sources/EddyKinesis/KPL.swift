import Crypto

/// Records written by the Kinesis Producer Library may be aggregated: several
/// user records in one Kinesis record, as
///
///     F3 89 9A C2 | protobuf AggregatedRecord | MD5 of the protobuf (16 bytes)
///
/// (awslabs/amazon-kinesis-producer, aggregation-format.md). A user record
/// takes the Kinesis record's sequence number and, as its sub-sequence
/// number, its position in the aggregate. Anything that does not check out
/// (magic, length, MD5, protobuf) is a plain record, as the KCL treats it.
public enum KPL {
    static let magic: [UInt8] = [0xF3, 0x89, 0x9A, 0xC2]

    public struct UserRecord: Sendable, Equatable {
        public var partitionKey: String
        public var data: [UInt8]
        public var subSequence: Int
    }

    /// The user records in one Kinesis record (one, unless it is aggregated).
    public static func deaggregate(_ data: [UInt8], partitionKey: String) -> [UserRecord] {
        guard data.count > magic.count + 16, data.starts(with: magic) else {
            return [UserRecord(partitionKey: partitionKey, data: data, subSequence: 0)]
        }
        let body = Array(data[magic.count..<(data.count - 16)])
        let digest = Array(Insecure.MD5.hash(data: body))
        guard digest == Array(data[(data.count - 16)...]), let records = parseAggregate(body) else {
            return [UserRecord(partitionKey: partitionKey, data: data, subSequence: 0)]
        }
        return records
    }

    /// An aggregated record of `records` (partition key, data).
    public static func aggregate(_ records: [(partitionKey: String, data: [UInt8])]) -> [UInt8] {
        var keys: [String] = []
        var body: [UInt8] = []
        for r in records where !keys.contains(r.partitionKey) { keys.append(r.partitionKey) }
        for k in keys { field(1, bytes: Array(k.utf8), into: &body) }
        for r in records {
            var rec: [UInt8] = []
            tag(1, wire: 0, into: &rec)
            varint(UInt64(keys.firstIndex(of: r.partitionKey) ?? 0), into: &rec)
            field(3, bytes: r.data, into: &rec)
            field(3, bytes: rec, into: &body)
        }
        return magic + body + Array(Insecure.MD5.hash(data: body))
    }

    // MARK: protobuf, the few wire types needed

    private struct Reader {
        let b: [UInt8]
        var i = 0
        var atEnd: Bool { i >= b.count }

        mutating func varint() -> UInt64? {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while i < b.count {
                let c = b[i]
                i += 1
                v |= UInt64(c & 0x7F) << shift
                if c < 0x80 { return v }
                shift += 7
                if shift > 63 { return nil }
            }
            return nil
        }

        mutating func bytes() -> [UInt8]? {
            guard let n = varint(), n <= UInt64(b.count - i) else { return nil }
            let out = Array(b[i..<(i + Int(n))])
            i += Int(n)
            return out
        }

        /// Skips a field of an unknown number.
        mutating func skip(wire: UInt64) -> Bool {
            switch wire {
            case 0: return varint() != nil
            case 1: guard b.count - i >= 8 else { return false }; i += 8; return true
            case 2: return bytes() != nil
            case 5: guard b.count - i >= 4 else { return false }; i += 4; return true
            default: return false
            }
        }
    }

    static func parseAggregate(_ body: [UInt8]) -> [UserRecord]? {
        var r = Reader(b: body)
        var keys: [String] = []
        var raw: [[UInt8]] = []
        while !r.atEnd {
            guard let key = r.varint() else { return nil }
            let number = key >> 3, wire = key & 7
            switch (number, wire) {
            case (1, 2):
                guard let k = r.bytes() else { return nil }
                keys.append(String(decoding: k, as: UTF8.self))
            case (3, 2):
                guard let rec = r.bytes() else { return nil }
                raw.append(rec)
            default:
                guard r.skip(wire: wire) else { return nil }
            }
        }
        var out: [UserRecord] = []
        for (index, rec) in raw.enumerated() {
            var rr = Reader(b: rec)
            var keyIndex: UInt64?
            var data: [UInt8]?
            while !rr.atEnd {
                guard let key = rr.varint() else { return nil }
                let number = key >> 3, wire = key & 7
                switch (number, wire) {
                case (1, 0): keyIndex = rr.varint()
                case (3, 2): data = rr.bytes()
                default: guard rr.skip(wire: wire) else { return nil }
                }
            }
            guard let k = keyIndex, k < UInt64(keys.count), let d = data else { return nil }
            out.append(UserRecord(partitionKey: keys[Int(k)], data: d, subSequence: index))
        }
        return out
    }

    private static func varint(_ v: UInt64, into out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func tag(_ number: UInt64, wire: UInt64, into out: inout [UInt8]) { varint(number << 3 | wire, into: &out) }

    private static func field(_ number: UInt64, bytes: [UInt8], into out: inout [UInt8]) {
        tag(number, wire: 2, into: &out)
        varint(UInt64(bytes.count), into: &out)
        out += bytes
    }
}

/// Kinesis sequence numbers are decimal strings of up to 129 digits with no
/// leading zeros: compare by length, then by text.
public enum SequenceNumber {
    public static func less(_ a: String, _ b: String) -> Bool {
        a.count != b.count ? a.count < b.count : a < b
    }

    /// 1 to 129 ASCII digits: what Kinesis hands out.
    public static func isValid(_ s: String) -> Bool {
        let utf8 = s.utf8
        return !utf8.isEmpty && utf8.count <= 129 && utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}

/// Where a shard is read up to: a Kinesis sequence number and the sub-sequence
/// number of the last user record taken from it, the end of a closed shard,
/// or, for a shard that started from LATEST or a timestamp and has taken no
/// record yet, the time it started reading from. Kept in blocks (so the log
/// knows it) and in checkpoints.
public enum ShardPosition: Sendable, Equatable, CustomStringConvertible {
    case record(sequence: String, subSequence: Int)
    case end
    /// Nothing taken yet; reading starts at records that arrived at or after
    /// this time (milliseconds since the epoch). Without it, a restart would
    /// apply LATEST again and skip what was put while eddy was down.
    case since(ms: Int64)

    public init?(_ text: String) {
        if text == "END" { self = .end; return }
        if text.hasPrefix("SINCE:") {
            guard let ms = Int64(text.dropFirst(6)), ms >= 0 else { return nil }
            self = .since(ms: ms)
            return
        }
        let parts = text.split(separator: ":")
        guard parts.count == 2, SequenceNumber.isValid(String(parts[0])), let sub = Int(parts[1]) else { return nil }
        self = .record(sequence: String(parts[0]), subSequence: sub)
    }

    public var description: String {
        switch self {
        case .end: return "END"
        case .since(let ms): return "SINCE:\(ms)"
        case .record(let s, let sub): return "\(s):\(sub)"
        }
    }
}
