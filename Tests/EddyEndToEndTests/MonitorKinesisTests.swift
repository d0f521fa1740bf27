import EddyKinesis
import Foundation
import Glibc
import Testing

/// The receivers table of a Kinesis source: a row per shard, with where the
/// shard stands and how far behind the tip it is, against moto on 127.0.0.1.
@Suite(.serialized) struct MonitorKinesisTests: KinesisTesting {
    let moto: MotoServer

    init() throws {
        moto = try #require(MotoServer.shared, "moto_server did not start: is moto[server] installed? (scripts/setup.sh installs it)")
    }

    @Test func receiversShowEachShardItsPositionAndLag() throws {
        let stream = try moto.freshStream(shards: 2)
        try put(stream, (0..<200).map { (key: "k\($0)", text: "\($0),k\($0 % 7)") })
        let shards = Set(try moto.client.listShards(stream: stream).map(\.shardId))
        #expect(shards.count == 2)
        let dir = try TempDir()
        let path = try job(dir, stream: stream, start: "trim_horizon")
        let run = try MonitorRun(["run", path, "--ui", "127.0.0.1:0"], env: env(dir.path + "/state"))
        defer {
            run.eddy.signal(SIGTERM)
            _ = try? run.eddy.wait(timeout: 60)
        }
        #expect(eventually(timeout: 60) { sinkIDs(dir.path + "/sink.db").count >= 200 })
        var rows: [[String: Any]] = []
        #expect(eventually(timeout: 30) {
            rows = ((try? run.json("/api/status"))?["receivers"] as? [[String: Any]]) ?? []
            return rows.count == 2 && rows.allSatisfy { $0["position"] is String && $0["behind_ms"] is Int }
        }, "receivers: \(rows)")
        #expect(Set(rows.compactMap { $0["shard"] as? String }) == shards)
        #expect(rows.compactMap { $0["records"] as? Int }.reduce(0, +) == 200)
        for row in rows {
            #expect(row["source"] as? String == "ev")
            #expect(row["connector"] as? String == "kinesis")
            #expect(row["state"] as? String == "receiving")
            // Positions are sequence numbers with the sub-sequence number.
            let position = row["position"] as? String ?? ""
            #expect(position.first?.isNumber == true, "position \(position)")
        }
        let families = try PrometheusParser.parse(try run.get("/metrics").body)
        let lag = try #require(families["eddy_kinesis_behind_latest_seconds"], "families: \(families.keys.sorted())")
        #expect(lag.type == "gauge")
        #expect(Set(lag.samples.compactMap { $0.labels["shard"] }) == shards)
        #expect(lag.samples.allSatisfy { $0.labels["source"] == "ev" && $0.value >= 0 })
    }
}
