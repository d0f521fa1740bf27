import EddyCore
import EddyKinesis
import Glibc

/// A `kinesis` source's options, checked when the job is planned.
public struct KinesisOptions: Sendable, Equatable {
    public enum InitialPosition: Sendable, Equatable {
        case trimHorizon
        case latest
        /// Epoch seconds.
        case atTimestamp(Double)
    }

    public var stream: String
    /// nil: `AWS_REGION`, `AWS_DEFAULT_REGION`, or us-east-1.
    public var region: String?
    /// nil: AWS's endpoint for the region.
    public var endpoint: String?
    /// Where shards without a checkpoint start. Shards created by a reshard
    /// while the job runs always start at their beginning.
    public var initialPosition: InitialPosition = .latest
    /// Keys the local checkpoint store when there is no `--checkpoint`.
    public var appName: String?
    /// GetRecords' Limit.
    public var maxRecords: Int = 10_000
    public var shardSyncInterval: Int64 = 60_000
    /// Wait between GetRecords calls of a shard that is caught up; calls of a
    /// shard that is behind are 200 ms apart (Kinesis allows 5 per second).
    public var pollInterval: Int64 = 1000
    /// How this process shares the stream with others (see Coordination).
    public var coordination: Coordination = .local

    /// `coordination = 'local'` (one process reads every shard) or
    /// `'dynamodb'`: processes running the same job share the shards through
    /// a KCL lease table (see LeaseCoordinator).
    public enum Coordination: Sendable, Equatable {
        case local
        case dynamodb(LeaseOptions)
    }

    /// The lease options of `coordination = 'dynamodb'`.
    public struct LeaseOptions: Sendable, Equatable {
        /// nil: `app_name`, else `eddy-SOURCE`.
        public var table: String?
        /// nil: `hostname:pid`.
        public var workerID: String?
        /// A lease not renewed for this long may be taken by another worker.
        public var failoverTime: Int64 = 10_000
        /// nil: no cap.
        public var maxLeasesPerWorker: Int?

        public init() {}

        public static let minimumFailoverTime: Int64 = 1000
    }

    public init(stream: String) { self.stream = stream }

    static let keys: Set<String> = ["stream", "region", "endpoint", "initial_position", "at_timestamp", "app_name",
                                    "max_records", "shard_sync_interval", "poll_interval",
                                    "coordination", "lease_table", "worker_id", "failover_time", "max_leases_per_worker"]

    public static func parse(_ o: [String: String]) -> Result<KinesisOptions, OptionError> {
        guard let stream = o["stream"], !stream.isEmpty else {
            return .failure(OptionError(key: nil, "connector 'kinesis' needs option 'stream'"))
        }
        var k = KinesisOptions(stream: stream)
        k.region = o["region"].flatMap { $0.isEmpty ? nil : $0 }
        k.endpoint = o["endpoint"].flatMap { $0.isEmpty ? nil : $0 }
        if let e = k.endpoint, !(e.hasPrefix("http://") || e.hasPrefix("https://")) {
            return .failure(OptionError(key: "endpoint", "endpoint must be a URL like 'http://127.0.0.1:4567' or 'https://kinesis.us-east-1.amazonaws.com'"))
        }
        k.appName = o["app_name"]
        switch o["initial_position"]?.lowercased() {
        case nil, "latest": k.initialPosition = .latest
        case "trim_horizon": k.initialPosition = .trimHorizon
        case "at_timestamp":
            guard let t = o["at_timestamp"] else {
                return .failure(OptionError(key: "initial_position", "initial_position 'at_timestamp' needs option 'at_timestamp' (epoch seconds or 2026-11-22T10:00:00Z)"))
            }
            guard let seconds = parseTimestamp(t) else {
                return .failure(OptionError(key: "at_timestamp", "at_timestamp must be epoch seconds or an ISO time like 2026-11-22T10:00:00Z, not '\(t)'"))
            }
            k.initialPosition = .atTimestamp(seconds)
        case let other?:
            return .failure(OptionError(key: "initial_position", "initial_position must be trim_horizon, latest or at_timestamp, not '\(other)'"))
        }
        if o["at_timestamp"] != nil, case .atTimestamp = k.initialPosition {} else if o["at_timestamp"] != nil {
            return .failure(OptionError(key: "at_timestamp", "at_timestamp needs initial_position = 'at_timestamp'"))
        }
        if let m = o["max_records"] {
            guard let n = Int(m), (1...10_000).contains(n) else {
                return .failure(OptionError(key: "max_records", "max_records must be a whole number from 1 to 10000"))
            }
            k.maxRecords = n
        }
        for (key, minimum) in [("shard_sync_interval", Int64(1000)), ("poll_interval", Int64(200))] {
            guard let text = o[key] else { continue }
            switch Units.parseDuration(text) {
            case .failure(let e): return .failure(OptionError(key: key, "\(key): \(e.message)"))
            case .success(let ms):
                guard ms >= minimum else { return .failure(OptionError(key: key, "\(key) must be at least \(Units.formatDuration(minimum))")) }
                if key == "shard_sync_interval" { k.shardSyncInterval = ms } else { k.pollInterval = ms }
            }
        }
        switch parseCoordination(o) {
        case .failure(let e): return .failure(e)
        case .success(let c): k.coordination = c
        }
        return .success(k)
    }

    private static let leaseKeys = ["lease_table", "worker_id", "failover_time", "max_leases_per_worker"]

    static func parseCoordination(_ o: [String: String]) -> Result<Coordination, OptionError> {
        switch o["coordination"]?.lowercased() {
        case nil, "local":
            if let key = leaseKeys.first(where: { o[$0] != nil }) {
                return .failure(OptionError(key: key, "\(key) needs coordination = 'dynamodb'"))
            }
            return .success(.local)
        case "dynamodb":
            break
        case let other?:
            return .failure(OptionError(key: "coordination", "coordination must be 'local' or 'dynamodb', not '\(other)'"))
        }
        var lease = LeaseOptions()
        if let t = o["lease_table"] {
            // DynamoDB's rule for table names.
            let allowed = t.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D || c == 0x2E
            }
            guard (3...255).contains(t.utf8.count), allowed else {
                return .failure(OptionError(key: "lease_table", "lease_table must be 3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.', not '\(t)'"))
            }
            lease.table = t
        }
        if let w = o["worker_id"] {
            guard !w.isEmpty, w.utf8.count <= 256 else {
                return .failure(OptionError(key: "worker_id", "worker_id must be 1 to 256 characters"))
            }
            lease.workerID = w
        }
        if let text = o["failover_time"] {
            switch Units.parseDuration(text) {
            case .failure(let e): return .failure(OptionError(key: "failover_time", "failover_time: \(e.message)"))
            case .success(let ms):
                guard ms >= LeaseOptions.minimumFailoverTime else {
                    return .failure(OptionError(key: "failover_time", "failover_time must be at least \(Units.formatDuration(LeaseOptions.minimumFailoverTime))"))
                }
                lease.failoverTime = ms
            }
        }
        if let m = o["max_leases_per_worker"] {
            guard let n = Int(m), n >= 1 else {
                return .failure(OptionError(key: "max_leases_per_worker", "max_leases_per_worker must be a whole number of at least 1"))
            }
            lease.maxLeasesPerWorker = n
        }
        return .success(.dynamodb(lease))
    }

    /// Epoch seconds (with a fraction), or `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
    static func parseTimestamp(_ text: String) -> Double? {
        if let v = Double(text) { return v > 1e11 ? v / 1000 : v }
        let parts = text.replacing("Z", with: "").split(whereSeparator: { "-T:".contains($0) })
        guard parts.count == 6, let y = Int32(parts[0]), let mo = Int32(parts[1]), let d = Int32(parts[2]),
              let h = Int32(parts[3]), let mi = Int32(parts[4]), let s = Double(parts[5]) else { return nil }
        var tm = Glibc.tm()
        tm.tm_year = y - 1900
        tm.tm_mon = mo - 1
        tm.tm_mday = d
        tm.tm_hour = h
        tm.tm_min = mi
        tm.tm_sec = Int32(s)
        return Double(timegm(&tm)) + (s - Double(Int32(s)))
    }

    /// The `endpoint` option, else AWS's standard `AWS_ENDPOINT_URL_KINESIS`
    /// or `AWS_ENDPOINT_URL`, else nil (AWS itself).
    public func resolvedEndpoint(_ env: [String: String] = ProcessEnvironment.all()) -> String? {
        endpoint ?? KinesisEndpoint.fromEnvironment(env)
    }

    public func resolvedRegion(_ env: [String: String] = ProcessEnvironment.all()) -> String {
        region ?? env["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? env["AWS_DEFAULT_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1"
    }
}

/// Without `--checkpoint`, a kinesis source keeps its shard positions here,
/// keyed by `app_name`, as a KCL application keeps them in DynamoDB: a plain
/// restart resumes where the last committed batch ended.
final class KinesisPositionStore: Sendable {
    let path: String
    private let lock = ConditionLock(())

    init(appName: String, env: [String: String] = ProcessEnvironment.all()) {
        let base = env["EDDY_STATE_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? env["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 + "/eddy" }
            ?? (env["HOME"] ?? "/tmp") + "/.local/state/eddy"
        let safe = String(appName.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        path = base + "/kinesis-" + safe + ".positions"
    }

    /// `shard position` lines. No file means no positions yet (a first
    /// run). A file that cannot be read, or with a line that is not a
    /// position, is an error: taken as empty, it would silently restart every
    /// shard from `initial_position`.
    func load() throws(RuntimeError) -> [String: String] {
        let bytes: [UInt8]
        do {
            bytes = try Files.readAll(path)
        } catch {
            if error.code == ENOENT { return [:] }
            throw RuntimeError("kinesis positions: \(error). \(Self.remedy)")
        }
        var out: [String: String] = [:]
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for (number, line) in lines.enumerated() where !line.isEmpty {
            let parts = line.split(separator: " ")
            guard parts.count == 2, ShardPosition(String(parts[1])) != nil else {
                throw RuntimeError("kinesis positions \(path):\(number + 1): expected 'SHARD POSITION', found '\(line.prefix(200))'. \(Self.remedy)")
            }
            out[String(parts[0])] = String(parts[1])
        }
        return out
    }

    private static let remedy = "Repair the file, or remove it to read every shard from initial_position again"

    func save(_ updates: [String: String]) throws {
        try lock.withLock { _ in
            var all = try load()
            for (k, v) in updates { all[k] = v }
            try Files.makeDirectories(Files.parent(of: path))
            let text = all.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()
            try Files.writeAtomically(path, Array(text.utf8), sync: true)
        }
    }
}
