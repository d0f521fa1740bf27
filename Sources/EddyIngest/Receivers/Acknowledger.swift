import EddyCore
import Glibc

/// `ack = on` for `socket` and `listen`: eddy writes `ack N\n` back on the
/// connection, N being how many of the records that came over this
/// connection are safely received: sealed into a block and, with a
/// checkpoint, in the write-ahead log. A producer that keeps what is not yet
/// acknowledged knows exactly what it may have to send again.
final class Acknowledger: Sendable {
    private struct State: Sendable {
        var socket: TCPSocket?
        /// `_seq` of the first record of the current connection.
        var start: Int64 = 0
        var sent: Int64 = 0
    }

    private let state = ConditionLock(State())

    /// A new connection: its records start at `start`.
    func attach(_ socket: TCPSocket, start: Int64) {
        state.withLock { s in
            s.socket = socket
            s.start = start
            s.sent = 0
        }
    }

    func detach() { state.withLock { $0.socket = nil } }

    /// Everything below `sealedThrough` is safe.
    func sealed(through sealedThrough: Int64) {
        state.withLock { s in
            guard let socket = s.socket else { return }
            let n = sealedThrough - s.start
            guard n > s.sent else { return }
            s.sent = n
            let line = Array("ack \(n)\n".utf8)
            _ = line.withUnsafeBytes { socket.writeAll($0) }
        }
    }
}
