import CSQLite
import EddyCore
import EddySQL

/// One sink of the job, as the engine sees it: a collector table in the
/// engine's database that statements `INSERT INTO`, and where its rows go
/// when the batch ends.
public struct SinkSpec: Sendable {
    public var name: String
    public var config: SinkConfig
    public var columns: [String]

    public init(name: String, config: SinkConfig, columns: [String]) {
        self.name = name
        self.config = config
        self.columns = columns
    }
}

/// Where each sink's rows go: the file, the SQLite database, the Kinesis
/// stream. One set per run, shared by every lane; only the ordered tail uses
/// it, one batch at a time, in batch order. That discipline, not a lock,
/// makes the `@unchecked Sendable` sound (and keeps sinks in batch order).
public final class SinkTargets: @unchecked Sendable {
    final class Target {
        let spec: SinkSpec
        let file: FileSink?
        let sqlite: SQLiteSink?
        let kinesis: KinesisSink?
        init(spec: SinkSpec, file: FileSink?, sqlite: SQLiteSink?, kinesis: KinesisSink?) {
            self.spec = spec
            self.file = file
            self.sqlite = sqlite
            self.kinesis = kinesis
        }
    }

    let targets: [Target]

    /// `rerunsPossible`: a checkpoint may run a batch again, so sinks skip
    /// batches their markers say they have. Without one, batches never run
    /// twice and every batch is written.
    public init(specs: [SinkSpec], rerunsPossible: Bool = false) throws {
        var targets: [Target] = []
        for spec in specs where !spec.columns.isEmpty {
            var file: FileSink?
            var sqlite: SQLiteSink?
            var kinesis: KinesisSink?
            switch spec.config {
            case .file(let prefix, let format, let emptyFiles):
                file = FileSink(prefix: prefix, format: format, emptyFiles: emptyFiles)
            case .sqlite(let path, let tableName):
                sqlite = try SQLiteSink(name: spec.name, path: path, table: tableName, columns: spec.columns,
                                        skipApplied: rerunsPossible)
            case .kinesis(let stream, let key, let region, let endpoint):
                kinesis = try KinesisSink(name: spec.name, stream: stream, partitionKey: key, columns: spec.columns,
                                          region: region, endpoint: endpoint)
            case .stdout:
                break
            }
            targets.append(Target(spec: spec, file: file, sqlite: sqlite, kinesis: kinesis))
        }
        self.targets = targets
    }

    /// Last batch time each SQLite sink has committed, for `eddy status`.
    public func markers() throws -> [(String, Int64?)] {
        try targets.compactMap { t in try t.sqlite.map { (t.spec.name, try $0.lastBatch()) } }
    }
}

/// One lane's view of the sinks: the collector tables, in the lane's own
/// connection, that its statements `INSERT INTO` during a batch. At the end
/// of the batch, in the ordered tail, `deliver` hands their rows to the
/// shared targets and empties them: rows are never copied between lanes.
public final class SinkSet {
    private final class Entry {
        let target: SinkTargets.Target
        let read: Statement
        let clear: Statement
        init(target: SinkTargets.Target, read: Statement, clear: Statement) {
            self.target = target
            self.read = read
            self.clear = clear
        }
    }

    private let entries: [Entry]
    public let targets: SinkTargets

    public init(targets: SinkTargets, database: Database) throws {
        self.targets = targets
        entries = try targets.targets.map { target in
            let table = "main." + quoteIdentifier(target.spec.name)
            return Entry(target: target, read: try database.prepare("SELECT * FROM \(table)"),
                         clear: try database.prepare("DELETE FROM \(table)"))
        }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// What one sink took from a batch, and how long handing it over took.
    public struct Delivery: Sendable {
        public var sink: String
        public var rows: Int64
        public var nanos: Int64
    }

    /// Hands each sink its rows for the batch at `batchTime`, in the job's
    /// order of sinks. A failure names its sink (`SinkDeliveryFailure`),
    /// except that the reader of stdout going away stays `OutputClosed`.
    public func deliver(batchTime: Int64, stdout: StdoutSink) throws -> [Delivery] {
        var deliveries: [Delivery] = []
        deliveries.reserveCapacity(entries.count)
        for e in entries {
            let t = e.target
            let started = MonotonicTime.now()
            var rows = 0
            do {
                switch t.spec.config {
                case .stdout:
                    rows = try stdout.emit(e.read)
                case .file:
                    if let file = t.file { rows = try file.write(batchTime: batchTime, rows: e.read) }
                case .sqlite:
                    if let sqlite = t.sqlite { rows = try sqlite.write(batchTime: batchTime, rows: e.read) }
                case .kinesis:
                    if let kinesis = t.kinesis { rows = try kinesis.write(rows: e.read) }
                }
                try e.clear.run()
            } catch let closed as OutputClosed {
                throw closed
            } catch {
                throw SinkDeliveryFailure(sink: t.spec.name, error: error)
            }
            deliveries.append(Delivery(sink: t.spec.name, rows: Int64(rows), nanos: MonotonicTime.now() - started))
        }
        return deliveries
    }

    /// Empties the collectors without delivering (a batch that failed or was abandoned).
    public func discard() {
        for e in entries { try? e.clear.run() }
    }
}

/// A sink could not take its batch's rows; the engine reports it at the
/// sink's definition in the job file.
public struct SinkDeliveryFailure: Error {
    public var sink: String
    public var error: any Error
}
