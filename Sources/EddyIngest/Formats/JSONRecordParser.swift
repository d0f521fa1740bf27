import Glibc
import EddyBlocks

/// Parses one JSON object per record and picks the declared columns out of its
/// top-level fields. The whole object is validated, so a truncated or broken
/// line is reported as malformed rather than half-loaded.
///
/// Values: strings become TEXT, integers INTEGER, other numbers REAL, `true`
/// and `false` 1 and 0, `null` and missing fields NULL, and nested objects or
/// arrays their JSON text (so `json_extract` works on them).
struct JSONRecordParser: Sendable {
    private enum Slot: Sendable {
        case missing
        case null
        case integer(Int64)
        case real(Double)
        /// Bytes of the record, used as they are.
        case span(Int, Int)
        /// Bytes of `decoded`, for strings that had escapes.
        case decoded(Int, Int)
    }

    private let columnNames: [[UInt8]]
    private var slots: [Slot]
    private var decoded: [UInt8] = []
    private static let maxDepth = 256

    init(columns: [String]) {
        columnNames = columns.map { Array($0.utf8) }
        slots = Array(repeating: .missing, count: columns.count)
    }

    mutating func parse(_ record: UnsafeRawBufferPointer, arrival: Int64,
                        into builder: inout BlockBuilder) -> ParseOutcome {
        guard let base = record.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return .malformed("empty record")
        }
        for i in slots.indices { slots[i] = .missing }
        decoded.removeAll(keepingCapacity: true)
        var r = Reader(p: base, count: record.count)
        do throws(JSONError) {
            try parseObject(&r)
            r.skipSpace()
            guard r.atEnd else { throw JSONError("unexpected text after the JSON object at byte \(r.i + 1)") }
        } catch {
            return .malformed(error.message)
        }
        _ = builder.beginRecord(arrival: arrival)
        for slot in slots {
            switch slot {
            case .missing, .null: builder.appendNull()
            case .integer(let v): builder.appendInteger(v)
            case .real(let v): builder.appendReal(v)
            case .span(let s, let n): builder.appendText(UnsafeRawBufferPointer(start: base + s, count: n))
            case .decoded(let s, let n):
                decoded.withUnsafeBytes { builder.appendText(UnsafeRawBufferPointer(rebasing: $0[s..<(s + n)])) }
            }
        }
        builder.appendText(record)
        builder.endRecord()
        return .added
    }

    private struct JSONError: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    private struct Reader {
        let p: UnsafePointer<UInt8>
        let count: Int
        var i = 0
        var atEnd: Bool { i >= count }
        var peek: UInt8 { i < count ? p[i] : 0 }

        mutating func skipSpace() {
            while i < count {
                let c = p[i]
                if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 } else { return }
            }
        }

        mutating func expect(_ c: UInt8, _ what: String) throws(JSONError) {
            skipSpace()
            guard i < count, p[i] == c else {
                throw JSONError(atEnd ? "unexpected end of record, expected \(what)" : "expected \(what) at byte \(i + 1)")
            }
            i += 1
        }
    }

    private mutating func parseObject(_ r: inout Reader) throws(JSONError) {
        r.skipSpace()
        guard r.peek == UInt8(ascii: "{") else { throw JSONError("a jsonl record must be a JSON object") }
        r.i += 1
        r.skipSpace()
        if r.peek == UInt8(ascii: "}") { r.i += 1; return }
        while true {
            r.skipSpace()
            guard r.peek == UInt8(ascii: "\"") else { throw JSONError("expected a field name at byte \(r.i + 1)") }
            let key = try parseString(&r)
            let column = match(key, &r)
            try r.expect(UInt8(ascii: ":"), "':'")
            r.skipSpace()
            let slot = try parseValue(&r, depth: 1, keep: column != nil)
            if let column { slots[column] = slot }
            r.skipSpace()
            if r.peek == UInt8(ascii: ",") { r.i += 1; continue }
            if r.peek == UInt8(ascii: "}") { r.i += 1; return }
            throw JSONError(r.atEnd ? "unexpected end of record inside an object" : "expected ',' or '}' at byte \(r.i + 1)")
        }
    }

    /// Which declared column a key names, comparing raw bytes (keys rarely have escapes).
    private func match(_ key: Slot, _ r: inout Reader) -> Int? {
        for (index, name) in columnNames.enumerated() {
            let equal: Bool
            switch key {
            case .span(let s, let n):
                equal = n == name.count && name.elementsEqual(UnsafeBufferPointer(start: r.p + s, count: n))
            case .decoded(let s, let n):
                equal = n == name.count && decoded[s..<(s + n)].elementsEqual(name)
            default:
                equal = false
            }
            if equal { return index }
        }
        return nil
    }

    private mutating func parseValue(_ r: inout Reader, depth: Int, keep: Bool) throws(JSONError) -> Slot {
        guard depth <= Self.maxDepth else { throw JSONError("JSON nested deeper than \(Self.maxDepth) levels") }
        r.skipSpace()
        guard !r.atEnd else { throw JSONError("unexpected end of record, expected a value") }
        let c = r.peek
        switch c {
        case UInt8(ascii: "\""):
            return try parseString(&r)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let start = r.i
            try skipContainer(&r, depth: depth)
            return .span(start, r.i - start)
        case UInt8(ascii: "t"):
            try literal(&r, "true")
            return .integer(1)
        case UInt8(ascii: "f"):
            try literal(&r, "false")
            return .integer(0)
        case UInt8(ascii: "n"):
            try literal(&r, "null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber(&r, keep: keep)
        default:
            throw JSONError("unexpected character '\(Character(Unicode.Scalar(c)))' at byte \(r.i + 1)")
        }
    }

    private func literal(_ r: inout Reader, _ word: StaticString) throws(JSONError) {
        let n = word.utf8CodeUnitCount
        guard r.count - r.i >= n, memcmp(r.p + r.i, UnsafeRawPointer(word.utf8Start), n) == 0 else {
            throw JSONError("bad literal at byte \(r.i + 1)")
        }
        r.i += n
    }

    private mutating func skipContainer(_ r: inout Reader, depth: Int) throws(JSONError) {
        let open = r.peek
        let close: UInt8 = open == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
        r.i += 1
        r.skipSpace()
        if r.peek == close { r.i += 1; return }
        while true {
            r.skipSpace()
            if open == UInt8(ascii: "{") {
                guard r.peek == UInt8(ascii: "\"") else { throw JSONError("expected a field name at byte \(r.i + 1)") }
                _ = try parseString(&r)
                try r.expect(UInt8(ascii: ":"), "':'")
            }
            _ = try parseValue(&r, depth: depth + 1, keep: false)
            r.skipSpace()
            if r.peek == UInt8(ascii: ",") { r.i += 1; continue }
            if r.peek == close { r.i += 1; return }
            throw JSONError(r.atEnd ? "unexpected end of record inside \(open == UInt8(ascii: "{") ? "an object" : "an array")"
                                    : "expected ',' at byte \(r.i + 1)")
        }
    }

    private mutating func parseNumber(_ r: inout Reader, keep: Bool) throws(JSONError) -> Slot {
        let start = r.i
        var isInteger = true
        if r.peek == UInt8(ascii: "-") { r.i += 1 }
        func digits(_ r: inout Reader) -> Int {
            let s = r.i
            while r.i < r.count, r.p[r.i] >= UInt8(ascii: "0"), r.p[r.i] <= UInt8(ascii: "9") { r.i += 1 }
            return r.i - s
        }
        let intDigits = digits(&r)
        guard intDigits > 0 else { throw JSONError("bad number at byte \(start + 1)") }
        if intDigits > 1 && r.p[r.i - intDigits] == UInt8(ascii: "0") { throw JSONError("bad number (leading zero) at byte \(start + 1)") }
        if r.peek == UInt8(ascii: ".") {
            isInteger = false
            r.i += 1
            guard digits(&r) > 0 else { throw JSONError("bad number at byte \(start + 1)") }
        }
        if r.peek == UInt8(ascii: "e") || r.peek == UInt8(ascii: "E") {
            isInteger = false
            r.i += 1
            if r.peek == UInt8(ascii: "+") || r.peek == UInt8(ascii: "-") { r.i += 1 }
            guard digits(&r) > 0 else { throw JSONError("bad number exponent at byte \(start + 1)") }
        }
        guard keep else { return .null }
        let text = UnsafeBufferPointer(start: r.p + start, count: r.i - start)
        if isInteger, let v = Self.parseInt64(text) { return .integer(v) }
        var buffer = [CChar](repeating: 0, count: text.count + 1)
        for (k, b) in text.enumerated() { buffer[k] = CChar(bitPattern: b) }
        return .real(strtod(buffer, nil))
    }

    private static func parseInt64(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        var negative = false
        var i = 0
        if text.first == UInt8(ascii: "-") { negative = true; i = 1 }
        var value: Int64 = 0
        while i < text.count {
            let d = Int64(text[i] &- UInt8(ascii: "0"))
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            value = s
            i += 1
        }
        return value
    }

    /// A string's contents: a span of the record when it has no escapes,
    /// otherwise decoded into `decoded`.
    private mutating func parseString(_ r: inout Reader) throws(JSONError) -> Slot {
        r.i += 1 // opening quote
        let start = r.i
        while r.i < r.count {
            let c = r.p[r.i]
            if c == UInt8(ascii: "\"") {
                r.i += 1
                return .span(start, r.i - 1 - start)
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw JSONError("control character inside a string at byte \(r.i + 1)") }
            r.i += 1
        }
        guard r.i < r.count else { throw JSONError("unterminated string") }
        // Escapes: copy what came before, then decode the rest.
        let out = decoded.count
        decoded.append(contentsOf: UnsafeBufferPointer(start: r.p + start, count: r.i - start))
        while r.i < r.count {
            let c = r.p[r.i]
            if c == UInt8(ascii: "\"") {
                r.i += 1
                return .decoded(out, decoded.count - out)
            }
            if c < 0x20 { throw JSONError("control character inside a string at byte \(r.i + 1)") }
            if c != UInt8(ascii: "\\") {
                decoded.append(c)
                r.i += 1
                continue
            }
            r.i += 1
            guard r.i < r.count else { break }
            let e = r.p[r.i]
            r.i += 1
            switch e {
            case UInt8(ascii: "\""): decoded.append(0x22)
            case UInt8(ascii: "\\"): decoded.append(0x5C)
            case UInt8(ascii: "/"): decoded.append(0x2F)
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(&r)
                if (0xD800..<0xDC00).contains(scalar) {
                    // A surrogate pair spells one scalar above U+FFFF.
                    guard r.count - r.i >= 6, r.p[r.i] == UInt8(ascii: "\\"), r.p[r.i + 1] == UInt8(ascii: "u") else {
                        throw JSONError("unpaired surrogate in \\u escape")
                    }
                    r.i += 2
                    let low = try hex4(&r)
                    guard (0xDC00..<0xE000).contains(low) else { throw JSONError("unpaired surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw JSONError("unpaired surrogate in \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw JSONError("bad \\u escape") }
                decoded.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                throw JSONError("bad escape '\\\(Character(Unicode.Scalar(e)))' in a string")
            }
        }
        throw JSONError("unterminated string")
    }

    private func hex4(_ r: inout Reader) throws(JSONError) -> UInt32 {
        guard r.count - r.i >= 4 else { throw JSONError("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = r.p[r.i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw JSONError("bad hex digit in \\u escape")
            }
            v = v << 4 | d
            r.i += 1
        }
        return v
    }
}
