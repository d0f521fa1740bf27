import EddyCore
import Glibc
import Logging

/// Where records that do not parse go: counted per source, and written either
/// to stderr (the first few per second, so a flood of bad input cannot drown
/// the metrics) or, with `errors = 'path'`, every one of them to that file.
/// The job never stops for a bad record.
public final class ErrorLog: Sendable {
    private struct State: Sendable {
        var count: Int64 = 0
        var windowStart: Int64 = 0
        var inWindow = 0
        var suppressed = 0
    }

    public let source: String
    private let path: String?
    private let fd: Int32
    private let state = ConditionLock(State())
    private let logger = Logger(label: "eddy.errors")
    private static let perSecondOnStderr = 10

    /// Opens `path` for appending when given.
    public init(source: String, path: String?) throws {
        self.source = source
        self.path = path
        if let path {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw Files.IOError(path: path, operation: "open the error log", code: errno) }
            self.fd = fd
        } else {
            self.fd = -1
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Bad records so far.
    public var count: Int64 { state.withLock { $0.count } }

    public func record(shard: String, reason: String, bytes: UnsafeRawBufferPointer) {
        let now = MonotonicTime.now() / 1_000_000
        let (show, suppressedBefore): (Bool, Int) = state.withLock { s in
            s.count += 1
            if now - s.windowStart >= 1000 {
                let suppressed = s.suppressed
                s.windowStart = now
                s.inWindow = 0
                s.suppressed = 0
                s.inWindow += 1
                return (true, suppressed)
            }
            if s.inWindow < Self.perSecondOnStderr {
                s.inWindow += 1
                return (true, 0)
            }
            s.suppressed += 1
            return (false, 0)
        }
        if fd >= 0 {
            var line = "source=\(source) shard=\(shard) error=\(Self.quote(reason)) record="
            line += Self.quote(Self.preview(bytes, limit: 1 << 20))
            line += "\n"
            var l = line
            l.withUTF8 { try? Files.writeAll(fd: fd, UnsafeRawBufferPointer($0), path: path ?? "") }
            return
        }
        if suppressedBefore > 0 {
            logger.warning("source \(source): \(suppressedBefore) more bad records not shown")
        }
        if show {
            logger.warning("source \(source): bad record skipped (shard \(shard)): \(reason): \(Self.quote(Self.preview(bytes, limit: 200)))")
        }
    }

    /// The record as printable text, cut at `limit` bytes, invalid UTF-8 replaced.
    static func preview(_ bytes: UnsafeRawBufferPointer, limit: Int) -> String {
        let cut = UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, limit)])
        var text = String(decoding: cut, as: UTF8.self)
        if bytes.count > limit { text += "… (\(bytes.count) bytes)" }
        return text
    }

    static func quote(_ s: String) -> String { JSONText.string(s) }
}
