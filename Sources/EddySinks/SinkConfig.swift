/// A problem with a sink's options, naming the option.
public struct SinkOptionError: Error, Sendable, Equatable {
    public var key: String?
    public var message: String
    public init(key: String?, _ message: String) {
        self.key = key
        self.message = message
    }
}

/// Where `INSERT INTO sink ...` rows go.
public enum SinkConfig: Sendable, Equatable {
    case stdout(format: OutputFormat?)
    /// One file per batch, `PREFIX-BATCHTIMEMS.EXT`.
    case file(prefix: String, format: OutputFormat, emptyFiles: Bool)
    /// Rows and the batch marker in one transaction of the target database.
    case sqlite(path: String, table: String)
    case kinesis(stream: String, partitionKey: String, region: String?, endpoint: String?)

    static let specific: [String: Set<String>] = [
        "stdout": ["format"],
        "file": ["path", "format", "empty_files"],
        "sqlite": ["path", "table"],
        "kinesis": ["stream", "region", "endpoint", "partition_key"],
    ]

    public static func parse(_ options: [String: String]) -> Result<SinkConfig, SinkOptionError> {
        guard let connector = options["connector"]?.lowercased() else {
            return .failure(SinkOptionError(key: nil, "missing option 'connector' (one of: stdout, file, sqlite, kinesis)"))
        }
        guard let allowed = specific[connector] else {
            return .failure(SinkOptionError(key: "connector", "unknown sink connector '\(connector)' (known: stdout, file, sqlite, kinesis)"))
        }
        for key in options.keys.sorted() where key != "connector" && !allowed.contains(key) {
            return .failure(SinkOptionError(key: key, "unknown option '\(key)' for sink connector '\(connector)' (known: \(allowed.sorted().joined(separator: ", ")))"))
        }
        func format(default value: OutputFormat?) -> Result<OutputFormat?, SinkOptionError> {
            guard let f = options["format"] else { return .success(value) }
            guard let parsed = OutputFormat(rawValue: f.lowercased()) else {
                return .failure(SinkOptionError(key: "format", "unknown format '\(f)' (known: table, csv, tsv, jsonl)"))
            }
            return .success(parsed)
        }
        switch connector {
        case "stdout":
            return format(default: nil).map { .stdout(format: $0) }
        case "file":
            guard let path = options["path"], !path.isEmpty else {
                return .failure(SinkOptionError(key: nil, "sink connector 'file' needs option 'path' (a file name prefix, like 'out/counts')"))
            }
            var empty = false
            if let e = options["empty_files"] {
                switch e.lowercased() {
                case "on", "true", "yes", "1": empty = true
                case "off", "false", "no", "0": empty = false
                default: return .failure(SinkOptionError(key: "empty_files", "empty_files must be on or off"))
                }
            }
            switch format(default: .csv) {
            case .failure(let e): return .failure(e)
            case .success(let f):
                let fmt = f ?? .csv
                guard fmt != .table else { return .failure(SinkOptionError(key: "format", "file sinks write csv, tsv or jsonl")) }
                return .success(.file(prefix: path, format: fmt, emptyFiles: empty))
            }
        case "sqlite":
            guard let path = options["path"], !path.isEmpty else {
                return .failure(SinkOptionError(key: nil, "sink connector 'sqlite' needs option 'path' (the database file)"))
            }
            guard let table = options["table"], !table.isEmpty else {
                return .failure(SinkOptionError(key: nil, "sink connector 'sqlite' needs option 'table'"))
            }
            return .success(.sqlite(path: path, table: table))
        default:
            guard let stream = options["stream"], !stream.isEmpty else {
                return .failure(SinkOptionError(key: nil, "sink connector 'kinesis' needs option 'stream'"))
            }
            guard let key = options["partition_key"], !key.isEmpty else {
                return .failure(SinkOptionError(key: nil, "sink connector 'kinesis' needs option 'partition_key' (the column whose value is each record's partition key)"))
            }
            if let e = options["endpoint"], !(e.hasPrefix("http://") || e.hasPrefix("https://")) {
                return .failure(SinkOptionError(key: "endpoint", "endpoint must be a URL like 'http://127.0.0.1:4567'"))
            }
            return .success(.kinesis(stream: stream, partitionKey: key, region: options["region"], endpoint: options["endpoint"]))
        }
    }
}
