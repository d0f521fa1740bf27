import EddyCore
import EddyKinesis
// FoundationEssentials, not Foundation: the release binary then carries no ICU data.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One shard's lease, as a KCL 2.x lease table holds it, so KCL's own tools
/// and dashboards can read the table eddy writes.
public struct Lease: Sendable, Equatable {
    /// The shard id.
    public var key: String
    /// The worker holding it; nil when free (released, or never taken).
    public var owner: String?
    /// Bumped by every take, renewal and checkpoint: a worker that sees it
    /// unchanged for `failover_time` may take the lease.
    public var counter: Int64
    /// A sequence number, SHARD_END, or the initial position
    /// (TRIM_HORIZON, LATEST, AT_TIMESTAMP) while nothing is committed.
    public var checkpoint: String
    public var checkpointSubSequence: Int64 = 0
    public var ownerSwitchesSinceCheckpoint: Int64 = 0
    public var parents: [String] = []
    /// eddy's own: for AT_TIMESTAMP, the epoch milliseconds it starts from.
    public var since: Int64?
    /// eddy's own: the writer's wall clock at the last take, renewal or
    /// checkpoint, for `eddy status --leases` only (expiry never reads it).
    public var writtenAtMs: Int64?

    public static let shardEnd = "SHARD_END"

    public init(key: String, owner: String?, counter: Int64, checkpoint: String) {
        self.key = key
        self.owner = owner
        self.counter = counter
        self.checkpoint = checkpoint
    }

    public var isFinished: Bool { checkpoint == Self.shardEnd }

    /// Where the next owner resumes, in eddy's terms; nil when nothing has
    /// been committed and the source's initial position applies.
    public var position: ShardPosition? {
        if checkpoint == Self.shardEnd { return .end }
        if SequenceNumber.isValid(checkpoint) { return .record(sequence: checkpoint, subSequence: Int(checkpointSubSequence)) }
        if checkpoint == "AT_TIMESTAMP", let since { return .since(ms: since) }
        return nil
    }

    /// The attributes a checkpoint at `position` writes.
    static func checkpointValues(_ position: ShardPosition) -> (checkpoint: String, sub: Int64, since: Int64?) {
        switch position {
        case .end: return (shardEnd, 0, nil)
        case .record(let seq, let sub): return (seq, Int64(sub), nil)
        case .since(let ms): return ("AT_TIMESTAMP", 0, ms)
        }
    }

    enum Attribute {
        static let key = "leaseKey"
        static let owner = "leaseOwner"
        static let counter = "leaseCounter"
        static let checkpoint = "checkpoint"
        static let sub = "checkpointSubSequenceNumber"
        static let switches = "ownerSwitchesSinceCheckpoint"
        static let parents = "parentShardId"
        static let since = "eddySinceMs"
        static let writtenAt = "eddyWrittenAtMs"
    }

    var item: DynamoItem {
        var item: DynamoItem = [
            Attribute.key: .string(key), Attribute.counter: .integer(counter), Attribute.checkpoint: .string(checkpoint),
            Attribute.sub: .integer(checkpointSubSequence), Attribute.switches: .integer(ownerSwitchesSinceCheckpoint),
        ]
        if let owner { item[Attribute.owner] = .string(owner) }
        // DynamoDB refuses empty sets.
        if !parents.isEmpty { item[Attribute.parents] = .stringSet(parents) }
        if let since { item[Attribute.since] = .integer(since) }
        return item
    }

    /// nil for items that are not leases (eddy's job item, or foreign ones).
    init?(item: DynamoItem) {
        guard let key = item[Attribute.key]?.string, !key.hasPrefix(LeaseTable.metadataPrefix),
              let counter = item[Attribute.counter]?.int64 else { return nil }
        self.init(key: key, owner: item[Attribute.owner]?.string, counter: counter,
                  checkpoint: item[Attribute.checkpoint]?.string ?? "TRIM_HORIZON")
        checkpointSubSequence = item[Attribute.sub]?.int64 ?? 0
        ownerSwitchesSinceCheckpoint = item[Attribute.switches]?.int64 ?? 0
        parents = item[Attribute.parents]?.strings ?? item[Attribute.parents]?.string.map { [$0] } ?? []
        since = item[Attribute.since]?.int64
        writtenAtMs = item[Attribute.writtenAt]?.int64
    }
}

/// A lease table refused for a reason the user must fix.
public struct LeaseTableError: Error, Sendable, CustomStringConvertible, EddyError {
    public var message: String
    public var description: String { message }
    public var exitStatus: ExitStatus { .runtime }
}

/// The lease table's items and the conditional writes KCL's rules are made
/// of: every take, renewal, checkpoint and release holds only if the lease's
/// counter and owner are what this worker last saw.
public struct LeaseTable: Sendable {
    public let client: DynamoDBClient
    public let name: String

    /// Keys of eddy's own items (the job text's hash); KCL's shard ids never start so.
    static let metadataPrefix = "eddy:"
    static let jobKey = metadataPrefix + "job"

    /// The job text's SHA-256, in hex: what workers sharing the table must agree on.
    public static func jobHash(_ text: String) -> String {
        SigV4.sha256Hex(Array(text.utf8))
    }

    public init(client: DynamoDBClient, name: String) {
        self.client = client
        self.name = name
    }

    func key(_ shard: String) -> DynamoItem { [Lease.Attribute.key: .string(shard)] }

    public func ensureExists() throws(DynamoDBError) {
        try client.ensureTable(name, hashKey: Lease.Attribute.key)
    }

    /// Every lease, read consistently.
    public func leases() throws(DynamoDBError) -> [Lease] {
        try client.scan(name).compactMap(Lease.init(item:))
    }

    /// Claims the table for a job text, or checks it was claimed for this one:
    /// workers running different jobs on one table would each commit records
    /// the other's job never sees.
    func claim(jobHash: String, jobLabel: String) throws {
        let item: DynamoItem = [Lease.Attribute.key: .string(Self.jobKey), "jobHash": .string(jobHash), "job": .string(jobLabel)]
        do throws(DynamoDBError) {
            try client.putItem(name, item: item, condition: .init("attribute_not_exists(#k)", names: ["#k": Lease.Attribute.key]))
            return
        } catch {
            // Claimed first by someone: the same job or not?
            guard case .conditionFailed = error else { throw error }
        }
        let stored = try client.getItem(name, key: key(Self.jobKey))
        let storedHash = stored?["jobHash"]?.string
        guard storedHash == jobHash else {
            let other = stored?["job"]?.string.map { " (\($0))" } ?? ""
            throw LeaseTableError(message: "lease table '\(name)' belongs to a different job: its workers run job text \(storedHash ?? "?")\(other), this job's text is \(jobHash). Workers sharing a lease table must run the same job file; give this job its own lease_table (or app_name)")
        }
    }

    /// A lease for a shard that has none, free, at `checkpoint`. False when
    /// another worker created it first.
    @discardableResult
    func create(shard: String, parents: [String], checkpoint: String, since: Int64?) throws(DynamoDBError) -> Bool {
        var lease = Lease(key: shard, owner: nil, counter: 0, checkpoint: checkpoint)
        lease.parents = parents
        lease.since = since
        do throws(DynamoDBError) {
            try client.putItem(name, item: lease.item, condition: .init("attribute_not_exists(#k)", names: ["#k": Lease.Attribute.key]))
            return true
        } catch {
            guard case .conditionFailed = error else { throw error }
            return false
        }
    }

    /// The condition every write of a seen lease carries.
    private func unchanged(_ lease: Lease) -> DynamoDBClient.Expression {
        if let owner = lease.owner {
            return .init("#c = :c AND #o = :o", names: ["#c": Lease.Attribute.counter, "#o": Lease.Attribute.owner],
                         values: [":c": .integer(lease.counter), ":o": .string(owner)])
        }
        return .init("#c = :c AND attribute_not_exists(#o)", names: ["#c": Lease.Attribute.counter, "#o": Lease.Attribute.owner],
                     values: [":c": .integer(lease.counter)])
    }

    /// Takes (or steals) a lease as it was seen; returns it as now held.
    func take(_ lease: Lease, worker: String) throws(DynamoDBError) -> Lease {
        let now = WallClock.nowMs()
        var switches = ""
        var update = DynamoDBClient.Expression("SET #o = :me, #c = :next, #w = :now",
                                               names: ["#o": Lease.Attribute.owner, "#c": Lease.Attribute.counter, "#w": Lease.Attribute.writtenAt],
                                               values: [":me": .string(worker), ":next": .integer(lease.counter + 1), ":now": .integer(now)])
        if lease.owner != worker {
            switches = ", #s = :switches"
            update.names["#s"] = Lease.Attribute.switches
            update.values[":switches"] = .integer(lease.ownerSwitchesSinceCheckpoint + 1)
        }
        update.text += switches
        try client.updateItem(name, key: key(lease.key), update: update, condition: unchanged(lease))
        var held = lease
        held.writtenAtMs = now
        held.owner = worker
        held.counter += 1
        if lease.owner != worker { held.ownerSwitchesSinceCheckpoint += 1 }
        return held
    }

    /// Bumps the counter of a held lease: "still alive".
    func renew(_ lease: Lease) throws(DynamoDBError) -> Lease {
        let now = WallClock.nowMs()
        try client.updateItem(name, key: key(lease.key),
                              update: .init("SET #c = :next, #w = :now", names: ["#c": Lease.Attribute.counter, "#w": Lease.Attribute.writtenAt],
                                            values: [":next": .integer(lease.counter + 1), ":now": .integer(now)]),
                              condition: unchanged(lease))
        var held = lease
        held.writtenAtMs = now
        held.counter += 1
        return held
    }

    /// Records a committed position in a held lease.
    func checkpoint(_ lease: Lease, at position: ShardPosition) throws(DynamoDBError) -> Lease {
        let now = WallClock.nowMs()
        let v = Lease.checkpointValues(position)
        var update = DynamoDBClient.Expression("SET #c = :next, #cp = :cp, #sub = :sub, #s = :zero, #w = :now",
                                               names: ["#c": Lease.Attribute.counter, "#cp": Lease.Attribute.checkpoint,
                                                       "#sub": Lease.Attribute.sub, "#s": Lease.Attribute.switches,
                                                       "#w": Lease.Attribute.writtenAt],
                                               values: [":next": .integer(lease.counter + 1), ":cp": .string(v.checkpoint),
                                                        ":sub": .integer(v.sub), ":zero": .integer(0), ":now": .integer(now)])
        update.names["#since"] = Lease.Attribute.since
        if let since = v.since {
            update.text += ", #since = :since"
            update.values[":since"] = .integer(since)
        } else {
            update.text += " REMOVE #since"
        }
        try client.updateItem(name, key: key(lease.key), update: update, condition: unchanged(lease))
        var held = lease
        held.writtenAtMs = now
        held.counter += 1
        held.checkpoint = v.checkpoint
        held.checkpointSubSequence = v.sub
        held.since = v.since
        held.ownerSwitchesSinceCheckpoint = 0
        return held
    }

    /// Gives a lease up (a graceful stop): others may take it at once.
    func release(_ lease: Lease) throws(DynamoDBError) {
        try client.updateItem(name, key: key(lease.key),
                              update: .init("SET #c = :next REMOVE #o", names: ["#c": Lease.Attribute.counter, "#o": Lease.Attribute.owner],
                                            values: [":next": .integer(lease.counter + 1)]),
                              condition: unchanged(lease))
    }
}

extension LeaseTable {
    /// `eddy status --leases`: one line per lease (shards of the stream
    /// without one say so), with the age of its last write by this host's clock.
    public func describe(shards: [String], now: Int64 = WallClock.nowMs()) throws(DynamoDBError) -> String {
        let leases = try self.leases()
        var rows: [[String]] = [["SHARD", "OWNER", "COUNTER", "CHECKPOINT", "RENEWED", "PARENTS"]]
        for l in leases.sorted(by: { $0.key < $1.key }) {
            var checkpoint = l.checkpoint
            if SequenceNumber.isValid(l.checkpoint) { checkpoint += ":\(l.checkpointSubSequence)" }
            if let since = l.since { checkpoint += " (since \(since))" }
            let age = l.writtenAtMs.map { Units.formatDuration(max(0, now - $0)) + " ago" } ?? "-"
            rows.append([l.key, l.owner ?? "(free)", String(l.counter), checkpoint, age, l.parents.joined(separator: ",")])
        }
        let leased = Set(leases.map(\.key))
        for shard in shards.sorted() where !leased.contains(shard) {
            rows.append([shard, "(no lease yet)", "-", "-", "-", ""])
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        var out = "lease table \(name): \(leases.count) lease(s)\n"
        for row in rows {
            var line = zip(row, widths).map { $0.0 + String(repeating: " ", count: max(0, $0.1 - $0.0.count)) }.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}

/// One lease this worker holds, as the monitor shows it.
public struct HeldLease: Sendable, Equatable {
    public var shard: String
    public var table: String
    public var worker: String
    public var counter: Int64
    /// The last checkpoint written to the table (a sequence number, or the
    /// initial position while nothing is committed).
    public var checkpoint: String
    /// Since the last successful take, renewal or checkpoint of the lease.
    public var renewedAgoMs: Int64
    /// Until this worker drops the lease if no renewal succeeds before then
    /// (failover_time less the safety margin, from the last write).
    public var dropInMs: Int64
}
