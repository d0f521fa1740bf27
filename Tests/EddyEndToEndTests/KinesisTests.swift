import EddyCore
import EddyKinesis
import EddySQL
import Foundation
import Glibc
import Testing

/// The kinesis connector, sink and producer against a real Kinesis-compatible
/// server on 127.0.0.1 (moto, see MotoServer), a fresh stream per test.
@Suite(.serialized) struct KinesisTests: KinesisTesting {
    let moto: MotoServer

    init() throws {
        moto = try #require(MotoServer.shared, "moto_server did not start: is moto[server] installed? (scripts/setup.sh installs it)")
    }

    @Test func fourShardsAHundredThousandRecordsExactCountsPerKey() throws {
        let stream = try moto.freshStream(shards: 4)
        let n = 100_000
        try put(stream, (0..<n).map { (key: "k\($0 % 97)", text: "\($0),k\($0 % 97)") })
        let dir = try TempDir()
        let path = try job(dir, stream: stream, start: "trim_horizon")
        let eddy = try EddyProcess(["run", path, "--quiet"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 180) { sinkIDs(dir.path + "/sink.db").count >= n })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let d = try Database(path: dir.path + "/sink.db", readOnly: true)
        let s = try d.prepare("SELECT k, count(*), count(DISTINCT id), count(DISTINCT shard) FROM rows GROUP BY k", persistent: false)
        var keys = 0, shards = Set<Int>()
        while try s.step() {
            keys += 1
            let k = Int(s.string(0)?.dropFirst() ?? "") ?? -1
            let expected = (0..<n).filter { $0 % 97 == k }.count
            #expect(s.int64(1) == Int64(expected) && s.int64(2) == Int64(expected), "key k\(k)")
            shards.insert(Int(s.int64(3)))
        }
        #expect(keys == 97)
        #expect(try d.scalar("SELECT count(DISTINCT shard) FROM rows") == .integer(4))
    }

    /// LATEST reads only what is put after the first start; a restart from
    /// the checkpoint resumes where the log ends, whatever initial_position
    /// says; TRIM_HORIZON reads from the start. No record twice in the sink.
    @Test(arguments: ["latest", "trim_horizon"])
    func restartFromACheckpoint(start: String) throws {
        let stream = try moto.freshStream(shards: 2)
        try put(stream, (0..<100).map { (key: "k\($0)", text: "\($0),before") })
        let dir = try TempDir()
        let path = try job(dir, stream: stream, start: start)
        let args = ["run", path, "--checkpoint", dir.path + "/ckpt"]
        var first = try EddyProcess(args, env: env(dir.path + "/state"))
        #expect(eventually { first.currentStderr.contains("batch=") })
        try put(stream, (100..<300).map { (key: "k\($0)", text: "\($0),running") })
        let firstWave = start == "latest" ? 200 : 300
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= firstWave })
        first.signal(SIGKILL)
        _ = try first.wait(timeout: 30)
        try put(stream, (300..<450).map { (key: "k\($0)", text: "\($0),down") })
        first = try EddyProcess(args, env: env(dir.path + "/state"))
        let total = start == "latest" ? 350 : 450
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= total })
        first.signal(SIGTERM)
        let r = try first.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        // MillisBehindLatest, per shard, once the shard has been read: a batch
        // cut before a shard's first GetRecords has no figure for it yet.
        #expect(!metricsLines(r.stderr).isEmpty)
        let lastLag = metricsLines(r.stderr).last?["behind_ms"] ?? ""
        #expect(lastLag.contains("ev/shardId-000000000001:"), "\(r.stderr)")
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(ids.values.allSatisfy { $0 == 1 }, "a record was counted twice")
        #expect(Set(ids.keys) == Set(start == "latest" ? Array(100..<450) : Array(0..<450)))
    }

    /// Without --checkpoint, app_name keys a local store of positions: a
    /// plain restart resumes where the last committed batch ended.
    @Test func withoutACheckpointAppNameResumesWhereItStopped() throws {
        let stream = try moto.freshStream(shards: 1)
        try put(stream, (0..<50).map { (key: "k", text: "\($0),a") })
        let dir = try TempDir()
        let path = try job(dir, stream: stream, start: "trim_horizon", extra: ", app_name = 'resume-test'")
        var eddy = try EddyProcess(["run", path, "--quiet"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 50 })
        eddy.signal(SIGTERM)
        #expect(try eddy.wait(timeout: 30).status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/state/kinesis-resume-test.positions"))
        try put(stream, (50..<80).map { (key: "k", text: "\($0),b") })
        eddy = try EddyProcess(["run", path], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 80 })
        eddy.signal(SIGTERM)
        let second = try eddy.wait(timeout: 30)
        #expect(second.status == 0)
        #expect(sinkIDs(dir.path + "/sink.db").count == 80, "\(second.stderr.prefix(3000))")
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(ids.count == 80 && ids.values.allSatisfy { $0 == 1 })
    }

    /// Throttled reads and partly failed writes are retried, never dropped:
    /// a job reads one stream and writes every row to another.
    @Test func throttlingIsRetried() throws {
        let input = try moto.freshStream(shards: 2)
        let output = try moto.freshStream(shards: 1)
        let n = 1500
        try put(input, (0..<n).map { (key: "k\($0 % 10)", text: "\($0),k\($0 % 10)") })
        try moto.faults("""
            [{"op": "GetRecords", "error": "ProvisionedThroughputExceededException", "stream": "\(input)", "count": 6},
             {"op": "ListShards", "error": "LimitExceededException", "stream": "\(input)", "count": 2, "skip": 1},
             {"op": "PutRecords.record", "error": "ProvisionedThroughputExceededException", "stream": "\(output)", "count": 40},
             {"op": "PutRecords", "error": "ProvisionedThroughputExceededException", "stream": "\(output)", "count": 2}]
            """)
        let dir = try TempDir()
        let path = try job(dir, stream: input, start: "trim_horizon")
        try dir.write("job.sql", (try String(contentsOfFile: path, encoding: .utf8)) + """

            CREATE SINK copy WITH (connector = 'kinesis', stream = '\(output)', endpoint = '\(moto.url)', partition_key = 'k');
            INSERT INTO copy SELECT id, k FROM ev;
            """)
        let eddy = try EddyProcess(["run", dir.path + "/job.sql"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 90) { sinkIDs(dir.path + "/sink.db").count >= n })
        usleep(1_000_000)
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("retrying with backoff"))
        #expect(r.stderr.contains("sending those again"))
        #expect(sinkIDs(dir.path + "/sink.db").count == n)
        // Every row reached the output stream, as JSON with its columns.
        let copied = try moto.readAll(output)
        var ids: [Int: Int] = [:]
        for record in copied {
            let obj = try #require(try JSONSerialization.jsonObject(with: record.data) as? [String: Any])
            ids[obj["id"] as? Int ?? -1, default: 0] += 1
            #expect(record.partitionKey == obj["k"] as? String)
        }
        #expect(Set(ids.keys) == Set(0..<n))
    }

    @Test func aMissingStreamAndMalformedAnswersAreClearErrors() throws {
        let dir = try TempDir()
        let missing = try job(dir, stream: "no-such-stream-\(getpid())", start: "latest")
        let r = try EddyProcess.run(["run", missing], env: env(dir.path + "/state"))
        #expect(r.status == 3)
        #expect(r.stderr.contains("no-such-stream") && r.stderr.contains("ResourceNotFound"), "\(r.stderr)")

        let stream = try moto.freshStream(shards: 1)
        try put(stream, [(key: "k", text: "1,k")])
        try moto.faults(#"[{"op": "GetRecords", "raw": "{\"Records\": 12, oops", "status": 200, "stream": "\#(stream)"}]"#)
        let bad = try EddyProcess.run(["run", try job(dir, stream: stream, start: "trim_horizon"), "--duration", "20s"],
                                      env: env(dir.path + "/state"), timeout: 60)
        #expect(bad.status == 3)
        #expect(bad.stderr.contains("unexpected answer from Kinesis") && bad.stderr.contains("GetRecords"), "\(bad.stderr)")
    }

    /// Iterators that expire between polls (moto's TTL cut to 0.5 s, polls
    /// 1.2 s apart): each fresh iterator starts AT the last record taken,
    /// which must not be taken twice.
    @Test func expiredIteratorsAreReplacedWithoutDuplicates() throws {
        let short = try MotoServer(auth: false, environment: ["EDDY_MOTO_ITERATOR_TTL": "0.5"])
        let stream = "eddy-ttl"
        try short.client.createStream(stream, shards: 1)
        let writer = KinesisWriter(client: short.client, stream: stream)
        for i in 0..<30 { try writer.add(data: Array("\(i),k".utf8), partitionKey: "k\(i)") }
        try writer.flush()
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '300ms';
            CREATE SOURCE ev (id INTEGER, k TEXT) WITH (connector = 'kinesis', stream = '\(stream)', endpoint = '\(short.url)',
              format = 'csv', initial_position = 'trim_horizon', poll_interval = '1200ms');
            CREATE SINK rows WITH (connector = 'sqlite', path = '\(dir.path)/sink.db', table = 'rows');
            INSERT INTO rows SELECT id FROM ev;
            """)
        let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--quiet"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 30 })
        for i in 30..<60 { try writer.add(data: Array("\(i),k".utf8), partitionKey: "k\(i)") }
        try writer.flush()
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 60 })
        sleep(4) // a few more expired iterators over the same last record
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(Set(ids.keys) == Set(0..<60))
        #expect(ids.values.allSatisfy { $0 == 1 }, "every record once: \(ids.filter { $0.value != 1 })")
    }

    @Test func badCredentialsAreAClearErrorWithoutTheSecret() throws {
        let secure = try MotoServer(auth: true)
        let stream = "eddy-auth"
        try secure.client.createStream(stream, shards: 1)
        let dir = try TempDir()
        try dir.write("job.sql", """
            CREATE SOURCE ev WITH (connector = 'kinesis', stream = '\(stream)', endpoint = '\(secure.url)');
            SELECT * FROM ev;
            """)
        var wrong = env(dir.path + "/state")
        wrong["AWS_SECRET_ACCESS_KEY"] = "not-the-right-secret-42"
        let r = try EddyProcess.run(["run", dir.path + "/job.sql"], env: wrong)
        #expect(r.status == 3)
        #expect(r.stderr.contains("refused the credentials"), "\(r.stderr)")
        #expect(!r.stderr.contains("not-the-right-secret-42"))
        let plan = try EddyProcess.run(["check", dir.path + "/job.sql"], env: wrong)
        #expect(plan.status == 0 && !plan.stdout.contains("not-the-right-secret-42"))
        // The right ones work.
        let ok = try EddyProcess.run(["run", dir.path + "/job.sql", "--batches", "2", "--quiet"], env: env(dir.path + "/state"))
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    /// Split a shard, then merge one of its children with its neighbour, while
    /// records keep coming: every record once, and each key's records in the
    /// order they were put (a parent is read to its end before its children).
    @Test func reshardingKeepsEveryRecordOnceAndInOrderPerKey() throws {
        let stream = try moto.freshStream(shards: 2)
        let keys = 20
        var next = 0
        func wave(_ count: Int) throws {
            try put(stream, (next..<(next + count)).map { (key: "key\($0 % keys)", text: "\($0),key\($0 % keys)") })
            next += count
        }
        try wave(400)
        let dir = try TempDir()
        let eddy = try EddyProcess(["run", try job(dir, stream: stream, start: "trim_horizon"), "--quiet"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 400 })
        let shards = try moto.client.listShards(stream: stream)
        let first = try #require(shards.first { $0.shardId.hasSuffix("000000000000") })
        let range = try #require(first.hashKeyRange)
        try moto.client.splitShard(stream: stream, shard: first.shardId, newStartingHashKey: midpoint(range.startingHashKey, range.endingHashKey))
        try wave(400)
        // Merge the upper child with the stream's second shard, its neighbour.
        let after = try moto.client.listShards(stream: stream)
        let upper = try #require(after.filter { $0.parentShardId == first.shardId }.max { $0.shardId < $1.shardId })
        let second = try #require(after.first { $0.shardId.hasSuffix("000000000001") })
        try moto.client.mergeShards(stream: stream, shard: upper.shardId, adjacent: second.shardId)
        try wave(400)
        #expect(eventually(timeout: 90) { sinkIDs(dir.path + "/sink.db").count >= next })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(ids.count == next && ids.values.allSatisfy { $0 == 1 })
        // In eddy's order (batch, then load order), each key's ids rise.
        #expect(try outOfOrderPerKey(dir.path + "/sink.db") == 0)
        let d = try Database(path: dir.path + "/sink.db", readOnly: true)
        #expect(try d.scalar("SELECT count(DISTINCT shard) FROM rows") == .integer(5))
    }

    /// KPL-aggregated records come apart into their user records.
    @Test func aggregatedRecordsAreDeaggregated() throws {
        let stream = try moto.freshStream(shards: 1)
        let writer = KinesisWriter(client: moto.client, stream: stream)
        var id = 0
        for _ in 0..<20 {
            var users: [(partitionKey: String, data: [UInt8])] = []
            for _ in 0..<25 {
                users.append(("k\(id % 3)", Array("\(id),k\(id % 3)".utf8)))
                id += 1
            }
            try writer.add(data: KPL.aggregate(users), partitionKey: "agg")
        }
        try writer.flush()
        let dir = try TempDir()
        let eddy = try EddyProcess(["run", try job(dir, stream: stream, start: "trim_horizon"), "--quiet"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 500 })
        eddy.signal(SIGTERM)
        #expect(try eddy.wait(timeout: 30).status == 0)
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(Set(ids.keys) == Set(0..<500) && ids.values.allSatisfy { $0 == 1 })
    }

    @Test func genPutsWordLinesIntoAStream() throws {
        let stream = try moto.freshStream(shards: 2)
        let r = try EddyProcess.run(["gen", "--kinesis", stream, "--endpoint", moto.url, "--count", "1200", "--words", "4", "--rate", "0"],
                                    env: env(try TempDir().path + "/state"))
        #expect(r.status == 0, "\(r.stderr)")
        let records = try moto.readAll(stream)
        #expect(records.count == 1200)
        #expect(records.allSatisfy { String(decoding: $0.data, as: UTF8.self).split(separator: " ").count == 4 })
        #expect(Set(records.map(\.partitionKey)).count > 100)
    }
}
