import Atomics
import EddyCore
import Glibc

/// A TCP address as users write it: `host:port`, `[::1]:port`, or `:port`.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses one address; the message says what is wrong.
    public static func parse(_ text: String) -> Result<HostPort, UnitError> {
        let t = text.trimmingSpaces
        var host: Substring
        var portText: Substring
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else { return .failure(UnitError("bad address '\(text)': missing ']'")) }
            host = t[t.index(after: t.startIndex)..<close]
            let rest = t[t.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure(UnitError("bad address '\(text)': expected ':port' after ']'")) }
            portText = rest.dropFirst()
        } else {
            guard let colon = t.lastIndex(of: ":") else {
                return .failure(UnitError("bad address '\(text)': expected host:port, like 'localhost:9999'"))
            }
            host = t[..<colon]
            portText = t[t.index(after: colon)...]
        }
        guard let port = UInt16(portText) else {
            return .failure(UnitError("bad address '\(text)': port must be a number from 0 to 65535"))
        }
        if host.isEmpty { host = "0.0.0.0" }
        return .success(HostPort(host: String(host), port: port))
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A connected or listening TCP socket. Reads use poll with a timeout, so a
/// receiver thread wakes to seal blocks and to notice a stop request.
public final class TCPSocket: @unchecked Sendable {
    public let fd: Int32
    private let closed = ManagedAtomic(false)

    init(fd: Int32) { self.fd = fd }

    deinit { close() }

    /// Closes once, whoever calls it. Only the thread that owns a connection
    /// uses or closes it: the fd number is reused by the next `accept`.
    public func close() {
        if closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            Glibc.close(fd)
        }
    }

    public enum ReadResult: Equatable {
        case data(Int)
        case timeout
        case eof
        case error(Int32)
        /// What was written has not been taken by the peer for longer than
        /// allowed: it stopped reading. Only reads that also write
        /// (`AckedConnection`) return it.
        case writeStalled
    }

    /// Waits up to `timeoutMs` for data, then reads what is there into `buffer`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeoutMs: Int32) -> ReadResult {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, timeoutMs)
        if ready == 0 { return .timeout }
        if ready < 0 { return errno == EINTR ? .timeout : .error(errno) }
        return receive(into: buffer)
    }

    /// Reads what is there without waiting: `.timeout` when nothing is.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        let n = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
        if n > 0 { return .data(n) }
        if n == 0 { return .eof }
        if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return .timeout }
        return .error(errno)
    }

    public enum SendResult: Equatable {
        case sent(Int)
        /// The kernel's send buffer is full: the peer is not reading.
        case wouldBlock
        case failed(Int32)
    }

    /// Writes what the kernel takes now, never waiting.
    public func send(_ bytes: UnsafeRawBufferPointer) -> SendResult {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return .sent(0) }
        while true {
            let n = Glibc.send(fd, base, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if n >= 0 { return .sent(n) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            return .failed(errno)
        }
    }

    /// Writes everything or fails (EPIPE when the peer went away). It waits
    /// as long as the peer does not read: only for threads that may wait on
    /// their peer (`eddy gen` serving lines, tests), never for acks.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var offset = 0
        while offset < bytes.count {
            switch send(UnsafeRawBufferPointer(start: base + offset, count: bytes.count - offset)) {
            case .sent(let n):
                offset += n
            case .wouldBlock:
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pfd, 1, 1000)
            case .failed:
                return false
            }
        }
        return true
    }

    /// Connects with a timeout. Returns the socket or an error message.
    public static func connect(to address: HostPort, timeoutMs: Int32 = 3000) -> Result<TCPSocket, UnitError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(address.host, String(address.port), &hints, &list)
        guard rc == 0, let first = list else {
            return .failure(UnitError("cannot resolve \(address.host): \(String(cString: gai_strerror(rc)))"))
        }
        defer { freeaddrinfo(list) }
        var lastError = "no addresses"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            defer { ai = a.pointee.ai_next }
            let fd = socket(a.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 { lastError = String(cString: strerror(errno)); continue }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var r = Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen)
            if r != 0 && errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&pfd, 1, timeoutMs) == 1 {
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                    r = err == 0 ? 0 : -1
                    errno = err
                } else {
                    errno = ETIMEDOUT
                }
            }
            if r == 0 {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return .success(TCPSocket(fd: fd))
            }
            lastError = String(cString: strerror(errno))
            Glibc.close(fd)
        }
        return .failure(UnitError("cannot connect to \(address): \(lastError)"))
    }

    /// Binds and listens. Port 0 picks a free port (see `localPort`).
    public static func listen(on address: HostPort, backlog: Int32 = 64) -> Result<TCPSocket, UnitError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(address.host, String(address.port), &hints, &list)
        guard rc == 0, let first = list else {
            return .failure(UnitError("cannot resolve \(address.host): \(String(cString: gai_strerror(rc)))"))
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(UnitError("cannot create a socket: \(String(cString: strerror(errno)))")) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let e = errno
            Glibc.close(fd)
            return .failure(UnitError("cannot listen on \(address): \(String(cString: strerror(e)))"))
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            Glibc.close(fd)
            return .failure(UnitError("cannot listen on \(address): \(String(cString: strerror(e)))"))
        }
        return .success(TCPSocket(fd: fd))
    }

    /// A connection taken by `accept`, and who it is from.
    public struct Accepted {
        public var socket: TCPSocket
        public var peer: String
    }

    /// Waits up to `timeoutMs` for a connection.
    public func accept(timeoutMs: Int32) -> Accepted? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMs) == 1 else { return nil }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &len) }
        }
        guard client >= 0 else { return nil }
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        var one: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return Accepted(socket: TCPSocket(fd: client), peer: Self.describe(&storage))
    }

    /// The port actually bound (for port 0).
    public var localPort: UInt16 {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Self.port(&storage)
    }

    /// Sets the kernel receive buffer; small buffers make TCP backpressure reach
    /// the producer sooner when a receiver pauses.
    public func setReceiveBuffer(_ bytes: Int32) {
        var b = bytes
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Bytes written but not yet acknowledged by the peer's kernel
    /// (`SIOCOUTQ`); nil when the kernel does not say.
    public var undeliveredBytes: Int? {
        var n: Int32 = 0
        // SIOCOUTQ, from linux/sockios.h (the same number as TIOCOUTQ).
        guard ioctl(fd, UInt(0x5411), &n) == 0 else { return nil }
        return Int(n)
    }

    /// Sets the kernel send buffer (the kernel doubles it, and has a minimum).
    public func setSendBuffer(_ bytes: Int32) {
        var b = bytes
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, socklen_t(MemoryLayout<Int32>.size))
    }

    private static func port(_ storage: inout sockaddr_storage) -> UInt16 {
        withUnsafePointer(to: &storage) { p -> UInt16 in
            if Int32(p.pointee.ss_family) == AF_INET {
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
            return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
        }
    }

    private static func describe(_ storage: inout sockaddr_storage) -> String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var serv = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, socklen_t(MemoryLayout<sockaddr_storage>.size), &host, socklen_t(host.count),
                            &serv, socklen_t(serv.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard rc == 0 else { return "unknown" }
        return "\(Self.string(host)):\(Self.string(serv))"
    }

    private static func string(_ chars: [CChar]) -> String {
        let bytes = chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
