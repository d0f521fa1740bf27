import EddyCore
import EddyEngine
import EddyIngest
import Glibc

/// Issue 14's overhead figure: what serving the monitor costs a busy job.
/// The same live job (generator receivers → per-batch word count) runs with
/// the UI off and on, alternating within one invocation; with it on, a poller
/// thread asks for `/api/status`, `/api/batches?since=ID` (as the page does)
/// and `/metrics` (as Prometheus does) every 500 ms.
///
/// Two figures, each a median over the rounds: records per second of batch
/// processing (the engine's throughput while busy, as in `bench.sh e2e`),
/// and records per CPU-second of the whole process without the poller's own
/// thread (the page's and Prometheus' side of the requests is not eddy's).
enum UIBench {
    static let seconds: Int64 = 8
    static let pollMs: Int64 = 500

    struct Measured {
        var busyRate: Double
        var cpuRate: Double
        var batches: Int
        var requests = 0
        var responseBytes = 0
    }

    static func run() {
        let rounds = 6
        let shards = 2
        say("== ui: the monitor's cost: generator receivers (\(CoreBench.linesPerBatch / 1000)k lines/s, \(shards) shards) → per-batch word count, 1 s batches; \(seconds) s runs alternating --ui off and on (on: /api/status, /api/batches?since=ID and /metrics every \(pollMs) ms), \(rounds) pairs ==")
        var off: [Measured] = [], on: [Measured] = []
        for round in 0..<rounds {
            // Alternate which goes first, so that drift over a pair weighs on both.
            for ui in round % 2 == 0 ? [false, true] : [true, false] {
                guard let m = measure(sql: EndToEndBench.job(shards: shards), ui: ui) else { return }
                if ui { on.append(m) } else { off.append(m) }
            }
        }
        let busyOff = Bench.median(off.map(\.busyRate)), busyOn = Bench.median(on.map(\.busyRate))
        let cpuOff = Bench.median(off.map(\.cpuRate)), cpuOn = Bench.median(on.map(\.cpuRate))
        let pairs = zip(off, on).map { $0.1.busyRate / $0.0.busyRate }
        let cpuPairs = zip(off, on).map { $0.1.cpuRate / $0.0.cpuRate }
        let requests = on.reduce(0) { $0 + $1.requests }
        let bytes = on.reduce(0) { $0 + $1.responseBytes }
        say("  processing throughput: off \(Bench.rate(Int(busyOff), 1)) records/s, on \(Bench.rate(Int(busyOn), 1)) records/s: on ÷ off = \(Bench.format2(busyOn / busyOff)) (\(slower(busyOn / busyOff))); pairs: \(pairs.map { Bench.format2($0) }.joined(separator: ", "))")
        say("  records per CPU-second, all of eddy's threads: off \(Bench.rate(Int(cpuOff), 1)), on \(Bench.rate(Int(cpuOn), 1)): on ÷ off = \(Bench.format2(cpuOn / cpuOff)) (\(slower(cpuOn / cpuOff))); pairs: \(cpuPairs.map { Bench.format2($0) }.joined(separator: ", "))")
        say("  requests answered while on: \(requests), \(bytes / max(1, requests)) bytes each on average")
    }

    static func slower(_ ratio: Double) -> String {
        ratio >= 1 ? "no slower" : "\(Bench.format1(100 * (1 - ratio)))% slower"
    }

    static func measure(sql: String, ui: Bool) -> Measured? {
        var options = RunOptions()
        options.duration = seconds * 1000
        options.quiet = true
        options.outputFD = open("/dev/null", O_WRONLY)
        defer { close(options.outputFD) }
        var poller: Poller?
        if ui {
            guard let port = freePort() else {
                say("  no free port for the UI")
                return nil
            }
            options.ui = HostPort(host: "127.0.0.1", port: port)
            let p = Poller(port: port, everyMs: pollMs)
            do {
                try p.start()
            } catch {
                say("  poller: \(error)")
                return nil
            }
            poller = p
        }
        let engine = Engine(job: Bench.parse(sql), planOptions: PlanOptions(), options: options, stop: StopSignal())
        let cpu0 = Bench.cpuSeconds()
        do {
            _ = try engine.run()
        } catch {
            poller?.stop()
            say("  failed: \(error)")
            return nil
        }
        let cpu = Bench.cpuSeconds() - cpu0
        let polled = poller?.stop()
        let h = Array(engine.history.dropFirst().dropLast())
        let records = h.reduce(0) { $0 + $1.records }
        let processing = h.reduce(0.0) { $0 + $1.processingMs } / 1000
        let allRecords = engine.history.reduce(0) { $0 + $1.records }
        var m = Measured(busyRate: Double(records) / max(processing, 1e-9),
                         cpuRate: Double(allRecords) / max(cpu - (polled?.cpu ?? 0), 1e-9), batches: engine.history.count)
        if let polled {
            m.requests = polled.requests
            m.responseBytes = polled.bytes
        }
        return m
    }

    /// A port nothing listens on now (the kernel's choice for port 0).
    static func freePort() -> UInt16? {
        guard case .success(let socket) = TCPSocket.listen(on: HostPort(host: "127.0.0.1", port: 0)) else { return nil }
        defer { socket.close() }
        return socket.localPort
    }
}

/// What the page and a Prometheus scraper would ask, every `everyMs`, on a
/// thread of its own that measures its own CPU.
final class Poller: Sendable {
    struct Figures: Sendable {
        /// Requests answered with 200, and their bytes (before the server is
        /// up and after it closes, requests fail, and are not counted).
        var requests = 0
        var bytes = 0
        var cpu = 0.0
        var done = false
    }

    let port: UInt16
    let everyMs: Int64
    private let signal = StopSignal()
    private let figures = ConditionLock(Figures())

    init(port: UInt16, everyMs: Int64) {
        self.port = port
        self.everyMs = everyMs
    }

    func start() throws {
        try startThread(name: "ui-poller") { [self] in
            let cpu0 = Bench.cpuSeconds(thread: true)
            var lastID: Int64?
            while !signal.isRequested {
                for path in ["/api/status", "/api/batches" + (lastID.map { "?since=\($0)" } ?? ""), "/metrics"] {
                    let body = get(path)
                    if let body {
                        figures.withLock { f in
                            f.requests += 1
                            f.bytes += body.count
                        }
                    }
                    if path.hasPrefix("/api/batches"), let body, let id = Self.lastID(body) { lastID = id }
                }
                if signal.wait(timeoutMs: everyMs) { break }
            }
            let cpu = Bench.cpuSeconds(thread: true) - cpu0
            figures.update { f in
                f.cpu = cpu
                f.done = true
            }
        }
    }

    /// Stops and waits for the thread; its figures.
    @discardableResult
    func stop() -> Figures {
        signal.request()
        return figures.wait(until: { $0.done }, timeoutMs: 10_000) { $0 } ?? figures.withLock { $0 }
    }

    /// The answer to a GET, or nil when the server did not answer 200.
    private func get(_ path: String) -> [UInt8]? {
        guard case .success(let socket) = TCPSocket.connect(to: HostPort(host: "127.0.0.1", port: port), timeoutMs: 1000) else {
            return nil
        }
        defer { socket.close() }
        let head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
        guard Array(head.utf8).withUnsafeBytes({ socket.writeAll($0) }) else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var answer: [UInt8] = []
        while case .data(let n) = buffer.withUnsafeMutableBytes({ socket.read(into: $0, timeoutMs: 5000) }) {
            answer += buffer[0..<n]
        }
        return answer.starts(with: Array("HTTP/1.1 200".utf8)) ? answer : nil
    }

    /// `"last_id":N` in an `/api/batches` answer.
    static func lastID(_ body: [UInt8]) -> Int64? {
        let text = String(decoding: body, as: UTF8.self)
        guard let r = text.firstRange(of: "\"last_id\":") else { return nil }
        return Int64(text[r.upperBound...].prefix { $0.isNumber })
    }
}
