import EddyCore

/// A problem with a source's `WITH (...)` options, naming the option so the
/// planner can point at it in the job file.
public struct OptionError: Error, Sendable, Equatable {
    /// The offending option, or nil when one is missing.
    public var key: String?
    public var message: String
    public init(key: String?, _ message: String) {
        self.key = key
        self.message = message
    }
}

public struct GeneratorOptions: Sendable, Equatable {
    /// Records per second per shard; 0 = as fast as possible.
    public var rate: Int64 = 1000
    public var words: Int = 8
    public var vocab: Int = 1000
    public var seed: UInt64 = 0
    public var shards: Int = 1
}

public struct FileSourceOptions: Sendable, Equatable {
    /// A directory, or a glob such as `in/*.csv`.
    public var path: String
    /// Optional glob on file names within a directory.
    public var pattern: String?
}

/// `ack = on` for `socket` and `listen` (see `Acknowledger`).
public struct AckPolicy: Sendable, Equatable {
    /// `ack_timeout`: how long a producer's acks may wait unwritten (the
    /// connection's buffers full: it does not read) before it is disconnected.
    public var timeoutMs: Int64

    public static let defaultTimeoutMs: Int64 = 30_000
    public static let timeoutRange: ClosedRange<Int64> = 100...86_400_000

    public init(timeoutMs: Int64 = defaultTimeoutMs) { self.timeoutMs = timeoutMs }
}

/// Which connector a source uses, with its options parsed and checked.
public enum Connector: Sendable, Equatable {
    case generator(GeneratorOptions)
    /// `ack` is nil when off.
    case socket([HostPort], ack: AckPolicy?)
    case listen(HostPort, maxConnections: Int, ack: AckPolicy?)
    case stdin
    case file(FileSourceOptions)
    case kinesis(KinesisOptions)

    public var name: String {
        switch self {
        case .generator: return "generator"
        case .socket: return "socket"
        case .listen: return "listen"
        case .stdin: return "stdin"
        case .file: return "file"
        case .kinesis: return "kinesis"
        }
    }

    /// Whether the source has receiver threads (file and replay are read per batch).
    public var hasReceivers: Bool {
        switch self {
        case .file: return false
        default: return true
        }
    }

    /// Whether the input can end by itself (stdin at EOF).
    public var isFinite: Bool { self == .stdin }
}

/// A source's connector, format and per-source settings.
public struct SourceConfig: Sendable, Equatable {
    public var connector: Connector
    public var schema: SourceSchema
    /// `errors = 'path'`: bad records go to this file instead of stderr.
    public var errorsPath: String?
    /// Per-source `max_rate`, overriding the job-wide setting.
    public var maxRate: Int64?

    public static let connectors = ["generator", "socket", "listen", "stdin", "file", "kinesis"]

    /// Options every connector takes.
    static let common: Set<String> = ["connector", "format", "errors", "max_rate", "header"]

    static let specific: [String: Set<String>] = [
        "generator": ["rate", "words", "vocab", "seed", "shards"],
        "socket": ["address", "ack", "ack_timeout"],
        "listen": ["address", "max_connections", "ack", "ack_timeout"],
        "stdin": [],
        "file": ["path", "pattern"],
        "kinesis": KinesisOptions.keys,
    ]

    /// Builds a source from its declared columns and `WITH` options.
    public static func parse(columns declared: [ColumnSpec],
                             options: [String: String]) -> Result<SourceConfig, OptionError> {
        guard let connectorName = options["connector"] else {
            return .failure(OptionError(key: nil, "missing option 'connector' (one of: \(connectors.joined(separator: ", ")))"))
        }
        let name = connectorName.lowercased()
        guard let allowed = specific[name] else {
            return .failure(OptionError(key: "connector",
                "unknown connector '\(connectorName)' (known: \(connectors.joined(separator: ", ")))"))
        }
        for key in options.keys.sorted() where !common.contains(key) && !allowed.contains(key) {
            let known = (allowed.union(common)).sorted().joined(separator: ", ")
            return .failure(OptionError(key: key, "unknown option '\(key)' for connector '\(name)' (known: \(known))"))
        }

        var format = RecordFormat.lines
        if let f = options["format"] {
            guard let parsed = RecordFormat(rawValue: f.lowercased()) else {
                return .failure(OptionError(key: "format", "unknown format '\(f)' (known: lines, csv, tsv, jsonl)"))
            }
            format = parsed
        }
        var columns = declared
        if format == .lines {
            if columns.isEmpty { columns = [ColumnSpec(name: "line", type: "TEXT")] }
            guard columns.count == 1 else {
                return .failure(OptionError(key: "format", "format 'lines' gives one TEXT column, but \(columns.count) columns are declared"))
            }
        } else if columns.isEmpty {
            return .failure(OptionError(key: "format", "format '\(format.rawValue)' needs declared columns, like (id INTEGER, name TEXT)"))
        }
        var header = false
        if let h = options["header"] {
            guard let on = Settings.parseSwitch(h) else { return .failure(OptionError(key: "header", "header must be on or off")) }
            guard format == .csv || format == .tsv || !on else {
                return .failure(OptionError(key: "header", "header applies to csv and tsv only"))
            }
            header = on
        }
        var ack: AckPolicy?
        if let a = options["ack"] {
            guard let on = Settings.parseSwitch(a) else { return .failure(OptionError(key: "ack", "ack must be on or off")) }
            ack = on ? AckPolicy() : nil
        }
        if let t = options["ack_timeout"] {
            guard ack != nil else { return .failure(OptionError(key: "ack_timeout", "ack_timeout applies with ack = on")) }
            let range = AckPolicy.timeoutRange
            switch Units.parseDuration(t) {
            case .failure(let e): return .failure(OptionError(key: "ack_timeout", "ack_timeout: \(e.message)"))
            case .success(let ms):
                guard range.contains(ms) else {
                    return .failure(OptionError(key: "ack_timeout", "ack_timeout must be from \(Units.formatDuration(range.lowerBound)) to \(Units.formatDuration(range.upperBound)), not '\(t)'"))
                }
                ack = AckPolicy(timeoutMs: ms)
            }
        }
        var maxRate: Int64?
        if let r = options["max_rate"] {
            guard let n = Int64(r), n >= 0 else { return .failure(OptionError(key: "max_rate", "max_rate must be a whole number >= 0")) }
            maxRate = n
        }

        let connector: Connector
        switch name {
        case "generator":
            guard format == .lines else {
                return .failure(OptionError(key: "format", "the generator makes lines; use format 'lines'"))
            }
            var g = GeneratorOptions()
            func int(_ key: String, min: Int64, max: Int64 = Int64.max) -> Result<Int64?, OptionError> {
                guard let text = options[key] else { return .success(nil) }
                guard let v = Int64(text), v >= min, v <= max else {
                    return .failure(OptionError(key: key, "\(key) must be a whole number from \(min)\(max == Int64.max ? " up" : " to \(max)"), not '\(text)'"))
                }
                return .success(v)
            }
            switch int("rate", min: 0) { case .failure(let e): return .failure(e); case .success(let v): if let v { g.rate = v } }
            switch int("words", min: 1, max: 10_000) { case .failure(let e): return .failure(e); case .success(let v): if let v { g.words = Int(v) } }
            switch int("vocab", min: 1, max: 10_000_000) { case .failure(let e): return .failure(e); case .success(let v): if let v { g.vocab = Int(v) } }
            switch int("shards", min: 1, max: 256) { case .failure(let e): return .failure(e); case .success(let v): if let v { g.shards = Int(v) } }
            if let s = options["seed"] {
                guard let v = UInt64(s) else { return .failure(OptionError(key: "seed", "seed must be a whole number >= 0, not '\(s)'")) }
                g.seed = v
            }
            connector = .generator(g)
        case "socket":
            guard let list = options["address"] else {
                return .failure(OptionError(key: nil, "connector 'socket' needs option 'address' (host:port, comma-separated for several)"))
            }
            var addresses: [HostPort] = []
            for part in list.split(separator: ",") {
                switch HostPort.parse(String(part)) {
                case .failure(let e): return .failure(OptionError(key: "address", e.message))
                case .success(let a): addresses.append(a)
                }
            }
            guard !addresses.isEmpty else { return .failure(OptionError(key: "address", "address is empty")) }
            connector = .socket(addresses, ack: ack)
        case "listen":
            guard let text = options["address"] else {
                return .failure(OptionError(key: nil, "connector 'listen' needs option 'address' to bind, like '0.0.0.0:9999'"))
            }
            let address: HostPort
            switch HostPort.parse(text) {
            case .failure(let e): return .failure(OptionError(key: "address", e.message))
            case .success(let a): address = a
            }
            var maxConnections = 64
            if let m = options["max_connections"] {
                guard let v = Int(m), v >= 1, v <= 10_000 else {
                    return .failure(OptionError(key: "max_connections", "max_connections must be a whole number from 1 to 10000"))
                }
                maxConnections = v
            }
            connector = .listen(address, maxConnections: maxConnections, ack: ack)
        case "stdin":
            connector = .stdin
        case "file":
            guard let path = options["path"], !path.isEmpty else {
                return .failure(OptionError(key: nil, "connector 'file' needs option 'path' (a directory or a glob)"))
            }
            connector = .file(FileSourceOptions(path: path, pattern: options["pattern"]))
        default:
            switch KinesisOptions.parse(options) {
            case .failure(let e): return .failure(e)
            case .success(let k): connector = .kinesis(k)
            }
        }
        return .success(SourceConfig(connector: connector, schema: SourceSchema(columns: columns, format: format, header: header),
                                     errorsPath: options["errors"], maxRate: maxRate))
    }
}
