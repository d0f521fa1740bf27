import EddyCore
import EddyKinesis
import EddySQL

/// `connector = 'kinesis'`: each row becomes one record, the row as a JSON
/// object (as `--format jsonl` prints it), its partition key the value of
/// the `partition_key` column. PutRecords carries up to 500 records and 5 MB,
/// and only failed entries are sent again. At-least-once: a batch re-run
/// after a crash puts its rows again.
final class KinesisSink {
    let name: String
    let keyColumn: Int
    let writer: KinesisWriter
    private let encoder = OutputWriter.memory()

    init(name: String, stream: String, partitionKey: String, columns: [String], region: String?, endpoint: String?) throws {
        self.name = name
        guard let index = columns.firstIndex(where: { $0.lowercased() == partitionKey.lowercased() }) else {
            throw RuntimeError("sink \(name): partition_key '\(partitionKey)' is not one of its columns (\(columns.joined(separator: ", ")))")
        }
        keyColumn = index
        let env = ProcessEnvironment.all()
        let resolvedRegion = region ?? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? "us-east-1"
        let client = KinesisClient(endpoint: KinesisEndpoint(region: resolvedRegion, endpoint: endpoint ?? KinesisEndpoint.fromEnvironment(env)),
                                   credentials: try AWSCredentials.resolve())
        writer = KinesisWriter(client: client, stream: stream)
    }

    func write(rows: Statement) throws -> Int {
        let names = rows.columnNames.map { Array($0.utf8) }
        var count = 0
        do {
            while try rows.step() {
                try RowEncoder.jsonl(rows, names: names, to: encoder)
                var data = encoder.take()
                if data.last == 0x0A { data.removeLast() }
                let key = rows.string(keyColumn) ?? ""
                try writer.add(data: data, partitionKey: key.isEmpty ? "-" : String(key.prefix(256)))
                count += 1
            }
            rows.reset()
            try writer.flush()
        } catch {
            rows.reset()
            throw RuntimeError("sink \(name): \(error)")
        }
        return count
    }
}
