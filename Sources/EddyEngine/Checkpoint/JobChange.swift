import EddyCore
import EddyIngest
import EddyJob
import EddySQL

/// A checkpoint belongs to one job text. A different job is refused with what
/// changed; `--force` accepts it when the sources and the STATE tables'
/// schemas are the same, since those are what the checkpoint's data means.
public struct JobChangeError: EddyError {
    public var message: String
    public var exitStatus: ExitStatus { .jobError }
    public var description: String { message }
}

public enum JobChange {
    /// FNV-1a, as a short label of the text (the texts themselves are compared).
    public static func hash(_ text: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Collapses whitespace, so re-indenting a CREATE is not a schema change.
    public static func normalize(_ sql: String) -> String {
        sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
    }

    /// What a source's logged blocks depend on: its columns and format.
    static func definition(of config: SourceConfig) -> String {
        let cols = config.schema.columns.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
        return "(\(cols)) format \(config.schema.format.rawValue)"
    }

    static func definition(of source: PlannedSource) -> String { definition(of: source.config) }

    static func stateTableSQL(_ name: String, _ definition: String) -> String {
        normalize("CREATE TABLE \(quoteIdentifier(CheckpointStore.schema)).\(quoteIdentifier(name)) \(definition)")
    }

    /// What a checkpoint's data depends on, read from the job file before
    /// anything is planned (planning creates STATE tables in the checkpoint).
    public struct Fingerprint: Sendable {
        public var path: String
        public var text: String
        public var batchInterval: Int64
        public var sources: [(name: String, definition: String)]
        public var stateTables: [String: String]

        public init(job: Job, overrides: [(String, String)]) {
            path = job.path
            text = job.text
            var settings = Settings()
            sources = []
            stateTables = [:]
            for statement in job.statements {
                switch statement.kind {
                case .set(let key, let value, _):
                    _ = settings.set(key.value, value)
                case .source(let s):
                    var options: [String: String] = [:]
                    for o in s.options { options[o.key] = o.value }
                    let columns = s.columns.map { ColumnSpec(name: $0.name, type: $0.type) }
                    switch SourceConfig.parse(columns: columns, options: options) {
                    case .success(let config): sources.append((s.name.value, JobChange.definition(of: config)))
                    case .failure: sources.append((s.name.value, "(invalid)"))
                    }
                case .stateTable(let t):
                    stateTables[t.name.key] = JobChange.stateTableSQL(t.name.value, t.definition.text)
                default:
                    break
                }
            }
            for (k, v) in overrides { _ = settings.set(k, v) }
            batchInterval = settings.batchInterval
        }
    }

    /// Checks a job against the one the checkpoint was made by.
    static func check(stored: CheckpointStore.StoredJob, job: Fingerprint, replay: Bool, force: Bool, directory: String) throws(JobChangeError) {
        if stored.batchInterval != job.batchInterval {
            throw JobChangeError(message: "checkpoint \(directory) was made with batch_interval = \(Units.formatDuration(stored.batchInterval)); this run has \(Units.formatDuration(job.batchInterval)). Batch times would not line up: use the same batch_interval, or a new checkpoint directory.")
        }
        if stored.replay != replay {
            throw JobChangeError(message: "checkpoint \(directory) was made by a \(stored.replay ? "--replay" : "live") run; it cannot continue as a \(replay ? "--replay" : "live") run")
        }
        if stored.text == job.text { return }
        let diff = lineDiff(old: stored.text, new: job.text)
        guard force else {
            throw JobChangeError(message: """
                checkpoint \(directory) was made by a different job text; refusing to continue from it.
                What changed (- in the checkpoint, + in \(job.path)):
                \(diff)
                Use --force to continue anyway (allowed when the sources and STATE tables are unchanged), or a new checkpoint directory.
                """)
        }
        var problems: [String] = []
        let newSources = job.sources
        if newSources.map({ "\($0.name) \($0.definition)" }) != stored.sources.map({ "\($0.name) \($0.definition)" }) {
            problems.append("sources: the checkpoint has \(stored.sources.map { "\($0.name) \($0.definition)" }.joined(separator: "; ")); the job has \(newSources.map { "\($0.name) \($0.definition)" }.joined(separator: "; "))")
        }
        let newTables = job.stateTables
        for name in Set(stored.stateTables.keys).union(newTables.keys).sorted() {
            switch (stored.stateTables[name], newTables[name]) {
            case (let old?, let new?) where old != new:
                problems.append("STATE TABLE \(name):\n  - \(old)\n  + \(new)")
            case (nil, let new?):
                problems.append("STATE TABLE \(name) is new:\n  + \(new)")
            case (let old?, nil):
                problems.append("STATE TABLE \(name) is gone:\n  - \(old)")
            default:
                break
            }
        }
        if !problems.isEmpty {
            throw JobChangeError(message: """
                checkpoint \(directory) was made by a different job text, and --force cannot be used: the data it holds does not fit the new job.
                \(problems.joined(separator: "\n"))
                """)
        }
    }

    /// A short line diff (longest common subsequence), with line numbers.
    static func lineDiff(old: String, new: String, limit: Int = 30) -> String {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let n = a.count, m = b.count
        var lcs = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n && j < m && a[i] == b[j] {
                i += 1; j += 1
            } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
                out.append("  +\(j + 1): \(b[j])")
                j += 1
            } else {
                out.append("  -\(i + 1): \(a[i])")
                i += 1
            }
        }
        if out.count > limit { out = Array(out.prefix(limit)) + ["  ... (\(out.count - limit) more lines)"] }
        return out.joined(separator: "\n")
    }
}
