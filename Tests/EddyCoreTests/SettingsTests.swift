import Testing
@testable import EddyCore

/// Applies one setting to fresh defaults; returns the settings or the message.
private func apply(_ key: String, _ value: String) -> (Settings, String?) {
    var s = Settings()
    switch s.set(key, value) {
    case .success: return (s, nil)
    case .failure(let e): return (s, e.message)
    }
}

@Suite("Settings.set")
struct SettingsTests {
    @Test func defaults() {
        let s = Settings()
        #expect(s.batchInterval == 1000)
        #expect(s.blockInterval == 200)
        #expect(s.blockMaxBytes == 4 << 20)
        #expect(s.memoryBudget == 256 << 20)
        #expect(s.diskBudget == 10 << 30)
        #expect(s.spillDir == nil)
        #expect(s.maxRate == 0)
        #expect(s.backpressure == false)
        #expect(s.initialRate == 0)
        #expect(s.walSync == .block)
        #expect(s.stopTimeout == 30_000)
        #expect(s.sqliteCache == 256 << 20)
        #expect(s.sortMemory == 2 << 20)
        #expect(s.statementTimeout == 0)
    }

    @Test func durations() {
        #expect(apply("batch_interval", "2s").0.batchInterval == 2000)
        #expect(apply("block_interval", "50ms").0.blockInterval == 50)
        #expect(apply("stop_timeout", "1m").0.stopTimeout == 60_000)
        #expect(apply("BATCH_INTERVAL", "500ms").0.batchInterval == 500, "keys are case-insensitive")
    }

    @Test func badDurationsNameTheKey() {
        #expect(apply("batch_interval", "0s").1 == "batch_interval must be from 10ms to 1d, not '0s'")
        #expect(apply("block_interval", "5").1 == "block_interval: bad duration '5': missing unit (write '5s' or '5ms')")
        #expect(apply("stop_timeout", "-1s").1 == "stop_timeout: bad duration '-1s': must not be negative")
        #expect(apply("batch_interval", "2 weeks").1?.hasPrefix("batch_interval: bad duration '2 weeks': unknown unit") == true)
    }

    @Test func sizes() {
        #expect(apply("block_max_bytes", "1MB").0.blockMaxBytes == 1 << 20)
        #expect(apply("block_max_bytes", "1KB").0.blockMaxBytes == 1024)
        #expect(apply("memory_budget", "64MB").0.memoryBudget == 64 << 20)
        #expect(apply("disk_budget", "0").0.diskBudget == 0, "a zero disk budget turns spilling off")
        #expect(apply("disk_budget", "2GB").0.diskBudget == 2 << 30)
        #expect(apply("sqlite_cache", "1MB").0.sqliteCache == 1 << 20)
        #expect(apply("sort_memory", "16MB").0.sortMemory == 16 << 20)
    }

    @Test func badSizesNameTheKey() {
        #expect(apply("block_max_bytes", "100").1 == "block_max_bytes must be from 1KB to 1GB, not '100'")
        #expect(apply("memory_budget", "0").1 == "memory_budget must be from 1B to 1TB, not '0'")
        #expect(apply("sqlite_cache", "512KB").1 == "sqlite_cache must be from 1MB to 1TB, not '512KB'")
        #expect(apply("sort_memory", "1GB").1 == "sort_memory must be from 1MB to 512MB, not '1GB'")
        #expect(apply("memory_budget", "4XB").1 == "memory_budget: bad size '4XB': unknown unit 'XB' (use B, KB, MB, GB or TB)")
        #expect(apply("disk_budget", "-1GB").1 == "disk_budget: bad size '-1GB': must not be negative")
    }

    @Test func spillDir() {
        #expect(apply("spill_dir", "/var/tmp/eddy").0.spillDir == "/var/tmp/eddy")
        #expect(apply("spill_dir", "").1 == "spill_dir must not be empty")
    }

    @Test func counts() {
        #expect(apply("max_rate", "500").0.maxRate == 500)
        #expect(apply("max_rate", " 7 ").0.maxRate == 7)
        #expect(apply("initial_rate", "0").0.initialRate == 0)
        #expect(apply("initial_rate", "1000").0.initialRate == 1000)
        #expect(apply("max_rate", "-1").1 == "max_rate: must be a whole number >= 0, not '-1'")
        #expect(apply("initial_rate", "1.5").1 == "initial_rate: must be a whole number >= 0, not '1.5'")
        #expect(apply("max_rate", "fast").1 == "max_rate: must be a whole number >= 0, not 'fast'")
    }

    @Test func backpressure() {
        for on in ["on", "ON", "true", "yes", "1"] { #expect(apply("backpressure", on).0.backpressure == true, "\(on)") }
        for off in ["off", "false", "No", "0"] {
            var s = Settings()
            s.backpressure = true
            _ = s.set("backpressure", off)
            #expect(s.backpressure == false, "\(off)")
        }
        #expect(apply("backpressure", "maybe").1 == "backpressure must be on or off, not 'maybe'")
    }

    @Test func walSync() {
        #expect(apply("wal_sync", "interval").0.walSync == .interval)
        #expect(apply("wal_sync", "OFF").0.walSync == .off)
        #expect(apply("wal_sync", "block").0.walSync == .block)
        #expect(apply("wal_sync", "sometimes").1 == "wal_sync must be 'block', 'interval' or 'off', not 'sometimes'")
    }

    @Test func unknownKeyListsEveryKey() throws {
        let message = try #require(apply("batch_size", "10").1)
        #expect(message.hasPrefix("unknown setting 'batch_size' (known: "))
        for key in Settings.keys.map(\.name) {
            #expect(message.contains(key), "message should list \(key)")
        }
    }

    @Test func everyListedKeyIsAccepted() {
        let good: [String: String] = [
            "batch_interval": "1s", "block_interval": "100ms", "block_max_bytes": "2MB", "memory_budget": "1GB",
            "disk_budget": "1GB", "spill_dir": "/tmp/s", "max_rate": "10", "backpressure": "on",
            "initial_rate": "5", "wal_sync": "off", "stop_timeout": "10s", "sqlite_cache": "64MB",
            "sort_memory": "4MB", "statement_timeout": "30s", "parallelism": "3", "ui": "127.0.0.1:4040",
            "hash_count": "off",
        ]
        #expect(Set(good.keys) == Set(Settings.keys.map(\.name)))
        for (key, value) in good {
            #expect(apply(key, value).1 == nil, "\(key) = \(value)")
        }
    }

    @Test func failedSetLeavesSettingsUnchanged() {
        var s = Settings()
        _ = s.set("batch_interval", "nonsense")
        _ = s.set("memory_budget", "0")
        #expect(s == Settings())
    }

    @Test func describedListsEveryKeyInOrder() {
        var s = Settings()
        _ = s.set("batch_interval", "2s")
        _ = s.set("memory_budget", "64MB")
        let described = s.described
        #expect(described.map(\.0) == Settings.keys.map(\.name))
        #expect(described.first { $0.0 == "batch_interval" }?.1 == "2s")
        #expect(described.first { $0.0 == "memory_budget" }?.1 == "64MB")
    }

    /// Absurd values are errors: `batch_interval = '1000000d'` never gives a
    /// first batch, and `sqlite_cache = '100TB'` overflows SQLite's KiB count.
    @Test func everyNumberHasBounds() {
        let cases: [(String, String, String)] = [
            ("batch_interval", "1000000d", "batch_interval must be from 10ms to 1d, not '1000000d'"),
            ("batch_interval", "5ms", "batch_interval must be from 10ms to 1d, not '5ms'"),
            ("block_interval", "2h", "block_interval must be from 10ms to 1h, not '2h'"),
            ("block_max_bytes", "2GB", "block_max_bytes must be from 1KB to 1GB, not '2GB'"),
            ("memory_budget", "2TB", "memory_budget must be from 1B to 1TB, not '2TB'"),
            ("disk_budget", "2048TB", "disk_budget must be from 0B to 1024TB, not '2048TB'"),
            ("sqlite_cache", "100TB", "sqlite_cache must be from 1MB to 1TB, not '100TB'"),
            ("stop_timeout", "50ms", "stop_timeout must be from 100ms to 1d, not '50ms'"),
            ("statement_timeout", "5ms", "statement_timeout must be 0 (none) or from 10ms to 1d, not '5ms'"),
            ("statement_timeout", "2d", "statement_timeout must be 0 (none) or from 10ms to 1d, not '2d'"),
            ("max_rate", "2000000000", "max_rate must be from 0 to 1000000000, not '2000000000'"),
        ]
        for (key, value, message) in cases {
            #expect(apply(key, value).1 == message, "\(key) = \(value)")
        }
        // The ends of each range are in it.
        #expect(apply("batch_interval", "10ms").0.batchInterval == 10)
        #expect(apply("batch_interval", "1d").0.batchInterval == 86_400_000)
        #expect(apply("sqlite_cache", "1TB").0.sqliteCache == 1 << 40)
        #expect(apply("statement_timeout", "0").0.statementTimeout == 0)
        #expect(apply("statement_timeout", "0s").0.statementTimeout == 0)
        #expect(apply("statement_timeout", "250ms").0.statementTimeout == 250)
        // The key list shows each range.
        let help = Dictionary(uniqueKeysWithValues: Settings.keys.map { ($0.name, $0.help) })
        #expect(help["batch_interval"]?.hasSuffix("; from 10ms to 1d") == true)
        #expect(help["statement_timeout"]?.hasSuffix("; 0 (none) or from 10ms to 1d") == true)
        #expect(Settings.bounds.keys.allSatisfy { help[$0] != nil })
    }

    @Test func trimmingSpaces() {
        #expect(" \t a b \r\n".trimmingSpaces == "a b")
        #expect("".trimmingSpaces == "")
        #expect("   ".trimmingSpaces == "")
        #expect("\r\n\r\nx\r\n".trimmingSpaces == "x", "CRLF is one Character in Swift")
        #expect(apply("max_rate", "7\r\n").0.maxRate == 7)
    }
}
