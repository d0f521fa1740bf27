import EddyCore

/// A request as the routes see it.
struct MonitorRequest: Sendable {
    var method: String
    /// Path and query, as sent (`/api/batches?since=12`).
    var uri: String
    /// The `Authorization` header, if any.
    var authorization: String?
    /// The `Host` header, if any.
    var host: String?
}

struct MonitorResponse: Sendable {
    var status: Int
    var contentType: String
    var body: [UInt8]
    var headers: [(String, String)] = []

    static func json(_ text: String, status: Int = 200) -> MonitorResponse {
        MonitorResponse(status: status, contentType: "application/json; charset=utf-8", body: Array(text.utf8))
    }

    static func error(_ status: Int, _ message: String) -> MonitorResponse {
        var w = JSONWriter()
        w.beginObject()
        w.string("error", message)
        w.endObject()
        return .json(w.text, status: status)
    }
}

/// What each path answers, and who may ask. Pure: the server hands it a
/// request and writes back what it returns, so it runs on the event loop and
/// only copies figures out of the monitor.
struct MonitorRoutes: Sendable {
    let monitor: RunMonitor
    /// With a token, every request must carry `Authorization: Bearer TOKEN`.
    let token: String?
    /// Served on a loopback address without a token: only requests whose
    /// `Host` names a loopback address are answered, so a web page that
    /// rebinds its own name to 127.0.0.1 cannot read the job.
    let checkHost: Bool

    func respond(to request: MonitorRequest) -> MonitorResponse {
        let (path, query) = Self.split(request.uri)
        if let token, !Self.authorized(request.authorization, token: token) {
            var response: MonitorResponse
            if path == "/" || path == "/index.html" {
                response = MonitorResponse(status: 401, contentType: "text/html; charset=utf-8", body: Array(MonitorPage.login.utf8))
            } else {
                response = .error(401, "this eddy's monitor needs Authorization: Bearer TOKEN (the --ui-token it was started with)")
            }
            response.headers.append(("WWW-Authenticate", "Bearer realm=\"eddy\""))
            return response
        }
        if checkHost, let host = request.host, !Self.isLoopbackHost(host) {
            return .error(403, "Host \(host) is not a loopback name; this monitor answers only to localhost, 127.0.0.1 or [::1]")
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            var r = MonitorResponse.error(405, "only GET is served")
            r.headers.append(("Allow", "GET, HEAD"))
            return r
        }
        switch path {
        case "/", "/index.html":
            return MonitorResponse(status: 200, contentType: "text/html; charset=utf-8", body: Array(MonitorPage.html.utf8))
        case "/metrics":
            return MonitorResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: monitor.prometheusText())
        case "/api/status":
            return .json(MonitorJSON.status(monitor))
        case "/api/batches":
            var since = Int64.min
            var limit = RunMonitor.capacity
            for (key, value) in query {
                switch key {
                case "since":
                    guard let n = Int64(value) else { return .error(400, "since=\(value): expected a batch id (a whole number)") }
                    since = n
                case "limit":
                    guard let n = Int(value), n >= 0 else { return .error(400, "limit=\(value): expected a whole number >= 0") }
                    limit = min(n, RunMonitor.capacity)
                default:
                    return .error(400, "unknown parameter '\(key)' (known: since, limit)")
                }
            }
            return .json(MonitorJSON.batches(monitor.batches(since: since, limit: limit), monitor: monitor))
        case "/favicon.ico":
            return MonitorResponse(status: 200, contentType: "image/svg+xml", body: Array(MonitorPage.icon.utf8))
        default:
            return .error(404, "no such page: \(path) (try /, /metrics, /api/status, /api/batches?since=ID)")
        }
    }

    /// Path, and the query's `key=value` pairs.
    static func split(_ uri: String) -> (String, [(String, String)]) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, []) }
        let path = String(uri[..<q])
        let pairs = uri[uri.index(after: q)...].split(separator: "&").map { part -> (String, String) in
            guard let eq = part.firstIndex(of: "=") else { return (String(part), "") }
            return (String(part[..<eq]), String(part[part.index(after: eq)...]))
        }
        return (path, pairs)
    }

    /// `Bearer TOKEN`, compared in time that does not depend on where the
    /// first difference is.
    static func authorized(_ header: String?, token: String) -> Bool {
        guard let header else { return false }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let given = Array(parts[1].utf8), expected = Array(token.utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<expected.count { difference |= expected[i] ^ (i < given.count ? given[i] : 0) }
        return difference == 0
    }

    /// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
    static func isLoopbackHost(_ hostHeader: String) -> Bool {
        var host = Substring(hostHeader.lowercased())
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            return host[host.index(after: host.startIndex)..<close] == "::1"
        }
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        if host == "localhost" || host.hasSuffix(".localhost") { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}
