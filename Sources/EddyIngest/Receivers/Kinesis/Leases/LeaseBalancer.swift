/// Which leases a worker takes in one round, by KCL's rules: expired and
/// free leases first, up to an equal share of the unfinished leases; with
/// none of those, at most one lease stolen from the most loaded worker.
struct LeaseBalancer {
    /// Every lease in the table.
    var leases: [Lease]
    var me: String
    /// Leases whose counter has not moved for `failover_time`, or that this
    /// worker's table view says it owns but it does not hold (a restart).
    var expired: Set<String>
    var maxLeases: Int?

    /// The worker's fair share: the unfinished leases over the live workers
    /// (those owning an unexpired lease, and this one), rounded up.
    var target: Int {
        let active = leases.filter { !$0.isFinished }
        let workers = Set(active.compactMap { l in expired.contains(l.key) ? nil : l.owner }).union([me])
        let share = (active.count + workers.count - 1) / workers.count
        return min(share, maxLeases ?? Int.max)
    }

    /// Leases to take now, free and expired ones in key order, or one to steal.
    func choose() -> [Lease] {
        let active = leases.filter { !$0.isFinished }
        let mine = active.filter { $0.owner == me && !expired.contains($0.key) }.count
        let need = target - mine
        guard need > 0 else { return [] }
        let available = active.filter { $0.owner == nil || expired.contains($0.key) }.sorted { $0.key < $1.key }
        if !available.isEmpty { return Array(available.prefix(need)) }
        // Nothing free: steal one from the most loaded worker, if it has more
        // than its share (or its share while this worker lacks more than one).
        var load: [String: [Lease]] = [:]
        for l in active { if let o = l.owner, o != me { load[o, default: []].append(l) } }
        guard let most = load.max(by: { $0.value.count != $1.value.count ? $0.value.count < $1.value.count : $0.key > $1.key }) else { return [] }
        let t = target
        guard most.value.count > t || (most.value.count == t && need > 1) else { return [] }
        return most.value.sorted { $0.key < $1.key }.last.map { [$0] } ?? []
    }
}
