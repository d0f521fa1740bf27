import EddyCore
import Glibc

/// The reader of stdout went away (`eddy run ... | head`): the run ends
/// quietly, as Unix tools do.
public struct OutputClosed: Error, Sendable {}

/// Buffered writes to a file descriptor. Output of a batch is flushed when the
/// batch ends, so a slow consumer sees whole batches.
public final class OutputWriter {
    public let fd: Int32
    private var buffer: [UInt8] = []
    public private(set) var isClosed = false

    public init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    /// A writer that keeps what is written, for `take()` (rows encoded as
    /// records for the kinesis sink).
    public static func memory() -> OutputWriter { OutputWriter(fd: -1) }

    /// What a memory writer holds, emptied.
    public func take() -> [UInt8] {
        defer { buffer.removeAll(keepingCapacity: true) }
        return buffer
    }

    @inline(__always)
    public func write(_ s: String) throws(OutputClosed) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 && fd >= 0 { try flush() }
    }

    @inline(__always)
    public func write(_ bytes: UnsafeBufferPointer<UInt8>) throws(OutputClosed) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 && fd >= 0 { try flush() }
    }

    @inline(__always)
    public func write(byte: UInt8) { buffer.append(byte) }

    /// Ends a line, flushing once enough has gathered.
    @inline(__always)
    public func endLine() throws(OutputClosed) {
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 && fd >= 0 { try flush() }
    }

    public func flush() throws(OutputClosed) {
        if isClosed { throw OutputClosed() }
        if fd < 0 { return }
        var offset = 0
        let total = buffer.count
        while offset < total {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, total - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                isClosed = true
                buffer.removeAll()
                throw OutputClosed()
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
