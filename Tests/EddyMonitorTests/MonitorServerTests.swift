import EddyCore
import Foundation
import Glibc
import Testing
@testable import EddyMonitor

/// The server on real loopback sockets: what each path answers, and the
/// token rule.
@Suite struct MonitorServerTests {
    static func monitor() -> RunMonitor {
        let monitor = RunMonitor(job: MonitorFixtures.job)
        for id in 1...3 { monitor.publish(MonitorFixtures.batch(Int64(id))) }
        return monitor
    }

    @Test func servesThePageTheAPIAndMetrics() throws {
        let server = try MonitorServer.start(host: "127.0.0.1", port: 0, token: nil, monitor: Self.monitor())
        defer { server.close() }
        #expect(server.port > 0)
        let page = try HTTP.get(port: server.port, "/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(page.body.contains("<svg id=\"chart-proc\""))
        for outside in ["src=\"http", "href=\"http", "url(http", "@import"] {
            #expect(!page.body.contains(outside), "nothing is fetched from elsewhere (\(outside))")
        }

        let batches = try HTTP.get(port: server.port, "/api/batches?since=1")
        #expect(batches.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(batches.body.utf8)) as? [String: Any])
        #expect((object["batches"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [2, 3])
        #expect(object["last_id"] as? Int == 3)

        let metrics = try HTTP.get(port: server.port, "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(metrics.body.contains("eddy_batches_total 3"))

        #expect(try HTTP.get(port: server.port, "/api/batches?since=x").status == 400)
        #expect(try HTTP.get(port: server.port, "/nope").status == 404)
        #expect(try HTTP.get(port: server.port, "/api/status", method: "POST").status == 405)
    }

    /// A page on another site that rebinds its name to 127.0.0.1 sends its own Host.
    @Test func loopbackWithoutTokenAnswersOnlyLoopbackNames() throws {
        let server = try MonitorServer.start(host: "127.0.0.1", port: 0, token: nil, monitor: Self.monitor())
        defer { server.close() }
        #expect(try HTTP.get(port: server.port, "/api/status", host: "localhost:\(server.port)").status == 200)
        #expect(try HTTP.get(port: server.port, "/api/status", host: "[::1]:\(server.port)").status == 200)
        #expect(try HTTP.get(port: server.port, "/api/status", host: "attacker.example:\(server.port)").status == 403)
    }

    @Test func withATokenEveryRequestNeedsIt() throws {
        // Bound to every address (a non-loopback one), reached over loopback only.
        let server = try MonitorServer.start(host: "0.0.0.0", port: 0, token: "s3cret-token", monitor: Self.monitor())
        defer { server.close() }
        for path in ["/", "/metrics", "/api/status", "/api/batches?since=0", "/nope"] {
            let none = try HTTP.get(port: server.port, path)
            #expect(none.status == 401, "\(path) without a token")
            #expect(none.headers["www-authenticate"] == "Bearer realm=\"eddy\"")
            #expect(!none.body.contains("SELECT count"), "a refused request shows nothing of the job")
            #expect(try HTTP.get(port: server.port, path, authorization: "Bearer wrong-token!").status == 401, "\(path) wrong token")
            #expect(try HTTP.get(port: server.port, path, authorization: "Bearer s3cret-toke").status == 401, "\(path) a prefix")
            #expect(try HTTP.get(port: server.port, path, authorization: "Basic s3cret-token").status == 401, "\(path) not Bearer")
            let ok = try HTTP.get(port: server.port, path, authorization: "Bearer s3cret-token")
            #expect(ok.status == (path == "/nope" ? 404 : 200), "\(path) with the token")
        }
        // The page asked for without the token is a form that asks for it.
        #expect(try HTTP.get(port: server.port, "/").body.contains("--ui-token"))
    }

    @Test func loopbackNames() {
        #expect(MonitorServer.isLoopback("127.0.0.1"))
        #expect(MonitorServer.isLoopback("127.3.2.1"))
        #expect(MonitorServer.isLoopback("localhost"))
        #expect(MonitorServer.isLoopback("::1"))
        #expect(!MonitorServer.isLoopback("0.0.0.0"))
        #expect(!MonitorServer.isLoopback("::"))
        #expect(!MonitorServer.isLoopback("10.1.2.3"))
        #expect(!MonitorServer.isLoopback("no-such-host.invalid"))
    }

    @Test func aPortInUseIsAClearError() throws {
        let first = try MonitorServer.start(host: "127.0.0.1", port: 0, token: nil, monitor: Self.monitor())
        defer { first.close() }
        #expect {
            _ = try MonitorServer.start(host: "127.0.0.1", port: first.port, token: nil, monitor: Self.monitor())
        } throws: { error in
            "\(error)".contains("--ui 127.0.0.1:\(first.port): cannot serve the monitor there")
        }
    }
}

/// A minimal HTTP/1.1 client over a plain socket: one request per connection.
enum HTTP {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func get(port: Int, _ path: String, method: String = "GET", host: String? = nil,
                    authorization: String? = nil) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect to \(port): \(errno)") }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(port)")\r\nConnection: close\r\n"
        if let authorization { request += "Authorization: \(authorization)\r\n" }
        request += "Content-Length: 0\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "no HTTP answer: \(text.prefix(200))") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure(description: "bad status line \(lines[0])") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Response(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}
