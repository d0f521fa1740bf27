import EddyCore
import EddyKinesis
import EddySQL
import Foundation
import Glibc
import Testing

/// Kinesis' limits and paging, counted by the server: ListShards pages,
/// re-listing every shard_sync_interval, 5 GetRecords calls a second per
/// shard, PutRecords' 500 records and 5 MB, and retries of failed entries only.
@Suite(.serialized) struct KinesisLimitsTests: KinesisTesting {
    let moto: MotoServer

    init() throws {
        moto = try #require(MotoServer.shared, "moto_server did not start: is moto[server] installed? (scripts/setup.sh installs it)")
    }

    /// Pages of two shards: every listing of five shards takes three calls,
    /// and the shards are listed again every second.
    @Test func listShardsIsPagedAndRepeatedEveryShardSyncInterval() throws {
        let small = try MotoServer(auth: false, environment: ["EDDY_MOTO_LISTSHARDS_PAGE": "2"])
        let stream = "eddy-pages"
        try small.client.createStream(stream, shards: 5)
        #expect(try small.client.listShards(stream: stream).count == 5)
        try put(stream, records(0, 500, keys: 97), on: small)
        let dir = try TempDir()
        let eddy = try EddyProcess(["run", try job(dir, stream: stream, start: "trim_horizon", on: small), "--quiet"],
                                   env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 500 })
        let listed = try small.stats(stream).calls["ListShards"] ?? 0
        sleep(4)
        eddy.signal(SIGTERM)
        #expect(try eddy.wait(timeout: 30).status == 0)
        let calls = try small.stats(stream).calls["ListShards"] ?? 0
        #expect(calls % 3 == 0, "a listing of 5 shards in pages of 2 is 3 calls: \(calls)")
        // 4 s at shard_sync_interval = 1s: at least 3 more listings.
        #expect(calls - listed >= 9, "\(listed) then \(calls)")
        let d = try Database(path: dir.path + "/sink.db", readOnly: true)
        #expect(try d.scalar("SELECT count(DISTINCT shard) FROM rows") == .integer(5))
        #expect(sinkIDs(dir.path + "/sink.db").count == 500)
    }

    /// A server that throttles a shard past 5 GetRecords calls a second:
    /// a shard far behind (10 records per call) is read through without one
    /// throttled call.
    @Test func getRecordsStaysWithinFiveCallsASecondPerShard() throws {
        let strict = try MotoServer(auth: false, environment: ["EDDY_MOTO_GETRECORDS_TPS": "5"])
        let stream = "eddy-tps"
        try strict.client.createStream(stream, shards: 1)
        try put(stream, records(0, 300), on: strict)
        let dir = try TempDir()
        let path = try job(dir, stream: stream, start: "trim_horizon", extra: ", max_records = '10'", on: strict)
        let eddy = try EddyProcess(["run", path, "--quiet"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 90) { sinkIDs(dir.path + "/sink.db").count >= 300 })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 30)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("throttled"), "\(r.stderr)")
        #expect(try strict.stats(stream).calls["GetRecords"] ?? 0 >= 30)
        #expect(sinkIDs(dir.path + "/sink.db").count == 300)
    }

    /// A throttled first ListShards is retried rather than ending the job.
    @Test func aThrottledFirstListingIsRetried() throws {
        let stream = try moto.freshStream(shards: 2)
        try put(stream, records(0, 100))
        try moto.faults(#"[{"op": "ListShards", "error": "LimitExceededException", "stream": "\#(stream)", "count": 3}]"#)
        let dir = try TempDir()
        let eddy = try EddyProcess(["run", try job(dir, stream: stream, start: "trim_horizon")], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 100 })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 30)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.components(separatedBy: "listing the shards of \(stream)").count - 1 == 3, "\(r.stderr)")
        #expect(Set(sinkIDs(dir.path + "/sink.db").keys) == Set(0..<100))
    }

    /// Only the entries that failed are sent again: the server receives each
    /// record once, plus once more for each injected failure.
    @Test func onlyFailedPutRecordsEntriesAreSentAgain() throws {
        let stream = try moto.freshStream(shards: 1)
        try moto.faults(#"[{"op": "PutRecords.record", "error": "ProvisionedThroughputExceededException", "stream": "\#(stream)", "count": 7, "skip": 10}]"#)
        let writer = KinesisWriter(client: moto.client, stream: stream)
        for i in 0..<100 { try writer.add(data: Array("\(i)".utf8), partitionKey: "k\(i)") }
        try writer.flush()
        #expect(writer.retriedEntries == 7)
        #expect(writer.requests == 2)
        #expect(try moto.stats(stream).recordsPut == 107)
        let got = try moto.readAll(stream).map { String(decoding: $0.data, as: UTF8.self) }
        #expect(got.count == 100 && Set(got) == Set((0..<100).map(String.init)))
    }

    /// Requests hold at most 500 records and 5 MB (the server refuses more).
    @Test func putRecordsRequestsStayWithin500RecordsAnd5MB() throws {
        let stream = try moto.freshStream(shards: 1)
        let counted = KinesisWriter(client: moto.client, stream: stream)
        for i in 0..<1200 { try counted.add(data: Array("\(i)".utf8), partitionKey: "k") }
        try counted.flush()
        #expect(counted.requests == 3)
        let big = KinesisWriter(client: moto.client, stream: stream)
        for i in 0..<12 { try big.add(data: [UInt8](repeating: UInt8(65 + i), count: 900_000), partitionKey: "big") }
        try big.flush()
        // 5 × 900 kB fit in 5 MB, 6 do not: 5 + 5 + 2.
        #expect(big.requests == 3)
        #expect(big.retriedEntries == 0)
        let records = try moto.readAll(stream)
        #expect(records.count == 1212)
        #expect(records.filter { $0.data.count == 900_000 }.count == 12)
        #expect(throws: KinesisError.self) { try big.add(data: [UInt8](repeating: 0, count: 1 << 20), partitionKey: "k") }
    }

    /// A split while the parent still holds unread records (the job starts
    /// after the split, and takes 20 records a call): the children wait for
    /// the parent's end, so each key's records keep their order.
    @Test func childrenWaitForAParentWithABacklog() throws {
        let stream = try moto.freshStream(shards: 1)
        try put(stream, records(0, 400, keys: 8))
        let parent = try #require(try moto.client.listShards(stream: stream).first)
        let range = try #require(parent.hashKeyRange)
        try moto.client.splitShard(stream: stream, shard: parent.shardId, newStartingHashKey: midpoint(range.startingHashKey, range.endingHashKey))
        try put(stream, records(400, 800, keys: 8))
        let dir = try TempDir()
        let path = try job(dir, stream: stream, start: "trim_horizon", extra: ", max_records = '20'")
        let eddy = try EddyProcess(["run", path, "--quiet"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 120) { sinkIDs(dir.path + "/sink.db").count >= 800 })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(ids.count == 800 && ids.values.allSatisfy { $0 == 1 })
        #expect(try outOfOrderPerKey(dir.path + "/sink.db") == 0)
        let d = try Database(path: dir.path + "/sink.db", readOnly: true)
        #expect(try d.scalar("SELECT count(DISTINCT shard) FROM rows") == .integer(3))
        // The parent's last batch comes before any child's first.
        #expect(try d.scalar("""
            SELECT (SELECT max(t) FROM rows WHERE shard = '\(parent.shardId)') <= (SELECT min(t) FROM rows WHERE shard <> '\(parent.shardId)')
            """) == .integer(1))
    }
}
