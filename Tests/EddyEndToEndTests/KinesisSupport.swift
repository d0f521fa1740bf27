import EddyKinesis
import EddySQL
import Foundation

/// What the kinesis suites share: a server, credentials, a job that copies a
/// stream into a sqlite sink, and the sink's ids.
protocol KinesisTesting {
    var moto: MotoServer { get }
}

extension KinesisTesting {
    func env(_ state: String) -> [String: String] {
        ["AWS_ACCESS_KEY_ID": MotoServer.credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": MotoServer.credentials.secretAccessKey,
         "AWS_REGION": "us-east-1", "EDDY_STATE_DIR": state]
    }

    func put(_ stream: String, _ records: [(key: String, text: String)], on server: MotoServer? = nil) throws {
        let writer = KinesisWriter(client: (server ?? moto).client, stream: stream)
        for r in records { try writer.add(data: Array(r.text.utf8), partitionKey: r.key) }
        try writer.flush()
    }

    /// `id,key,n` rows of the sink, as a multiset of ids.
    func sinkIDs(_ db: String) -> [Int: Int] {
        guard let d = try? Database(path: db, readOnly: true), let s = try? d.prepare("SELECT id FROM rows", persistent: false) else { return [:] }
        var out: [Int: Int] = [:]
        while (try? s.step()) == true { out[Int(s.int64(0)), default: 0] += 1 }
        return out
    }

    func job(_ dir: TempDir, stream: String, start: String, extra: String = "", batch: String = "300ms",
             on server: MotoServer? = nil) throws -> String {
        try dir.write("job.sql", """
            SET batch_interval = '\(batch)';
            CREATE SOURCE ev (id INTEGER, k TEXT) WITH (connector = 'kinesis', stream = '\(stream)', endpoint = '\((server ?? moto).url)',
              format = 'csv', initial_position = '\(start)', poll_interval = '200ms', shard_sync_interval = '1s'\(extra));
            CREATE SINK rows WITH (connector = 'sqlite', path = '\(dir.path)/sink.db', table = 'rows');
            INSERT INTO rows SELECT id, k, batch_time() AS t, _shard AS shard, rowid AS r FROM ev;
            """)
    }

    /// Rows of the sink, in eddy's order (batch, then load order), whose id
    /// is lower than an earlier id of the same key.
    func outOfOrderPerKey(_ db: String) throws -> Int {
        let d = try Database(path: db, readOnly: true)
        let s = try d.prepare("SELECT k, id FROM rows ORDER BY t, r", persistent: false)
        var lastPerKey: [String: Int64] = [:]
        var disorder = 0
        while try s.step() {
            let k = s.string(0) ?? ""
            if let l = lastPerKey[k], s.int64(1) < l { disorder += 1 }
            lastPerKey[k] = s.int64(1)
        }
        return disorder
    }

    /// Records `from..<to` with keys `key0…key(keys-1)`, as `id,key` lines.
    func records(_ from: Int, _ to: Int, keys: Int = 10) -> [(key: String, text: String)] {
        (from..<to).map { (key: "key\($0 % keys)", text: "\($0),key\($0 % keys)") }
    }

    /// Epoch milliseconds, as the server sees them (same machine).
    func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
