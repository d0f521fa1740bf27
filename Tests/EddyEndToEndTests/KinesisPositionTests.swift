import EddyCore
import EddyKinesis
import EddySQL
import Foundation
import Glibc
import Testing

/// Where kinesis shards start and resume: LATEST and AT_TIMESTAMP across
/// restarts and reshards, positions that advance only with a commit, and
/// recovery from eddy's own log.
@Suite(.serialized) struct KinesisPositionTests: KinesisTesting {
    let moto: MotoServer

    init() throws {
        moto = try #require(MotoServer.shared, "moto_server did not start: is moto[server] installed? (scripts/setup.sh installs it)")
    }

    /// Shards that took no record before a stop keep the time LATEST began:
    /// what was put while eddy was down is read after the restart, what was
    /// there before the first start never is.
    @Test(arguments: [true, false])
    func idleLatestShardsLoseNothingAcrossARestart(checkpoint: Bool) throws {
        let stream = try moto.freshStream(shards: 2)
        try put(stream, records(0, 20))
        usleep(1_500_000) // past the clock-skew margin of the first start
        let dir = try TempDir()
        let path = try job(dir, stream: stream, start: "latest", extra: ", app_name = 'idle-\(checkpoint)'")
        let args = ["run", path] + (checkpoint ? ["--checkpoint", dir.path + "/ckpt"] : [])
        var eddy = try EddyProcess(args, env: env(dir.path + "/state"))
        let positions = dir.path + "/state/kinesis-idle-false.positions"
        if checkpoint {
            #expect(eventually(timeout: 30) { metricsLines(eddy.currentStderr).count >= 5 })
            eddy.signal(SIGKILL)
        } else {
            // Both shards' start times reached the local store with a commit.
            #expect(eventually(timeout: 30) {
                ((try? String(contentsOfFile: positions, encoding: .utf8)) ?? "").components(separatedBy: " SINCE:").count == 3
            })
            eddy.signal(SIGTERM)
        }
        _ = try eddy.wait(timeout: 30)
        try put(stream, records(20, 50))
        eddy = try EddyProcess(args, env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 30 })
        try put(stream, records(50, 60))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 40 })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(Set(ids.keys) == Set(20..<60), "\(r.stderr.suffix(2000))")
        #expect(ids.values.allSatisfy { $0 == 1 })
    }

    /// A first run from LATEST after a split: neither the closed parent nor
    /// its children replay their history, and after a restart the parent is
    /// still not read (its END is logged).
    @Test func latestOnAFirstRunSkipsTheHistoryOfReshardedShards() throws {
        let stream = try moto.freshStream(shards: 1)
        try put(stream, records(0, 100))
        let parent = try #require(try moto.client.listShards(stream: stream).first)
        let range = try #require(parent.hashKeyRange)
        try moto.client.splitShard(stream: stream, shard: parent.shardId, newStartingHashKey: midpoint(range.startingHashKey, range.endingHashKey))
        try put(stream, records(100, 150))
        usleep(1_500_000)
        let dir = try TempDir()
        let args = ["run", try job(dir, stream: stream, start: "latest"), "--checkpoint", dir.path + "/ckpt"]
        var eddy = try EddyProcess(args, env: env(dir.path + "/state"))
        #expect(eventually(timeout: 30) { metricsLines(eddy.currentStderr).count >= 5 })
        try put(stream, records(150, 210))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 60 })
        usleep(1_000_000)
        eddy.signal(SIGKILL)
        _ = try eddy.wait(timeout: 30)
        try put(stream, records(210, 230))
        eddy = try EddyProcess(args, env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 80 })
        usleep(1_500_000)
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(Set(ids.keys) == Set(150..<230), "history replayed: \(ids.keys.filter { $0 < 150 }.count) old records")
        #expect(ids.values.allSatisfy { $0 == 1 })
    }

    /// AT_TIMESTAMP applies to every shard, the closed parent of a split
    /// included: exactly what was put from that time on, parent before children.
    @Test func atTimestampReadsFromThatTimeAcrossAReshard() throws {
        let stream = try moto.freshStream(shards: 1)
        try put(stream, records(0, 100))
        usleep(1_200_000)
        let t = Double(nowMs()) / 1000
        usleep(300_000)
        try put(stream, records(100, 200))
        let parent = try #require(try moto.client.listShards(stream: stream).first)
        let range = try #require(parent.hashKeyRange)
        try moto.client.splitShard(stream: stream, shard: parent.shardId, newStartingHashKey: midpoint(range.startingHashKey, range.endingHashKey))
        try put(stream, records(200, 300))
        let dir = try TempDir()
        let path = try job(dir, stream: stream, start: "at_timestamp", extra: ", at_timestamp = '\(String(format: "%.3f", t))'")
        let eddy = try EddyProcess(["run", path, "--quiet"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 200 })
        usleep(1_500_000)
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(Set(ids.keys) == Set(100..<300))
        #expect(ids.values.allSatisfy { $0 == 1 })
        #expect(try outOfOrderPerKey(dir.path + "/sink.db") == 0)
    }

    /// Without a checkpoint, the local store moves only when a batch commits:
    /// a SIGKILL between receiving records and committing their batch loses
    /// none of them.
    @Test func positionsAdvanceOnlyOnceTheirBatchCommitted() throws {
        let stream = try moto.freshStream(shards: 1)
        try put(stream, records(0, 50))
        let dir = try TempDir()
        let path = try job(dir, stream: stream, start: "trim_horizon", extra: ", app_name = 'commit-test'", batch: "5s")
        let positions = dir.path + "/state/kinesis-commit-test.positions"
        func stored() -> String { (try? String(contentsOfFile: positions, encoding: .utf8)) ?? "" }
        var eddy = try EddyProcess(["run", path, "--quiet"], env: env(dir.path + "/state"))
        // The store is written just after the sink commits, so wait for both.
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 50 && !stored().isEmpty })
        let afterFirst = stored()
        #expect(!afterFirst.isEmpty)
        // Right after a commit: the next one is ~5 s away.
        try put(stream, records(50, 100))
        usleep(1_500_000) // read by the receiver (polls 200 ms apart), not committed
        #expect(sinkIDs(dir.path + "/sink.db").count == 50, "the kill was meant to fall inside a batch")
        #expect(stored() == afterFirst, "a position moved before its batch committed")
        eddy.signal(SIGKILL)
        _ = try eddy.wait(timeout: 30)
        eddy = try EddyProcess(["run", path, "--quiet"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 100 })
        eddy.signal(SIGTERM)
        #expect(try eddy.wait(timeout: 60).status == 0)
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(Set(ids.keys) == Set(0..<100) && ids.values.allSatisfy { $0 == 1 })
        #expect(stored() != afterFirst)
    }

    /// After a crash, the records already in eddy's log are not read from
    /// Kinesis again: the server hands out only what was put since (and the
    /// last record of each shard, where its iterator starts).
    @Test func recoveryReplaysFromTheLogNotFromKinesis() throws {
        let stream = try moto.freshStream(shards: 2)
        try put(stream, records(0, 300))
        let dir = try TempDir()
        let args = ["run", try job(dir, stream: stream, start: "trim_horizon"), "--checkpoint", dir.path + "/ckpt", "--quiet"]
        var eddy = try EddyProcess(args, env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 300 })
        usleep(1_500_000) // every block sealed and logged
        eddy.signal(SIGKILL)
        _ = try eddy.wait(timeout: 30)
        let before = try moto.stats(stream).recordsRead
        #expect(before == 300)
        let d = try Database(path: dir.path + "/sink.db", readOnly: true)
        #expect(try d.scalar("SELECT count(DISTINCT shard) FROM rows") == .integer(2))
        try put(stream, records(300, 350))
        eddy = try EddyProcess(args, env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 350 })
        usleep(1_000_000)
        eddy.signal(SIGTERM)
        #expect(try eddy.wait(timeout: 60).status == 0)
        // Each shard resumes AT its last logged record (and skips it), so a
        // shard gives that one record again, and nothing else it gave before.
        let again = try moto.stats(stream).recordsRead - before
        #expect(again == 50 + 2, "\(again - 50) records read from Kinesis again after the restart")
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(Set(ids.keys) == Set(0..<350) && ids.values.allSatisfy { $0 == 1 })
    }

    /// KPL aggregates across a restart: the store keeps the sub-sequence of
    /// the last user record, and the aggregate it points into is not taken twice.
    @Test func subSequenceNumbersSurviveARestart() throws {
        let stream = try moto.freshStream(shards: 1)
        func aggregates(_ from: Int, count: Int) throws {
            let writer = KinesisWriter(client: moto.client, stream: stream)
            var id = from
            for _ in 0..<count {
                var users: [(partitionKey: String, data: [UInt8])] = []
                for _ in 0..<25 {
                    users.append(("k\(id % 3)", Array("\(id),k\(id % 3)".utf8)))
                    id += 1
                }
                try writer.add(data: KPL.aggregate(users), partitionKey: "agg\(id)")
            }
            try writer.flush()
        }
        try aggregates(0, count: 8)
        let dir = try TempDir()
        let path = try job(dir, stream: stream, start: "trim_horizon", extra: ", app_name = 'kpl-restart'")
        var eddy = try EddyProcess(["run", path, "--quiet"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 200 })
        usleep(1_000_000)
        eddy.signal(SIGTERM)
        #expect(try eddy.wait(timeout: 30).status == 0)
        let stored = (try? String(contentsOfFile: dir.path + "/state/kinesis-kpl-restart.positions", encoding: .utf8)) ?? ""
        #expect(stored.hasSuffix(":24\n"), "the last user record of the last aggregate: \(stored)")
        try aggregates(200, count: 4)
        eddy = try EddyProcess(["run", path, "--quiet"], env: env(dir.path + "/state"))
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 300 })
        usleep(1_000_000)
        eddy.signal(SIGTERM)
        #expect(try eddy.wait(timeout: 30).status == 0)
        let ids = sinkIDs(dir.path + "/sink.db")
        #expect(Set(ids.keys) == Set(0..<300) && ids.values.allSatisfy { $0 == 1 })
    }
}
