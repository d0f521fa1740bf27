@testable import EddyIngest
import Testing

/// KCL's taking rules, one round at a time: free and expired leases first, up
/// to an equal share; then at most one stolen from the most loaded worker.
@Suite struct LeaseBalancerTests {
    func leases(_ owners: [String?], finished: Int = 0) -> [Lease] {
        var out = owners.enumerated().map { i, o in Lease(key: "shard-\(i)", owner: o, counter: 1, checkpoint: "TRIM_HORIZON") }
        for i in 0..<finished {
            var l = Lease(key: "done-\(i)", owner: "a", counter: 9, checkpoint: Lease.shardEnd)
            l.parents = []
            out.append(l)
        }
        return out
    }

    /// Runs rounds for each worker in turn until nothing changes.
    func settle(_ table: inout [Lease], workers: [String], rounds: Int = 50) {
        for _ in 0..<rounds {
            var changed = false
            for w in workers {
                for l in LeaseBalancer(leases: table, me: w, expired: [], maxLeases: nil).choose() {
                    guard let i = table.firstIndex(where: { $0.key == l.key }) else { continue }
                    table[i].owner = w
                    changed = true
                }
            }
            if !changed { return }
        }
    }

    func counts(_ table: [Lease], _ workers: [String]) -> [Int] {
        workers.map { w in table.filter { $0.owner == w && !$0.isFinished }.count }.sorted()
    }

    @Test func aLoneWorkerTakesEverythingFree() {
        let chosen = LeaseBalancer(leases: leases(Array(repeating: nil, count: 8)), me: "a", expired: [], maxLeases: nil).choose()
        #expect(chosen.count == 8)
        let capped = LeaseBalancer(leases: leases(Array(repeating: nil, count: 8)), me: "a", expired: [], maxLeases: 3).choose()
        #expect(capped.count == 3, "max_leases_per_worker caps the share")
    }

    @Test func joiningWorkersStealOneAtATimeToAnEqualShare() {
        var table = leases(Array(repeating: "a", count: 8))
        // b joins: 8 over 2 workers is 4 each, one steal per round.
        #expect(LeaseBalancer(leases: table, me: "b", expired: [], maxLeases: nil).choose().count == 1)
        settle(&table, workers: ["a", "b", "c"])
        #expect(counts(table, ["a", "b", "c"]) == [2, 3, 3])
        var seven = leases(Array(repeating: "a", count: 7))
        settle(&seven, workers: ["a", "b", "c"])
        #expect(counts(seven, ["a", "b", "c"]) == [2, 2, 3])
    }

    @Test func expiredLeasesAreTakenBeforeAnyStealAndFinishedOnesNever() {
        let table = leases(["a", "a", "a", "b", "b", "b", "c", "c"], finished: 3)
        // c's two leases expired (c died): a and b share 8 over 2 workers.
        let chosen = LeaseBalancer(leases: table, me: "a", expired: ["shard-6", "shard-7"], maxLeases: nil).choose()
        #expect(chosen.map(\.key) == ["shard-6"], "a has 3 of a share of 4: takes one expired lease")
        #expect(LeaseBalancer(leases: table, me: "a", expired: [], maxLeases: nil).target == 3)
        let stable = LeaseBalancer(leases: leases(["a", "a", "a", "b", "b", "b", "c", "c"]), me: "c", expired: [], maxLeases: nil)
        #expect(stable.choose().isEmpty, "3/3/2 is balanced: no steal")
    }

    @Test func positionsFromKCLCheckpoints() {
        var l = Lease(key: "s", owner: nil, counter: 0, checkpoint: "TRIM_HORIZON")
        #expect(l.position == nil)
        l.checkpoint = "LATEST"
        #expect(l.position == nil)
        l.checkpoint = "49590338271490256608559692538361571095921575989136588898"
        l.checkpointSubSequence = 3
        #expect(l.position == .record(sequence: "49590338271490256608559692538361571095921575989136588898", subSequence: 3))
        l.checkpoint = Lease.shardEnd
        #expect(l.position == .end)
        l.checkpoint = "AT_TIMESTAMP"
        l.since = 1_700_000_000_000
        #expect(l.position == .since(ms: 1_700_000_000_000))
        #expect(Lease(item: l.item) == l, "a lease reads back as written")
        #expect(Lease(item: ["leaseKey": .string("eddy:job"), "jobHash": .string("x")]) == nil, "eddy's job item is not a lease")
    }
}
