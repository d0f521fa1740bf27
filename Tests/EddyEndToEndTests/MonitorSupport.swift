import EddyIngest
import Foundation
import Glibc

/// An `eddy run ... --ui 127.0.0.1:0` and the port it serves on, read from
/// its stderr ("ui: serving the monitor on http://HOST:PORT/").
struct MonitorRun {
    let eddy: EddyProcess
    let port: UInt16

    init(_ args: [String], env: [String: String] = [:]) throws {
        eddy = try EddyProcess(args, env: env)
        var found: UInt16?
        let deadline = Date().addingTimeInterval(60)
        while found == nil && Date() < deadline {
            let err = eddy.currentStderr
            if let r = err.range(of: "serving the monitor on http://") {
                let rest = err[r.upperBound...]
                if let colon = rest.firstIndex(of: ":") {
                    found = UInt16(rest[rest.index(after: colon)...].prefix { $0.isNumber })
                }
            }
            if found == nil { usleep(20_000) }
        }
        guard let found else {
            eddy.signal(SIGKILL)
            throw TestFailure("eddy did not say where it serves the monitor; stderr: \(eddy.currentStderr.suffix(2000))")
        }
        port = found
    }

    func get(_ path: String, headers: [String: String] = [:]) throws -> HTTPAnswer {
        try HTTPAnswer.get(port: port, path, headers: headers)
    }

    func json(_ path: String, headers: [String: String] = [:]) throws -> [String: Any] {
        let answer = try get(path, headers: headers)
        guard answer.status == 200 else { throw TestFailure("\(path): HTTP \(answer.status): \(answer.body.prefix(300))") }
        guard let object = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any] else {
            throw TestFailure("\(path): not a JSON object: \(answer.body.prefix(300))")
        }
        return object
    }

    /// Batches the monitor has published so far.
    func batchesPublished() -> Int {
        ((try? json("/api/status"))?["run"] as? [String: Any])?["batches"] as? Int ?? 0
    }
}

/// One HTTP/1.1 request on its own connection, over loopback.
struct HTTPAnswer {
    var status: Int
    var headers: [String: String]
    var body: String

    static func get(port: UInt16, _ path: String, headers: [String: String] = [:]) throws -> HTTPAnswer {
        guard let socket = try? TCPSocket.connect(to: HostPort(host: "127.0.0.1", port: port)).get() else {
            throw TestFailure("cannot connect to 127.0.0.1:\(port)")
        }
        defer { socket.close() }
        var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        _ = Array(head.utf8).withUnsafeBytes { socket.writeAll($0) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var answer: [UInt8] = []
        while case .data(let n) = buffer.withUnsafeMutableBytes({ socket.read(into: $0, timeoutMs: 10_000) }) {
            answer += buffer[0..<n]
        }
        let text = String(decoding: answer, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("\(path): no HTTP answer: \(text.prefix(200))") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPAnswer(status: status, headers: fields, body: String(text[split.upperBound...]))
    }
}

/// Prometheus' own Python client parses an exposition: every family with
/// its type and samples, or the parser's error.
enum PrometheusParser {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Family {
        var type: String
        var samples: [Sample]
    }

    static let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = {}
        for f in text_string_to_metric_families(sys.stdin.read()):
            out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]}
        print(json.dumps(out))
        """

    static func parse(_ exposition: String) throws -> [String: Family] {
        let dir = try TempDir()
        let input = try dir.write("metrics.txt", exposition)
        let r = try EddyProcess.shell("python3 -c '\(script)' < \(input)", timeout: 60)
        guard r.status == 0 else { throw TestFailure("prometheus_client refused the exposition: \(r.stderr.suffix(1500))") }
        guard let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: [String: Any]] else {
            throw TestFailure("parser output: \(r.stdout.prefix(300))")
        }
        var out: [String: Family] = [:]
        for (name, f) in object {
            let samples = (f["samples"] as? [[Any]] ?? []).compactMap { s -> Sample? in
                guard s.count == 3, let n = s[0] as? String, let labels = s[1] as? [String: String] else { return nil }
                let value = (s[2] as? Double) ?? Double((s[2] as? Int) ?? 0)
                return Sample(name: n, labels: labels, value: value)
            }
            out[name] = Family(type: f["type"] as? String ?? "", samples: samples)
        }
        return out
    }
}
