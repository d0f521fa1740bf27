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

/// Delivers the rows each sink collected during a batch, then empties the
/// collectors. File and SQLite sinks are idempotent per batch time, so a batch
/// re-run after a crash does not write twice.
public final class SinkSet {
    private final class Entry {
        let spec: SinkSpec
        let read: Statement
        let clear: Statement
        let file: FileSink?
        let sqlite: SQLiteSink?
        let kinesis: KinesisSink?
        init(spec: SinkSpec, read: Statement, clear: Statement, file: FileSink?, sqlite: SQLiteSink?, kinesis: KinesisSink?) {
            self.spec = spec
            self.read = read
            self.clear = clear
            self.file = file
            self.sqlite = sqlite
            self.kinesis = kinesis
        }
    }

    private let entries: [Entry]

    /// `rerunsPossible`: a checkpoint may run a batch again, so sinks skip
    /// batches their markers say they have. Without one, batches never run
    /// twice and every batch is written.
    public init(specs: [SinkSpec], database: Database, rerunsPossible: Bool = false) throws {
        var entries: [Entry] = []
        for spec in specs where !spec.columns.isEmpty {
            let table = "main." + quoteIdentifier(spec.name)
            let read = try database.prepare("SELECT * FROM \(table)")
            let clear = try database.prepare("DELETE FROM \(table)")
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
            entries.append(Entry(spec: spec, read: read, clear: clear, file: file, sqlite: sqlite, kinesis: kinesis))
        }
        self.entries = entries
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Hands each sink its rows for the batch at `batchTime`. Returns rows delivered.
    /// A failure names its sink (`SinkDeliveryFailure`), except that the
    /// reader of stdout going away stays `OutputClosed`.
    public func deliver(batchTime: Int64, database: Database, stdout: StdoutSink) throws -> Int64 {
        var total: Int64 = 0
        for e in entries {
            do {
                switch e.spec.config {
                case .stdout:
                    total += Int64(try stdout.emit(e.read))
                case .file:
                    if let file = e.file { total += Int64(try file.write(batchTime: batchTime, rows: e.read)) }
                case .sqlite:
                    if let sqlite = e.sqlite { total += Int64(try sqlite.write(batchTime: batchTime, rows: e.read)) }
                case .kinesis:
                    if let kinesis = e.kinesis { total += Int64(try kinesis.write(rows: e.read)) }
                }
                try e.clear.run()
            } catch let closed as OutputClosed {
                throw closed
            } catch {
                throw SinkDeliveryFailure(sink: e.spec.name, error: error)
            }
        }
        return total
    }

    /// Last batch time each SQLite sink has committed, for `eddy status`.
    public func markers() throws -> [(String, Int64?)] {
        try entries.compactMap { e in try e.sqlite.map { (e.spec.name, try $0.lastBatch()) } }
    }
}

/// A sink could not take its batch's rows; the engine reports it at the
/// sink's definition in the job file.
public struct SinkDeliveryFailure: Error {
    public var sink: String
    public var error: any Error
}
