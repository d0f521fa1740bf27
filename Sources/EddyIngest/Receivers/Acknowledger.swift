import EddyCore
import Glibc

/// `ack = on` for `socket` and `listen`: eddy writes `ack N\n` back on the
/// connection, N being how many of the records that came over this
/// connection are safely received: sealed into a block and, with a
/// checkpoint, in the write-ahead log. A producer that keeps what is not yet
/// acknowledged knows exactly what it may have to send again.
///
/// Blocks are sealed on whichever thread cuts them, the engine's at every
/// batch boundary, and that thread must never wait on a producer. So a seal
/// only records the new count here and wakes the connection's own thread
/// (`AckedConnection`), which writes the line when the socket takes it. The
/// sealing thread never touches the socket, so it cannot write to one that
/// was closed, or whose fd number a new connection got. Acks are cumulative:
/// the queue is the newest count plus the line being written, bounded, and
/// skipping counts a producer has not had time to read loses nothing.
final class Acknowledger: Sendable {
    /// Acks are a few bytes each; a small kernel buffer bounds what a
    /// producer that stops reading leaves in the kernel, and lets
    /// `ack_timeout` start counting soon rather than after megabytes.
    static let sendBufferBytes: Int32 = 4096

    /// How long a producer may leave its acks waiting before it is disconnected.
    let timeoutMs: Int64

    private struct State: Sendable {
        var attached = false
        /// `_seq` of the first record of the current connection.
        var start: Int64 = 0
        /// The newest count to acknowledge on the current connection.
        var count: Int64 = 0
    }

    private let state = ConditionLock(State())
    /// A pipe the sealing thread writes a byte to, to wake the connection's
    /// poll on `wakeFD`. Both ends live as long as this object: no thread can
    /// write to them once closed.
    let wakeFD: Int32
    private let wakeWriteFD: Int32

    init(timeoutMs: Int64) throws(RuntimeError) {
        self.timeoutMs = timeoutMs
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw RuntimeError("cannot set up acknowledgements: pipe: \(String(cString: strerror(errno)))")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeFD = fds[0]
        wakeWriteFD = fds[1]
    }

    deinit {
        close(wakeFD)
        close(wakeWriteFD)
    }

    /// A new connection: its records start at `start`.
    func attach(start: Int64) {
        state.withLock { s in
            s.attached = true
            s.start = start
            s.count = 0
        }
    }

    func detach() { state.withLock { $0.attached = false } }

    /// Everything below `sealedThrough` is safe. Called by the sealing
    /// thread: it records the count and wakes the connection, nothing more.
    func sealed(through sealedThrough: Int64) {
        let grew = state.withLock { s -> Bool in
            let n = sealedThrough - s.start
            guard s.attached, n > s.count else { return false }
            s.count = n
            return true
        }
        if grew {
            // Never blocks: a full pipe already holds a wake-up.
            var one: UInt8 = 1
            _ = write(wakeWriteFD, &one, 1)
        }
    }

    /// The newest count, when it is past `sent`.
    func pending(after sent: Int64) -> Int64? {
        state.withLock { s in s.attached && s.count > sent ? s.count : nil }
    }

    /// Clears the wake-up once the connection's thread has seen it.
    func drainWake() {
        var bytes = [UInt8](repeating: 0, count: 256)
        while read(wakeFD, &bytes, bytes.count) == bytes.count {}
    }
}

/// One producer connection with `ack = on`, used only by its receiver
/// thread: it reads records and writes the acks the `Acknowledger` queued,
/// both without blocking, in one poll.
///
/// A producer that stops reading is found by delivery, not by our queue:
/// once its receive buffer is full its kernel takes no more bytes, and
/// what we wrote stays in our kernel's send queue. (The two sides can also
/// wedge with our queue empty and the last acks stuck in the kernel, no
/// record flowing either way.) So: while anything we wrote is not yet
/// taken by the peer, and it has taken nothing for `ack_timeout`, the read
/// returns `.writeStalled` and the receiver disconnects it.
struct AckedConnection {
    let socket: TCPSocket
    let acks: Acknowledger
    /// The ack line being written, and how much of it is written.
    private var line: [UInt8] = []
    private var written = 0
    /// The count in the newest line taken from the acknowledger.
    private var sent: Int64 = 0
    /// Bytes handed to the kernel so far, and of those, taken by the peer
    /// when last looked.
    private var handed: Int64 = 0
    private var delivered: Int64 = 0
    /// Since when (monotonic ms) the peer has taken none of what waits for it;
    /// nil while nothing waits.
    private var blockedSince: Int64?

    init(socket: TCPSocket, acks: Acknowledger) {
        self.socket = socket
        self.acks = acks
        socket.setSendBuffer(Acknowledger.sendBufferBytes)
    }

    /// Like `TCPSocket.read`: waits up to `timeoutMs` for data, writing
    /// acks as they come and as the socket takes them meanwhile.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int32) -> TCPSocket.ReadResult {
        let deadline = Self.nowMs() + Int64(max(0, timeoutMs))
        while true {
            let now = Self.nowMs()
            if let code = flush() { return .error(code) }
            if stalled(now: now) { return .writeStalled }
            let waiting = written < line.count
            var wait = deadline - now
            if let since = blockedSince { wait = min(wait, max(1, since + acks.timeoutMs - now)) }
            var fds = [pollfd(fd: socket.fd, events: Int16(POLLIN) | (waiting ? Int16(POLLOUT) : 0), revents: 0),
                       pollfd(fd: acks.wakeFD, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, Int32(clamping: max(0, wait)))
            if ready < 0 {
                if errno == EINTR { continue }
                return .error(errno)
            }
            if fds[1].revents != 0 { acks.drainWake() }
            if fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let result = socket.receive(into: buffer)
                if case .timeout = result { continue }
                return result
            }
            if ready == 0 && Self.nowMs() >= deadline { return .timeout }
        }
    }

    /// Writes what is queued, as far as the socket takes it now; an errno
    /// when the connection is gone.
    private mutating func flush() -> Int32? {
        while true {
            if written == line.count {
                guard let count = acks.pending(after: sent) else { return nil }
                sent = count
                line = Array("ack \(count)\n".utf8)
                written = 0
            }
            let result = line.withUnsafeBytes { socket.send(UnsafeRawBufferPointer(rebasing: $0[written...])) }
            switch result {
            case .sent(let n):
                written += n
                handed += Int64(n)
            case .wouldBlock:
                return nil
            case .failed(let code):
                return code
            }
        }
    }

    /// Whether the peer has taken none of what waits for it for `ack_timeout`.
    private mutating func stalled(now: Int64) -> Bool {
        let inKernel = socket.undeliveredBytes.map { Int64($0) } ?? 0
        let taken = handed - inKernel
        if written == line.count && inKernel == 0 {
            blockedSince = nil
            delivered = taken
            return false
        }
        if taken > delivered || blockedSince == nil {
            delivered = taken
            blockedSince = now
            return false
        }
        return now - (blockedSince ?? now) >= acks.timeoutMs
    }

    private static func nowMs() -> Int64 { MonotonicTime.now() / 1_000_000 }
}
