import EddyCore
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix

/// The monitor's HTTP server (`--ui HOST:PORT`): SwiftNIO's HTTP/1.1 codec on
/// one event-loop thread of its own. It reads what the engine published in
/// the `RunMonitor` and never calls into the engine, so a slow or stuck
/// client costs that thread, never a batch.
public final class MonitorServer: Sendable {
    /// Where it listens (the port the kernel chose, when asked for port 0).
    public let host: String
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    private init(host: String, port: Int, group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.host = host
        self.port = port
        self.group = group
        self.channel = channel
    }

    /// `http://host:port/`, as a user types it.
    public var url: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/" }

    /// Binds and starts serving. With `token`, every request needs
    /// `Authorization: Bearer TOKEN`; a non-loopback address must have one
    /// (the caller checks, with `isLoopback`, to name its own option in the error).
    public static func start(host: String, port: Int, token: String?, monitor: RunMonitor) throws(RuntimeError) -> MonitorServer {
        let routes = MonitorRoutes(monitor: monitor, token: token, checkHost: token == nil && isLoopback(host))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MonitorHTTPHandler(routes: routes))
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 1)
        do {
            let channel = try bootstrap.bind(host: host, port: port).wait()
            let bound = channel.localAddress?.port ?? port
            return MonitorServer(host: host, port: bound, group: group, channel: channel)
        } catch {
            try? group.syncShutdownGracefully()
            throw RuntimeError("--ui \(host.contains(":") ? "[\(host)]" : host):\(port): cannot serve the monitor there: \(error)")
        }
    }

    /// Stops listening, closes every connection and ends the thread.
    public func close() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Whether every address `host` names is a loopback one (127.0.0.0/8,
    /// ::1). A name that does not resolve is not.
    public static func isLoopback(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return false }
        defer { freeaddrinfo(first) }
        var node: UnsafeMutablePointer<addrinfo>? = first
        var any = false
        while let n = node {
            defer { node = n.pointee.ai_next }
            guard let addr = n.pointee.ai_addr else { continue }
            any = true
            switch Int32(addr.pointee.sa_family) {
            case AF_INET:
                let ok = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    UInt32(bigEndian: $0.pointee.sin_addr.s_addr) >> 24 == 127
                }
                if !ok { return false }
            case AF_INET6:
                let ok = addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p -> Bool in
                    withUnsafeBytes(of: p.pointee.sin6_addr) { b in
                        b.prefix(15).allSatisfy { $0 == 0 } && b[15] == 1
                    }
                }
                if !ok { return false }
            default:
                return false
            }
        }
        return any
    }
}

/// One connection: collects a request's head, answers at its end.
private final class MonitorHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: MonitorRoutes
    private var head: HTTPRequestHead?

    init(routes: MonitorRoutes) { self.routes = routes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let request = MonitorRequest(method: head.method.rawValue, uri: head.uri,
                                         authorization: head.headers.first(name: "authorization"),
                                         host: head.headers.first(name: "host"))
            let response = routes.respond(to: request)
            write(response, for: head, context: context)
        }
    }

    private func write(_ response: MonitorResponse, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        let keepAlive = request.isKeepAlive
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        // The page loads nothing from anywhere: say so to the browser too.
        headers.add(name: "Content-Security-Policy",
                    value: "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline' 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: HTTPResponseStatus(statusCode: response.status),
                                    headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD && !response.body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: response.body.count)
            buffer.writeBytes(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let channel = context.channel
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
