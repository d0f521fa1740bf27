import Logging
import Glibc

/// eddy's logs: one line per event on stderr, so stdout carries only data.
/// `--quiet` lowers everything but errors.
public enum EddyLog {
    public static func bootstrap(quiet: Bool) {
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
}

/// Writes `eddy: warning: message key=value` lines with a single write(2), so
/// lines from receiver threads never interleave mid-line.
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
        var line = "eddy: "
        switch event.level {
        case .trace, .debug, .info, .notice: break
        case .warning: line += "warning: "
        case .error, .critical: line += "error: "
        }
        line += "\(event.message)"
        let merged = event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(value)"
        }
        line += "\n"
        StandardError.write(line)
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
