import EddyCore
import EddyIngest
import EddyKinesis
import Foundation
import Glibc

/// A Kinesis-compatible server on 127.0.0.1 for the tests: moto's server
/// (PyPI `moto[server]`), through scripts/moto_kinesis_ext.py, which gives
/// AWS's documented reshard behaviour and injectable faults. `.ci/run`
/// starts one and names its port in `EDDY_MOTO_PORT`; without it (a plain
/// `scripts/test.sh`), the tests start their own. Servers the tests start are
/// stopped when the test process ends.
final class MotoServer: @unchecked Sendable {
    let process: Process?
    let port: UInt16
    var url: String { "http://127.0.0.1:\(port)" }
    let auth: Bool
    private let logDir: TempDir?

    static let credentials = AWSCredentials(accessKeyID: "AKIAEDDYTEST00000001", secretAccessKey: "eddy/test+secret")

    static let shared: MotoServer? = {
        if let text = ProcessInfo.processInfo.environment["EDDY_MOTO_PORT"], let port = UInt16(text) {
            return MotoServer(running: port)
        }
        return try? MotoServer(auth: false)
    }()

    /// One that is already running (started by `.ci/run`).
    init(running port: UInt16) {
        self.port = port
        auth = false
        process = nil
        logDir = nil
    }

    /// `environment`: settings of moto_kinesis_ext.py, such as `EDDY_MOTO_ITERATOR_TTL`.
    init(auth: Bool, environment: [String: String] = [:]) throws {
        self.auth = auth
        let process = Process()
        self.process = process
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        // Its log lives in a test directory, removed when the tests end.
        let logs = try TempDir()
        logDir = logs
        let out = logs.path + "/moto.out"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", EddyProcess.repoRoot + "/scripts/moto_kinesis_ext.py", "--port", "0"] + (auth ? ["--auth"] : [])
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: out)
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        let pid = process.processIdentifier
        atexit_pids.append(pid)
        var found: UInt16?
        let deadline = Date().addingTimeInterval(60)
        while found == nil && Date() < deadline && process.isRunning {
            if let text = try? String(contentsOfFile: out, encoding: .utf8), let r = text.range(of: "EDDY_MOTO_READY port=") {
                found = UInt16(text[r.upperBound...].prefix { $0.isNumber })
            }
            usleep(50_000)
        }
        guard let found else {
            process.terminate()
            throw TestFailure("moto_kinesis_ext.py did not start: \((try? String(contentsOfFile: out, encoding: .utf8)) ?? "")")
        }
        port = found
    }

    deinit {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    var client: KinesisClient {
        KinesisClient(endpoint: KinesisEndpoint(region: "us-east-1", endpoint: url), credentials: Self.credentials)
    }

    /// A stream of its own for one test.
    func freshStream(shards: Int) throws -> String {
        let name = "eddy-\(UInt64.random(in: 0..<UInt64.max) % 1_000_000_000)"
        try client.createStream(name, shards: shards)
        return name
    }

    /// Fault rules (see scripts/moto_kinesis_ext.py), as a JSON list.
    func faults(_ json: String) throws {
        let answer = try request("POST", "/_eddy/faults", body: json)
        guard answer.status == 200 else { throw TestFailure("fault rule refused: \(answer.body)") }
    }

    /// What the server did for one stream: calls per operation, and the
    /// records GetRecords handed out and PutRecords entries received.
    func stats(_ stream: String) throws -> (calls: [String: Int], recordsRead: Int, recordsPut: Int) {
        let answer = try request("GET", "/_eddy/stats?stream=\(stream)")
        guard answer.status == 200, let obj = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any] else {
            throw TestFailure("stats: \(answer.body)")
        }
        return ((obj["calls"] as? [String: Int]) ?? [:], obj["records_read"] as? Int ?? -1, obj["records_put"] as? Int ?? -1)
    }

    private func request(_ method: String, _ path: String, body json: String = "") throws -> (status: Int, body: String) {
        guard let socket = try? TCPSocket.connect(to: HostPort(host: "127.0.0.1", port: port)).get() else {
            throw TestFailure("cannot reach moto")
        }
        let body = Array(json.utf8)
        let head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        _ = (Array(head.utf8) + body).withUnsafeBytes { socket.writeAll($0) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var answer: [UInt8] = []
        while case .data(let n) = buffer.withUnsafeMutableBytes({ socket.read(into: $0, timeoutMs: 5000) }) {
            answer += buffer[0..<n]
        }
        socket.close()
        let text = String(decoding: answer, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        let content = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, content)
    }

    /// Every record in the stream, read with our client.
    func readAll(_ stream: String) throws -> [KinesisRecord] {
        var out: [KinesisRecord] = []
        for shard in try client.listShards(stream: stream) {
            var iterator: String? = try client.shardIterator(stream: stream, shard: shard.shardId, from: .trimHorizon)
            while let it = iterator {
                let r = try client.getRecords(iterator: it, limit: 10_000)
                out += r.records
                if r.records.isEmpty { break }
                iterator = r.nextShardIterator
            }
        }
        return out
    }
}

/// Test servers to stop when the test process ends (each also stops by
/// itself when its parent dies: moto_kinesis_ext.py sets PR_SET_PDEATHSIG).
nonisolated(unsafe) var atexit_pids: [Int32] = {
    atexit {
        for pid in atexit_pids { kill(pid, SIGTERM) }
        for pid in atexit_pids {
            var status: Int32 = 0
            for _ in 0..<100 where waitpid(pid, &status, WNOHANG) == 0 { usleep(20_000) }
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        }
    }
    return []
}()

/// The midpoint of a shard's hash key range, as a decimal string (128-bit keys).
func midpoint(_ start: String, _ end: String) -> String {
    func digits(_ s: String) -> [Int] { s.compactMap { $0.wholeNumberValue } }
    var a = digits(start), b = digits(end)
    let n = max(a.count, b.count)
    a = Array(repeating: 0, count: n - a.count) + a
    b = Array(repeating: 0, count: n - b.count) + b
    var sum = Array(repeating: 0, count: n + 1)
    var carry = 0
    for i in stride(from: n - 1, through: 0, by: -1) {
        let v = a[i] + b[i] + carry
        sum[i + 1] = v % 10
        carry = v / 10
    }
    sum[0] = carry
    var half: [Int] = []
    var rem = 0
    for d in sum {
        let v = rem * 10 + d
        half.append(v / 2)
        rem = v % 2
    }
    let text = half.drop { $0 == 0 }.map(String.init).joined()
    return text.isEmpty ? "0" : text
}
