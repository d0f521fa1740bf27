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
    /// Page cache SQLite may use for batch, stream and window tables; beyond it
    /// pages go to a temp file, which is what bounds a long window's memory.
    public var sqliteCache: Int64 = 256 << 20
    /// Lanes: SQLite connections, each on its own thread, that work on
    /// different batches at once. `1` runs one batch at a time.
    public var parallelism: Int = Settings.cpusOnline

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
        ("sqlite_cache", "SQLite page cache for batch and window tables (default 256MB)"),
        ("parallelism", "lanes working on batches at once, 1-\(maxParallelism) (default: CPUs online)"),
    ]

    /// Applies one `key = value`. The error message names the key and the rule.
    public mutating func set(_ key: String, _ value: String) -> Result<Void, UnitError> {
        func duration(_ apply: (inout Settings, Int64) -> Void, positive: Bool = true) -> Result<Void, UnitError> {
            switch Units.parseDuration(value) {
            case .failure(let e): return .failure(UnitError("\(key): \(e.message)"))
            case .success(let ms):
                if positive && ms <= 0 { return .failure(UnitError("\(key) must be greater than 0")) }
                apply(&self, ms)
                return .success(())
            }
        }
        func size(_ apply: (inout Settings, Int64) -> Void, minimum: Int64 = 1) -> Result<Void, UnitError> {
            switch Units.parseByteSize(value) {
            case .failure(let e): return .failure(UnitError("\(key): \(e.message)"))
            case .success(let bytes):
                if bytes < minimum { return .failure(UnitError("\(key) must be at least \(Units.formatBytes(minimum))")) }
                apply(&self, bytes)
                return .success(())
            }
        }
        func count(_ apply: (inout Settings, Int64) -> Void) -> Result<Void, UnitError> {
            guard let n = Int64(value.trimmingSpaces), n >= 0 else {
                return .failure(UnitError("\(key) must be a whole number >= 0, not '\(value)'"))
            }
            apply(&self, n)
            return .success(())
        }
        switch key.lowercased() {
        case "batch_interval": return duration { $0.batchInterval = $1 }
        case "block_interval": return duration { $0.blockInterval = $1 }
        case "block_max_bytes":
            if case .success(let b) = Units.parseByteSize(value), b > 1 << 30 {
                return .failure(UnitError("block_max_bytes must be at most 1GB"))
            }
            return size({ $0.blockMaxBytes = $1 }, minimum: 1024)
        case "memory_budget": return size { $0.memoryBudget = $1 }
        case "disk_budget": return size({ $0.diskBudget = $1 }, minimum: 0)
        case "spill_dir":
            guard !value.isEmpty else { return .failure(UnitError("spill_dir must not be empty")) }
            spillDir = value
            return .success(())
        case "max_rate": return count { $0.maxRate = $1 }
        case "initial_rate": return count { $0.initialRate = $1 }
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
        case "stop_timeout": return duration { $0.stopTimeout = $1 }
        case "sqlite_cache": return size({ $0.sqliteCache = $1 }, minimum: 1 << 20)
        case "parallelism":
            guard let n = Int(value.trimmingSpaces), n >= 1, n <= Settings.maxParallelism else {
                return .failure(UnitError("parallelism must be a whole number from 1 to \(Settings.maxParallelism), not '\(value)'"))
            }
            parallelism = n
            return .success(())
        default:
            let known = Settings.keys.map(\.name).joined(separator: ", ")
            return .failure(UnitError("unknown setting '\(key)' (known: \(known))"))
        }
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
            ("parallelism", String(parallelism)),
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
