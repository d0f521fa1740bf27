import EddyCore

/// What a run publishes for whoever watches it: the last batches (a ring of
/// `capacity`), the state tables' and windows' sizes, the last checkpoint
/// commit, and the receivers and runtime figures, read on demand through
/// closures the engine installs.
///
/// Threading: the ordered tail publishes, the HTTP server's event loop
/// reads. Each lock here is held only to copy values in or out; nothing
/// does I/O or calls out under one, so a reader never holds up the batch
/// loop and the batch loop never waits on a reader for longer than a copy.
public final class RunMonitor: Sendable {
    /// How many recent batches are kept.
    public static let capacity = 1000

    public let job: JobInfo

    /// The run's phase, as the page shows it.
    public enum Phase: String, Sendable { case starting, running, stopping, finished, failed }

    private struct State {
        var ring = BatchRing(capacity: RunMonitor.capacity)
        var tables: [TableFigures] = []
        var lastCommit: CommitFigures?
        var phase = Phase.starting
        var failure: String?
    }

    /// Where live figures come from; installed once receivers have started.
    private struct Providers {
        var receivers: (@Sendable () -> [ReceiverRow])?
        var runtime: (@Sendable () -> RuntimeFigures)?
    }

    private let state = ConditionLock(State())
    private let providers = ConditionLock(Providers())
    private let rates = ConditionLock(ReceiverRates())
    private let prometheus: PrometheusExport

    public init(job: JobInfo) {
        self.job = job
        prometheus = PrometheusExport(batchIntervalMs: job.batchIntervalMs)
    }

    // MARK: publishing (the engine)

    /// A committed batch, on the tail, in batch order.
    public func publish(_ batch: BatchMetrics) {
        state.withLock { $0.ring.append(batch) }
        prometheus.record(batch)
    }

    public func publish(tables: [TableFigures]) { state.withLock { $0.tables = tables } }

    public func publish(commit: CommitFigures) { state.withLock { $0.lastCommit = commit } }

    public func set(phase: Phase, failure: String? = nil) {
        state.withLock {
            $0.phase = phase
            if let failure { $0.failure = failure }
        }
    }

    /// `receivers` and `runtime` are called on the server's thread, for each
    /// request that shows them: they must only copy figures under short locks.
    public func attach(receivers: @escaping @Sendable () -> [ReceiverRow],
                       runtime: @escaping @Sendable () -> RuntimeFigures) {
        providers.withLock {
            $0.receivers = receivers
            $0.runtime = runtime
        }
    }

    /// Lets go of the providers at the end of a run. They hold the lanes,
    /// and with them every SQLite connection: held past the run, the
    /// checkpoint's connections would stay open to the process's exit, and
    /// its write-ahead log would never be folded back into checkpoint.db.
    public func detach() {
        providers.withLock { $0 = Providers() }
    }

    // MARK: reading (the server, tests, the engine's history)

    /// Batches with an id above `id`, oldest first, at most `limit` (the newest ones).
    public func batches(since id: Int64, limit: Int = RunMonitor.capacity) -> [BatchMetrics] {
        state.withLock { $0.ring.since(id, limit: limit) }
    }

    /// Every batch the ring still holds, oldest first.
    public var recent: [BatchMetrics] { state.withLock { $0.ring.all } }

    /// Batches published so far (also those the ring no longer holds).
    public var published: Int64 { state.withLock { $0.ring.appended } }

    public var tables: [TableFigures] { state.withLock { $0.tables } }

    public var lastCommit: CommitFigures? { state.withLock { $0.lastCommit } }

    public var phase: (phase: Phase, failure: String?) { state.withLock { ($0.phase, $0.failure) } }

    /// Every receiver now, with its rates over the last second or so.
    public func receivers() -> [ReceiverRow] {
        guard let provider = providers.withLock({ $0.receivers }) else { return [] }
        let rows = provider()
        let now = MonotonicTime.now()
        return rates.withLock { $0.apply(to: rows, now: now) }
    }

    public func runtime() -> RuntimeFigures {
        guard let provider = providers.withLock({ $0.runtime }) else { return RuntimeFigures() }
        return provider()
    }

    /// The Prometheus text exposition (`GET /metrics`).
    public func prometheusText() -> [UInt8] {
        let (tables, commit) = state.withLock { ($0.tables, $0.lastCommit) }
        return prometheus.exposition(receivers: receivers(), runtime: runtime(), tables: tables, lastCommit: commit)
    }
}

/// The last `capacity` batches, oldest first. Ids increase along the ring,
/// so a reader's "since" is a binary search.
struct BatchRing {
    let capacity: Int
    private var items: [BatchMetrics] = []
    /// Index of the oldest item once the ring is full.
    private var head = 0
    private(set) var appended: Int64 = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        items.reserveCapacity(self.capacity)
    }

    var count: Int { items.count }

    mutating func append(_ m: BatchMetrics) {
        appended += 1
        if items.count < capacity {
            items.append(m)
        } else {
            items[head] = m
            head = (head + 1) % capacity
        }
    }

    /// The item `i` places from the oldest.
    private func at(_ i: Int) -> BatchMetrics { items[(head + i) % items.count] }

    var all: [BatchMetrics] { (0..<items.count).map(at) }

    func since(_ id: Int64, limit: Int) -> [BatchMetrics] {
        // The first item whose id is above `id`.
        var lo = 0, hi = items.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if at(mid).batchID <= id { lo = mid + 1 } else { hi = mid }
        }
        let first = max(lo, items.count - max(0, limit))
        return (first..<items.count).map(at)
    }
}

/// Receivers' records/s and bytes/s, from their running totals sampled at
/// least a second apart (whoever asks first after that takes the sample).
struct ReceiverRates {
    private var sampleAt: Int64 = 0
    private var totals: [String: (records: Int64, bytes: Int64)] = [:]
    private var perSecond: [String: (records: Double, bytes: Double)] = [:]

    static let minimumSpanNanos: Int64 = 1_000_000_000

    mutating func apply(to rows: [ReceiverRow], now: Int64) -> [ReceiverRow] {
        if sampleAt == 0 || now - sampleAt >= Self.minimumSpanNanos {
            let span = Double(now - sampleAt) / 1e9
            var next: [String: (Double, Double)] = [:]
            for r in rows {
                guard sampleAt != 0, let before = totals[r.key] else { continue }
                next[r.key] = (Double(max(0, r.records - before.records)) / span, Double(max(0, r.bytes - before.bytes)) / span)
            }
            if sampleAt != 0 { perSecond = next }
            totals = Dictionary(rows.map { ($0.key, ($0.records, $0.bytes)) }, uniquingKeysWith: { $1 })
            sampleAt = now
        }
        return rows.map { r in
            var r = r
            if let rate = perSecond[r.key] {
                r.recordsPerSecond = rate.records
                r.bytesPerSecond = rate.bytes
            }
            return r
        }
    }
}
