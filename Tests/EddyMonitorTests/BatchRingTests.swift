import EddyCore
import Foundation
import Testing
@testable import EddyMonitor

/// The ring the server reads: bounded, in batch order, and "since" finds
/// exactly the batches after an id, wherever the ring has wrapped.
@Suite struct BatchRingTests {
    static func batch(_ id: Int64) -> BatchMetrics {
        var m = BatchMetrics(batchTime: id * 1000, batchID: id)
        m.records = id
        return m
    }

    @Test func keepsTheLastCapacityBatchesInOrder() {
        var ring = BatchRing(capacity: 5)
        for id in 1...12 { ring.append(Self.batch(Int64(id))) }
        #expect(ring.count == 5)
        #expect(ring.appended == 12)
        #expect(ring.all.map(\.batchID) == [8, 9, 10, 11, 12])
    }

    @Test func sinceFindsTheBatchesAfterAnIdAcrossTheWrap() {
        var ring = BatchRing(capacity: 7)
        for id in 1...17 { ring.append(Self.batch(Int64(id))) }
        // Holds 11...17, its oldest in the middle of the storage.
        #expect(ring.since(Int64.min, limit: 100).map(\.batchID) == Array(11...17))
        #expect(ring.since(13, limit: 100).map(\.batchID) == [14, 15, 16, 17])
        #expect(ring.since(3, limit: 100).map(\.batchID) == Array(11...17), "ids the ring dropped: everything it has")
        #expect(ring.since(17, limit: 100).isEmpty)
        #expect(ring.since(99, limit: 100).isEmpty)
        #expect(ring.since(Int64.min, limit: 2).map(\.batchID) == [16, 17], "a limit keeps the newest")
    }

    @Test func idsWithGapsStillSearch() {
        // After a restart from a checkpoint, ids go on from the last committed one.
        var ring = BatchRing(capacity: 4)
        for id: Int64 in [3, 9, 10, 20, 21] { ring.append(Self.batch(id)) }
        #expect(ring.since(9, limit: 10).map(\.batchID) == [10, 20, 21])
        #expect(ring.since(15, limit: 10).map(\.batchID) == [20, 21])
    }

    @Test func theMonitorKeepsAThousand() {
        let monitor = RunMonitor(job: MonitorFixtures.job)
        for id in 1...1234 { monitor.publish(Self.batch(Int64(id))) }
        #expect(monitor.recent.count == RunMonitor.capacity)
        #expect(monitor.recent.first?.batchID == 235)
        #expect(monitor.published == 1234)
        #expect(monitor.batches(since: 1230).map(\.batchID) == [1231, 1232, 1233, 1234])
    }

    /// Rates come from totals sampled at least a second apart.
    @Test func receiverRatesFromSampledTotals() {
        var rates = ReceiverRates()
        func row(_ records: Int64) -> ReceiverRow {
            ReceiverRow(source: "s", shard: "0", connector: "generator", state: "receiving", records: records,
                        bytes: records * 10, paused: false, rateLimit: 0)
        }
        let first = rates.apply(to: [row(100)], now: 1_000_000_000)
        #expect(first[0].recordsPerSecond == nil, "one sample gives no rate")
        let early = rates.apply(to: [row(150)], now: 1_400_000_000)
        #expect(early[0].recordsPerSecond == nil, "less than a second later: no new sample")
        let later = rates.apply(to: [row(600)], now: 3_000_000_000)
        #expect(later[0].recordsPerSecond == 250)
        #expect(later[0].bytesPerSecond == 2500)
        #expect(later[0].records == 600)
    }
}

enum MonitorFixtures {
    static let job = JobInfo(path: "job.sql", text: "CREATE SOURCE s WITH (connector = 'generator');\nSELECT count(*) FROM s;\n",
                             plan: "job job.sql: ok\n", batchIntervalMs: 1000, lanes: 2, parallelism: 2, checkpoint: nil,
                             replay: false, sources: [SourceInfo(name: "s", connector: "generator")], startedAtMs: 1_700_000_000_000)

    /// A batch with two steps, one on a lane and one in order.
    static func batch(_ id: Int64, processingMs: Double = 12.5) -> BatchMetrics {
        var m = BatchMetrics(batchTime: 1_700_000_000_000 + id * 1000, batchID: id)
        m.records = 100 * id
        m.processingMs = processingMs
        m.totalDelayMs = Int64(processingMs) + 3
        m.schedulingDelayMs = 3
        m.recordsPerShard = ["s/0": 60 * id, "s/1": 40 * id]
        var load = StepTiming(kind: .load, name: "load s", subject: "s", location: "job.sql:1:1", onLane: true, order: 0)
        load.nanos = 2_000_000
        load.rowsIn = m.records
        load.rowsOut = m.records
        var query = StepTiming(kind: .statement, name: "query", location: "job.sql:2:1", text: "SELECT count(*) FROM s",
                               onLane: false, order: 1)
        query.nanos = 8_000_000
        query.rowsIn = m.records
        query.rowsOut = 1
        var sink = StepTiming(kind: .sink, name: "sink out", subject: "out", location: "job.sql:3:1", onLane: false, order: 2)
        sink.nanos = 1_000_000
        sink.rowsIn = 7
        sink.rowsOut = 7
        m.steps = [load, query, sink]
        return m
    }
}
