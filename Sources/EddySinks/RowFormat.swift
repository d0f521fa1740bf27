import CSQLite
import EddySQL

/// How rows printed to stdout look.
public enum OutputFormat: String, Sendable, CaseIterable {
    /// Aligned columns under a `--- batch <time> ---` header per batch, like Spark's pprint.
    case table
    /// RFC 4180; NULL is an empty field. No header line, like `sqlite3 -csv`.
    case csv
    /// Tab-separated; tabs, newlines and backslashes in text are escaped as `\t`, `\n`, `\\`.
    case tsv
    /// One JSON object per row, keyed by column name.
    case jsonl
}

/// Writes one row of a statement in csv, tsv or jsonl.
enum RowEncoder {
    static func csv(_ s: Statement, columns: Int, to out: OutputWriter) throws(OutputClosed) {
        for i in 0..<columns {
            if i > 0 { out.write(byte: UInt8(ascii: ",")) }
            let t = s.type(i)
            if t == SQLITE_NULL { continue }
            let bytes = s.textBytes(i)
            var needsQuotes = false
            if t == SQLITE_TEXT || t == SQLITE_BLOB {
                for b in bytes where b == UInt8(ascii: ",") || b == UInt8(ascii: "\"") || b == 0x0A || b == 0x0D {
                    needsQuotes = true
                    break
                }
            }
            if needsQuotes {
                out.write(byte: UInt8(ascii: "\""))
                for b in bytes {
                    if b == UInt8(ascii: "\"") { out.write(byte: b) }
                    out.write(byte: b)
                }
                out.write(byte: UInt8(ascii: "\""))
            } else {
                try out.write(bytes)
            }
        }
        try out.endLine()
    }

    static func tsv(_ s: Statement, columns: Int, to out: OutputWriter) throws(OutputClosed) {
        for i in 0..<columns {
            if i > 0 { out.write(byte: 0x09) }
            if s.type(i) == SQLITE_NULL { continue }
            for b in s.textBytes(i) {
                switch b {
                case 0x09: out.write(byte: 0x5C); out.write(byte: UInt8(ascii: "t"))
                case 0x0A: out.write(byte: 0x5C); out.write(byte: UInt8(ascii: "n"))
                case 0x0D: out.write(byte: 0x5C); out.write(byte: UInt8(ascii: "r"))
                case 0x5C: out.write(byte: 0x5C); out.write(byte: 0x5C)
                default: out.write(byte: b)
                }
            }
        }
        try out.endLine()
    }

    static func jsonl(_ s: Statement, names: [[UInt8]], to out: OutputWriter) throws(OutputClosed) {
        out.write(byte: UInt8(ascii: "{"))
        for i in 0..<names.count {
            if i > 0 { out.write(byte: UInt8(ascii: ",")) }
            names[i].withUnsafeBufferPointer { JSONText.string($0, to: out) }
            out.write(byte: UInt8(ascii: ":"))
            switch s.type(i) {
            case SQLITE_NULL:
                try out.write("null")
            case SQLITE_INTEGER:
                try out.write(s.textBytes(i))
            case SQLITE_FLOAT:
                let v = s.double(i)
                if v.isFinite { try out.write(s.textBytes(i)) } else { try out.write("null") }
            case SQLITE_BLOB:
                let b = s.blobBytes(i)
                try out.write("\"" + b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "\"")
            default:
                if s.isJSON(i) {
                    try out.write(s.textBytes(i))
                } else {
                    JSONText.string(s.textBytes(i), to: out)
                }
            }
        }
        out.write(byte: UInt8(ascii: "}"))
        try out.endLine()
    }
}

/// JSON string encoding that always yields valid JSON: control characters
/// are escaped and invalid UTF-8 becomes U+FFFD.
enum JSONText {
    static func string(_ bytes: UnsafeBufferPointer<UInt8>, to out: OutputWriter) {
        out.write(byte: UInt8(ascii: "\""))
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                switch b {
                case UInt8(ascii: "\""): out.write(byte: 0x5C); out.write(byte: b)
                case 0x5C: out.write(byte: 0x5C); out.write(byte: 0x5C)
                case 0x0A: out.write(byte: 0x5C); out.write(byte: UInt8(ascii: "n"))
                case 0x0D: out.write(byte: 0x5C); out.write(byte: UInt8(ascii: "r"))
                case 0x09: out.write(byte: 0x5C); out.write(byte: UInt8(ascii: "t"))
                case 0..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    for c in Array("\\u00".utf8) { out.write(byte: c) }
                    out.write(byte: hex[Int(b >> 4)])
                    out.write(byte: hex[Int(b & 15)])
                default: out.write(byte: b)
                }
                i += 1
                continue
            }
            let length = utf8Length(bytes, at: i)
            if length == 0 {
                for c in [0xEF, 0xBF, 0xBD] as [UInt8] { out.write(byte: c) }
                i += 1
            } else {
                for k in 0..<length { out.write(byte: bytes[i + k]) }
                i += length
            }
        }
        out.write(byte: UInt8(ascii: "\""))
    }

    /// Length of the valid UTF-8 sequence at `i`, or 0 if it is not valid.
    static func utf8Length(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let c = b[i]
        let n: Int
        var minimum: UInt32
        if c & 0xE0 == 0xC0 { n = 2; minimum = 0x80 }
        else if c & 0xF0 == 0xE0 { n = 3; minimum = 0x800 }
        else if c & 0xF8 == 0xF0 { n = 4; minimum = 0x10000 }
        else { return 0 }
        guard i + n <= b.count else { return 0 }
        var scalar = UInt32(c) & (0xFF >> (n + 1))
        for k in 1..<n {
            let cc = b[i + k]
            guard cc & 0xC0 == 0x80 else { return 0 }
            scalar = scalar << 6 | UInt32(cc & 0x3F)
        }
        if scalar < minimum || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) { return 0 }
        minimum = 0
        return n
    }
}
