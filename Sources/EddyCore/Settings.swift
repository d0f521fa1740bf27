import Glibc

/// The job-wide settings a job sets with `SET key = value` or the command line
/// with `--set key=value` (the command line wins). Every key is validated
/// here, once, so the rest of eddy reads typed values.
public struct Settings: Sendable, Equatable {
    /// Length of a micro-batch. Batch times are multiples of it (epoch ms).
    public var batchInterval: Int64 = 1000
    /// How often a receiver seals its current block.
    public var blockInterval: Int64 = 200
    /// A block is sealed early once its uncompressed records reach this size.
    public var blockMaxBytes: Int64 = 4 << 20
    /// Compressed bytes the block store keeps in memory before spilling to disk.
    public var memoryBudget: Int64 = 256 << 20
    /// Compressed bytes of spill files allowed on disk before receivers pause.
    public var diskBudget: Int64 = 10 << 30
    /// Where spill files go; nil means a private temp dir (or the checkpoint dir).
    public var spillDir: String? = nil
    /// Records per second per receiver; 0 means no limit.
    public var maxRate: Int64 = 0
    /// Adapt each receiver's rate to what batches can process (Spark's PID estimator).
    public var backpressure: Bool = false
    /// Rate cap for the first batches while backpressure has no estimate yet; 0 = none.
    public var initialRate: Int64 = 0
    /// When the write-ahead log is fsynced.
    public var walSync: WALSync = .block
    /// How long a graceful stop may take before eddy gives up and exits.
    public var stopTimeout: Int64 = 30_000
    /// Page cache SQLite may use for window and state tables, across all
    /// lanes; beyond it pages go to a temp file, which is what bounds a long
    /// window's memory.
    public var sqliteCache: Int64 = 256 << 20
    /// SQLite's sort memory per lane (GROUP BY, ORDER BY, DISTINCT). SQLite
    /// takes it from the page cache size of the lane's own database, so it is
    /// also that cache (batch, stream and start-up tables). A sort larger
    /// than it writes sorted runs to a temp file and merges them, which is
    /// faster than one large sort in memory: runs that fit the CPU's cache
    /// sort about 1.5 times as fast (README, Performance).
    public var sortMemory: Int64 = 2 << 20
    /// Count `SELECT k, count(*) ... GROUP BY k` in a hash table rather than
    /// with SQLite's sort (Plan/HashCounting.swift); off runs every query as
    /// SQLite would, which tests compare against.
    public var hashCount: Bool = true
    /// Lanes: SQLite connections, each on its own thread, that work on
    /// different batches at once. `1` runs one batch at a time.
    public var parallelism: Int = Settings.cpusOnline
    /// How long one statement of the job may run before it is interrupted; 0
    /// means no limit. A job file is code: this is what stops a runaway query
    /// (a recursive CTE that never ends) from holding the engine forever.
    public var statementTimeout: Int64 = 0
    /// Where to serve the monitor (`HOST:PORT`), as `--ui` does; nil: no UI.
    /// A non-loopback host also needs `--ui-token` on the command line.
    public var ui: String? = nil

    public init() {}

    /// The most lanes a job may ask for: each is a thread and a connection
    /// with its own page cache, and batches beyond the cores only queue.
    public static let maxParallelism = 64

    /// CPUs online when eddy started: the default number of lanes.
    public static let cpusOnline: Int = {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? min(Int(n), maxParallelism) : 1
    }()

    public enum WALSync: String, Sendable, Equatable, CaseIterable {
        case block, interval, off
    }

    /// The range a number-valued setting must fall in. Values outside it are
    /// mistakes (`batch_interval = '1000000d'`: the first batch never comes)
    /// or overflow what they feed (`sqlite_cache` becomes a 32-bit KiB count).
    public struct Bounds: Sendable, Equatable {
        public enum Unit: Sendable, Equatable { case duration, bytes, count }
        public var unit: Unit
        public var min: Int64
        public var max: Int64
        /// A value that is allowed outside the range, meaning "none" (0 for statement_timeout).
        public var off: Int64?

        public func format(_ v: Int64) -> String {
            switch unit {
            case .duration: return Units.formatDuration(v)
            case .bytes: return Units.formatBytes(v)
            case .count: return String(v)
            }
        }

        /// `from 10ms to 1d`, or `0 (none) or from 10ms to 1d`.
        public var described: String {
            let range = "from \(format(min)) to \(format(max))"
            guard let off else { return range }
            return "\(off) (none) or \(range)"
        }

        public func contains(_ v: Int64) -> Bool { v == off || (v >= min && v <= max) }
    }

    /// The bounds of every number-valued setting, in one place: `set` enforces
    /// them, and `eddy check`'s key list and the README show them.
    public static let bounds: [String: Bounds] = [
        "batch_interval": Bounds(unit: .duration, min: 10, max: 86_400_000),
        "block_interval": Bounds(unit: .duration, min: 10, max: 3_600_000),
        "block_max_bytes": Bounds(unit: .bytes, min: 1 << 10, max: 1 << 30),
        "memory_budget": Bounds(unit: .bytes, min: 1, max: 1 << 40),
        "disk_budget": Bounds(unit: .bytes, min: 0, max: 1 << 50),
        "max_rate": Bounds(unit: .count, min: 0, max: 1_000_000_000),
        "initial_rate": Bounds(unit: .count, min: 0, max: 1_000_000_000),
        "stop_timeout": Bounds(unit: .duration, min: 100, max: 86_400_000),
        "sqlite_cache": Bounds(unit: .bytes, min: 1 << 20, max: 1 << 40),
        // SQLite sorts in runs of at least 250 pages, and at most 512MB.
        "sort_memory": Bounds(unit: .bytes, min: 1 << 20, max: 512 << 20),
        "statement_timeout": Bounds(unit: .duration, min: 10, max: 86_400_000, off: 0),
    ]

    /// The longest `RANGE` or `SLIDE` a window may have: a window's batches
    /// are kept (and reloaded after a restart) for its whole range.
    public static let maxWindowSpan: Int64 = 30 * 86_400_000

    /// Every key, with what it takes; `eddy check` and error messages list them.
    public static let keys: [(name: String, help: String)] = [
        ("batch_interval", "duration of a micro-batch, e.g. '1s' (default 1s)"),
        ("block_interval", "how often receivers seal a block, e.g. '200ms' (default 200ms)"),
        ("block_max_bytes", "seal a block early at this size (default 4MB)"),
        ("memory_budget", "compressed block bytes kept in memory before spilling (default 256MB)"),
        ("disk_budget", "spill bytes allowed on disk before receivers pause (default 10GB)"),
        ("spill_dir", "directory for spill files (default: private temp dir)"),
        ("max_rate", "records/s per receiver, 0 = unlimited (default 0)"),
        ("backpressure", "on|off: adapt receiver rates to processing speed (default off)"),
        ("initial_rate", "records/s per receiver for the first batches with backpressure (default 0 = none)"),
        ("wal_sync", "block|interval|off: when the write-ahead log is fsynced (default block)"),
        ("stop_timeout", "how long a graceful stop may take (default 30s)"),
        ("sqlite_cache", "SQLite page cache for window and state tables, all lanes together (default 256MB)"),
        ("sort_memory", "per lane: SQLite's sort memory, and the cache of batch, stream and start-up tables (default 2MB)"),
        ("hash_count", "on|off: count GROUP BY k with count(*) in a hash table, not SQLite's sort (default on)"),
        ("parallelism", "lanes working on batches at once, 1-\(maxParallelism) (default: CPUs online)"),
        ("statement_timeout", "how long one statement of the job may run, 0 = no limit (default 0)"),
        ("ui", "serve the monitor (web page, /metrics, /api) on HOST:PORT, like --ui (default: off)"),
    ].map { (key: (String, String)) -> (name: String, help: String) in
        guard let b = bounds[key.0] else { return (name: key.0, help: key.1) }
        return (name: key.0, help: key.1 + "; \(b.described)")
    }

    /// Applies one `key = value`. The error message names the key and the rule.
    public mutating func set(_ key: String, _ value: String) -> Result<Void, UnitError> {
        let name = key.lowercased()
        /// Parses a number-valued setting and checks it against its bounds.
        func bounded(_ parse: (String) -> Result<Int64, UnitError>, _ apply: (inout Settings, Int64) -> Void) -> Result<Void, UnitError> {
            switch parse(value) {
            case .failure(let e): return .failure(UnitError("\(name): \(e.message)"))
            case .success(let v):
                if let b = Settings.bounds[name], !b.contains(v) {
                    return .failure(UnitError("\(name) must be \(b.described), not '\(value.trimmingSpaces)'"))
                }
                apply(&self, v)
                return .success(())
            }
        }
        func count(_ text: String) -> Result<Int64, UnitError> {
            guard let n = Int64(text.trimmingSpaces), n >= 0 else {
                return .failure(UnitError("must be a whole number >= 0, not '\(text)'"))
            }
            return .success(n)
        }
        switch name {
        case "batch_interval": return bounded(Units.parseDuration) { $0.batchInterval = $1 }
        case "block_interval": return bounded(Units.parseDuration) { $0.blockInterval = $1 }
        case "block_max_bytes": return bounded(Units.parseByteSize) { $0.blockMaxBytes = $1 }
        case "memory_budget": return bounded(Units.parseByteSize) { $0.memoryBudget = $1 }
        case "disk_budget": return bounded(Units.parseByteSize) { $0.diskBudget = $1 }
        case "spill_dir":
            guard !value.isEmpty else { return .failure(UnitError("spill_dir must not be empty")) }
            spillDir = value
            return .success(())
        case "max_rate": return bounded(count) { $0.maxRate = $1 }
        case "initial_rate": return bounded(count) { $0.initialRate = $1 }
        case "backpressure":
            guard let on = Settings.parseSwitch(value) else {
                return .failure(UnitError("backpressure must be on or off, not '\(value)'"))
            }
            backpressure = on
            return .success(())
        case "wal_sync":
            guard let mode = WALSync(rawValue: value.lowercased()) else {
                return .failure(UnitError("wal_sync must be 'block', 'interval' or 'off', not '\(value)'"))
            }
            walSync = mode
            return .success(())
        case "hash_count":
            guard let on = Settings.parseSwitch(value) else {
                return .failure(UnitError("hash_count must be on or off, not '\(value)'"))
            }
            hashCount = on
            return .success(())
        case "parallelism":
            guard let n = Int(value.trimmingSpaces), n >= 1, n <= Settings.maxParallelism else {
                return .failure(UnitError("parallelism must be a whole number from 1 to \(Settings.maxParallelism), not '\(value)'"))
            }
            parallelism = n
            return .success(())
        case "stop_timeout": return bounded(Units.parseDuration) { $0.stopTimeout = $1 }
        case "sqlite_cache": return bounded(Units.parseByteSize) { $0.sqliteCache = $1 }
        case "sort_memory": return bounded(Units.parseByteSize) { $0.sortMemory = $1 }
        case "statement_timeout":
            // A bare 0 means "no limit", as in max_rate; any other value needs its unit.
            if value.trimmingSpaces == "0" {
                statementTimeout = 0
                return .success(())
            }
            return bounded(Units.parseDuration) { $0.statementTimeout = $1 }
        case "ui":
            guard let problem = Settings.hostPortProblem(value) else {
                ui = value.trimmingSpaces
                return .success(())
            }
            return .failure(UnitError("ui must be HOST:PORT, like '127.0.0.1:4040': \(problem)"))
        default:
            let known = Settings.keys.map(\.name).joined(separator: ", ")
            return .failure(UnitError("unknown setting '\(key)' (known: \(known))"))
        }
    }

    /// What is wrong with a `HOST:PORT` (`[::1]:PORT` for IPv6), or nil.
    /// (EddyIngest's `HostPort.parse` makes the address from it.)
    static func hostPortProblem(_ text: String) -> String? {
        let t = text.trimmingSpaces
        let portText: Substring
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]"), t[t.index(after: close)...].hasPrefix(":") else {
                return "'\(text)' has no ]:PORT"
            }
            portText = t[t.index(close, offsetBy: 2)...]
        } else {
            guard let colon = t.lastIndex(of: ":") else { return "'\(text)' has no :PORT" }
            portText = t[t.index(after: colon)...]
        }
        guard UInt16(portText) != nil else { return "the port must be a number from 0 to 65535, not '\(portText)'" }
        return nil
    }

    public static func parseSwitch(_ value: String) -> Bool? {
        switch value.lowercased() {
        case "on", "true", "yes", "1": return true
        case "off", "false", "no", "0": return false
        default: return nil
        }
    }

    /// The settings as `key = value` lines, for the plan and the checkpoint.
    public var described: [(String, String)] {
        [
            ("batch_interval", Units.formatDuration(batchInterval)),
            ("block_interval", Units.formatDuration(blockInterval)),
            ("block_max_bytes", Units.formatBytes(blockMaxBytes)),
            ("memory_budget", Units.formatBytes(memoryBudget)),
            ("disk_budget", Units.formatBytes(diskBudget)),
            ("spill_dir", spillDir ?? "(private temp dir)"),
            ("max_rate", String(maxRate)),
            ("backpressure", backpressure ? "on" : "off"),
            ("initial_rate", String(initialRate)),
            ("wal_sync", walSync.rawValue),
            ("stop_timeout", Units.formatDuration(stopTimeout)),
            ("sqlite_cache", Units.formatBytes(sqliteCache)),
            ("sort_memory", Units.formatBytes(sortMemory)),
            ("hash_count", hashCount ? "on" : "off"),
            ("parallelism", String(parallelism)),
            ("statement_timeout", statementTimeout == 0 ? "0" : Units.formatDuration(statementTimeout)),
            ("ui", ui ?? "off"),
        ]
    }
}

extension String {
    public var trimmingSpaces: String {
        var s = Substring(self)
        // "\r\n" is a single Character in Swift, so it is listed on its own.
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\r\n" }
        while let f = s.first, isSpace(f) { s.removeFirst() }
        while let l = s.last, isSpace(l) { s.removeLast() }
        return String(s)
    }
}
