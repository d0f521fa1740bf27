import EddyCore
import Glibc
import Logging

/// `--metrics-file PATH`: one JSON line per committed batch, steps included
/// (the shape of an `/api/batches` element), appended as each batch commits,
/// so a script can find a slow statement without the UI. Written by the
/// ordered tail; each line is one `write(2)`, so a reader never sees half a line.
public final class MetricsFile {
    public let path: String
    private let fd: Int32
    private let batchIntervalMs: Int64
    private var lastWarning: Int64 = 0
    private let logger = Logger(label: "eddy.metrics-file")

    /// Opens (creates, or appends to) `path`.
    public init(path: String, batchIntervalMs: Int64) throws(UsageError) {
        self.path = path
        self.batchIntervalMs = batchIntervalMs
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw UsageError("--metrics-file \(path): cannot open it: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Appends the batch's line. A failed write (a full disk) is a warning,
    /// at most one a minute: the job's data does not depend on this file.
    public func append(_ m: BatchMetrics) {
        var line = MonitorJSON.batch(m, batchIntervalMs: batchIntervalMs)
        line += "\n"
        let failure: Int32? = line.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return nil
        }
        if let failure {
            let now = MonotonicTime.now()
            if lastWarning == 0 || now - lastWarning > 60_000_000_000 {
                lastWarning = now
                logger.warning("--metrics-file \(path): cannot write batch \(m.batchTime)'s line: \(String(cString: strerror(failure)))")
            }
        }
    }
}
