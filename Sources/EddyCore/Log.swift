import Atomics
import Glibc
import Logging

/// eddy's logs: one line per event on stderr, so stdout carries only data.
/// `--quiet` lowers everything but errors. Lines are plain text for people and
/// journalctl unless `--log-format json` asks for one JSON object per line,
/// for log shippers; every line eddy writes to stderr goes through `write`,
/// so the two formats carry the same events.
public enum EddyLog {
    private static let json = ManagedAtomic<Bool>(false)

    /// Set once, at start, before any thread logs.
    public static var format: LogFormat {
        get { json.load(ordering: .relaxed) ? .json : .plain }
        set { json.store(newValue == .json, ordering: .relaxed) }
    }

    public static func bootstrap(quiet: Bool, format: LogFormat = .plain) {
        self.format = format
        let level: Logger.Level = quiet ? .error : .info
        LoggingSystem.bootstrap { label in
            var handler = StderrLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }

    public static func logger(_ label: String) -> Logger {
        Logger(label: label)
    }

    /// Writes one event as one line with a single write(2), so lines from
    /// receiver threads never interleave mid-line. `fields` follow the message
    /// as `key=value` in plain lines; in JSON they are members, numbers as numbers.
    public static func write(_ level: LogLevel, _ message: String, fields: [LogField] = [], plain: PlainShape = .labelled) {
        StandardError.write(format == .json
            ? jsonLine(level, message, fields: fields)
            : plainLine(level, message, fields: fields, shape: plain))
    }

    static func plainLine(_ level: LogLevel, _ message: String, fields: [LogField], shape: PlainShape) -> String {
        var line: String
        switch shape {
        case .bare: line = ""
        case .unlabelled: line = "eddy: "
        case .labelled: line = "eddy: " + (level == .info ? "" : "\(level.rawValue): ")
        }
        let parts = (message.isEmpty ? [] : [message]) + fields.map { "\($0.key)=\($0.value)" }
        line += parts.joined(separator: " ")
        return line + "\n"
    }

    static func jsonLine(_ level: LogLevel, _ message: String, fields: [LogField]) -> String {
        var line = "{\"time\":\"\(utcTimestamp())\",\"level\":\"\(level.rawValue)\""
        if !message.isEmpty { line += ",\"message\":" + JSONText.string(message) }
        for field in fields {
            line += "," + JSONText.string(field.key) + ":"
            line += JSONText.isNumber(field.value) ? field.value : JSONText.string(field.value)
        }
        return line + "}\n"
    }

    /// RFC 3339 in UTC with milliseconds, e.g. 2026-12-03T22:46:32.123Z.
    static func utcTimestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }
}

/// `--log-format`: plain lines (the default) or JSON lines.
public enum LogFormat: String, Sendable, CaseIterable {
    case plain, json
}

public enum LogLevel: String, Sendable {
    case info, warning, error
}

/// How a plain line starts: `eddy: warning: ` (labelled), `eddy: `
/// (unlabelled: usage errors and stop messages, which read as sentences), or
/// nothing (bare: job errors, which start with their `file:line:col`).
public enum PlainShape: Sendable {
    case labelled, unlabelled, bare
}

public struct LogField: Sendable {
    public let key: String
    public let value: String
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// Writes every swift-log event through `EddyLog.write`.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level: LogLevel
        switch event.level {
        case .trace, .debug, .info, .notice: level = .info
        case .warning: level = .warning
        case .error, .critical: level = .error
        }
        let merged = event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        let fields = merged.sorted(by: { $0.key < $1.key }).map { LogField($0.key, "\($0.value)") }
        EddyLog.write(level, "\(event.message)", fields: fields)
    }
}

/// JSON text without Foundation: log lines, the error log, the monitor's API.
public enum JSONText {
    /// A JSON string: quotes, backslashes and control characters escaped,
    /// U+2028 and U+2029 too (valid JSON, but they end a line in older
    /// JavaScript); everything else as it is.
    public static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A JSON number as eddy writes them: an optional minus, digits without a
    /// leading zero, an optional fraction. Anything else stays a string.
    static func isNumber(_ s: String) -> Bool {
        var bytes = Array(s.utf8)[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let digits = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }
        guard !digits.isEmpty, digits.count == 1 || digits.first != 0x30 else { return false }
        let rest = bytes.dropFirst(digits.count)
        if rest.isEmpty { return true }
        guard rest.first == UInt8(ascii: "."), rest.count > 1 else { return false }
        return rest.dropFirst().allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}

/// Direct writes to fd 2, for messages that must go out even while logging is
/// not set up (usage errors) or must not be buffered (metrics lines).
public enum StandardError {
    public static func write(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }
}
