import EddyCore

/// A token of a job file. eddy only needs SQL's lexical structure (words,
/// strings, quoted names, punctuation) to find statement boundaries and parse
/// its own statements; SQLite parses everything else itself.
public struct Token: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A bare word: keyword or name.
        case word
        /// `"name"`, `` `name` `` or `[name]`.
        case quotedName
        /// `'text'`.
        case string
        case number
        /// `x'0A'`.
        case blob
        /// `?`, `?1`, `:name`, `@name`, `$name`.
        case variable
        case punctuation
    }

    public var kind: Kind
    /// Byte range in the file.
    public var start: Int
    public var end: Int
    /// The token's value: a word as written, a string or quoted name without
    /// its quotes, punctuation as is.
    public var value: String

    /// Case-insensitive keyword test for bare words.
    public func isKeyword(_ k: String) -> Bool {
        kind == .word && value.count == k.count && value.uppercased() == k
    }

    public func isPunct(_ p: String) -> Bool { kind == .punctuation && value == p }

    /// A word or quoted name: something that can be a table or column name.
    public var isName: Bool { kind == .word || kind == .quotedName }
}

/// Byte offsets to `file:line:col`.
public struct LineMap: Sendable {
    public let file: String
    private let bytes: [UInt8]
    private let lineStarts: [Int]
    /// UTF-8 continuation bytes before each `chunk`-byte boundary, so a
    /// column (in characters) costs at most one chunk of scanning, even on a
    /// line megabytes long.
    private let continuationsBefore: [Int]
    private static let chunk = 256

    public init(file: String, text: String) {
        self.file = file
        self.bytes = Array(text.utf8)
        var starts = [0]
        var counts = [0]
        var continuations = 0
        for (i, b) in bytes.enumerated() {
            if i > 0 && i % Self.chunk == 0 { counts.append(continuations) }
            if b == UInt8(ascii: "\n") { starts.append(i + 1) }
            if b & 0xC0 == 0x80 { continuations += 1 }
        }
        lineStarts = starts
        continuationsBefore = counts
    }

    /// Continuation bytes in `bytes[0..<offset]`.
    private func continuations(before offset: Int) -> Int {
        let k = min(offset / Self.chunk, continuationsBefore.count - 1)
        var n = continuationsBefore[k]
        var i = k * Self.chunk
        while i < offset {
            if bytes[i] & 0xC0 == 0x80 { n += 1 }
            i += 1
        }
        return n
    }

    public func location(_ offset: Int) -> SourceLocation {
        let offset = max(0, min(offset, bytes.count))
        var lo = 0
        var hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        // Columns count characters, not bytes: continuation bytes are skipped.
        let start = lineStarts[lo]
        var column = 1 + (offset - start) - (continuations(before: offset) - continuations(before: start))
        if offset < bytes.count && bytes[offset] & 0xC0 == 0x80 { column -= 1 }
        return SourceLocation(file: file, line: lo + 1, column: max(1, column))
    }
}

/// Splits a job file into tokens, skipping spaces and comments.
public struct Lexer {
    private let bytes: [UInt8]
    private let map: LineMap

    public init(text: String, map: LineMap) {
        self.bytes = Array(text.utf8)
        self.map = map
    }

    public func tokenize() throws(JobError) -> [Token] {
        var tokens: [Token] = []
        var i = 0
        let n = bytes.count
        func text(_ s: Int, _ e: Int) -> String { String(decoding: bytes[s..<e], as: UTF8.self) }
        func isWordStart(_ c: UInt8) -> Bool {
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == 0x5F || c >= 0x80
        }
        func isWordChar(_ c: UInt8) -> Bool { isWordStart(c) || (c >= 0x30 && c <= 0x39) || c == 0x24 }
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

        while i < n {
            let c = bytes[i]
            // Spaces
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C {
                i += 1
                continue
            }
            // -- comment
            if c == UInt8(ascii: "-") && i + 1 < n && bytes[i + 1] == UInt8(ascii: "-") {
                while i < n && bytes[i] != 0x0A { i += 1 }
                continue
            }
            // /* comment */
            if c == UInt8(ascii: "/") && i + 1 < n && bytes[i + 1] == UInt8(ascii: "*") {
                let start = i
                i += 2
                while i + 1 < n && !(bytes[i] == UInt8(ascii: "*") && bytes[i + 1] == UInt8(ascii: "/")) { i += 1 }
                guard i + 1 < n else { throw JobError(map.location(start), "unterminated /* comment") }
                i += 2
                continue
            }
            let start = i
            // 'string'
            if c == UInt8(ascii: "'") {
                var value: [UInt8] = []
                i += 1
                while true {
                    guard i < n else { throw JobError(map.location(start), "unterminated string literal") }
                    if bytes[i] == UInt8(ascii: "'") {
                        if i + 1 < n && bytes[i + 1] == UInt8(ascii: "'") {
                            value.append(UInt8(ascii: "'"))
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    value.append(bytes[i])
                    i += 1
                }
                tokens.append(Token(kind: .string, start: start, end: i, value: String(decoding: value, as: UTF8.self)))
                continue
            }
            // "name", `name`, [name]
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "`") || c == UInt8(ascii: "[") {
                let close = c == UInt8(ascii: "[") ? UInt8(ascii: "]") : c
                var value: [UInt8] = []
                i += 1
                while true {
                    guard i < n else { throw JobError(map.location(start), "unterminated quoted name") }
                    if bytes[i] == close {
                        if close != UInt8(ascii: "]") && i + 1 < n && bytes[i + 1] == close {
                            value.append(close)
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    value.append(bytes[i])
                    i += 1
                }
                tokens.append(Token(kind: .quotedName, start: start, end: i, value: String(decoding: value, as: UTF8.self)))
                continue
            }
            // x'blob'
            if (c == UInt8(ascii: "x") || c == UInt8(ascii: "X")) && i + 1 < n && bytes[i + 1] == UInt8(ascii: "'") {
                i += 2
                while i < n && bytes[i] != UInt8(ascii: "'") { i += 1 }
                guard i < n else { throw JobError(map.location(start), "unterminated blob literal") }
                i += 1
                tokens.append(Token(kind: .blob, start: start, end: i, value: text(start, i)))
                continue
            }
            if isWordStart(c) {
                while i < n && isWordChar(bytes[i]) { i += 1 }
                tokens.append(Token(kind: .word, start: start, end: i, value: text(start, i)))
                continue
            }
            if isDigit(c) || (c == UInt8(ascii: ".") && i + 1 < n && isDigit(bytes[i + 1])) {
                if c == UInt8(ascii: "0") && i + 1 < n && (bytes[i + 1] == UInt8(ascii: "x") || bytes[i + 1] == UInt8(ascii: "X")) {
                    i += 2
                    while i < n && (isDigit(bytes[i]) || (bytes[i] | 0x20 >= UInt8(ascii: "a") && bytes[i] | 0x20 <= UInt8(ascii: "f"))) { i += 1 }
                } else {
                    while i < n && (isDigit(bytes[i]) || bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "_")) { i += 1 }
                    if i < n && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
                        var j = i + 1
                        if j < n && (bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-")) { j += 1 }
                        if j < n && isDigit(bytes[j]) {
                            i = j
                            while i < n && isDigit(bytes[i]) { i += 1 }
                        }
                    }
                }
                tokens.append(Token(kind: .number, start: start, end: i, value: text(start, i)))
                continue
            }
            if c == UInt8(ascii: "?") || c == UInt8(ascii: ":") || c == UInt8(ascii: "@") || c == UInt8(ascii: "$") {
                i += 1
                while i < n && isWordChar(bytes[i]) { i += 1 }
                tokens.append(Token(kind: .variable, start: start, end: i, value: text(start, i)))
                continue
            }
            // Operators: longest match among SQLite's two-character ones.
            let twoChar = ["||", "<=", ">=", "==", "!=", "<>", "<<", ">>", "->"]
            if i + 1 < n {
                let pair = text(i, i + 2)
                if twoChar.contains(pair) {
                    i += (pair == "->" && i + 2 < n && bytes[i + 2] == UInt8(ascii: ">")) ? 3 : 2
                    tokens.append(Token(kind: .punctuation, start: start, end: i, value: text(start, i)))
                    continue
                }
            }
            i += 1
            tokens.append(Token(kind: .punctuation, start: start, end: i, value: text(start, i)))
        }
        return tokens
    }
}
