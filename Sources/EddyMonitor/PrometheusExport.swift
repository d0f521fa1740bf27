import CoreMetrics
import EddyCore
import Prometheus

/// `GET /metrics`: swift-metrics handles (counters, gauges, timers) backed by
/// a swift-prometheus registry of this run's own, so nothing depends on the
/// process-wide `MetricsSystem`.
///
/// Figures of a batch are recorded when the tail publishes it (one lock and a
/// few atomic adds per batch); figures that exist outside batches (what
/// receivers took in, the block store, the log, table sizes) are read when
/// Prometheus scrapes. Counters of those are kept as running totals elsewhere
/// in eddy: a scrape adds what grew since the last one.
final class PrometheusExport: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    private let batches: CoreMetrics.Counter
    private let inputRecords: CoreMetrics.Counter
    private let outputRows: CoreMetrics.Counter
    private let processing: CoreMetrics.Timer
    private let totalDelay: CoreMetrics.Timer
    private let schedulingDelay: CoreMetrics.Gauge
    private let batchInterval: CoreMetrics.Gauge
    private let lastBatch: CoreMetrics.Gauge

    /// Handles with labels, made on first use, and the totals counters were
    /// last raised to.
    private struct Labelled {
        var counters: [String: CoreMetrics.Counter] = [:]
        var floatCounters: [String: CoreMetrics.FloatingPointCounter] = [:]
        var gauges: [String: CoreMetrics.Gauge] = [:]
        var totals: [String: Int64] = [:]
    }

    private let labelled = ConditionLock(Labelled())

    /// What each metric is, for `# HELP` lines: the swift-metrics API has no
    /// help text, so they are added to the exposition here.
    static let help: [String: String] = [
        "eddy_batches_total": "Batches committed.",
        "eddy_input_records_total": "Records processed by committed batches.",
        "eddy_output_rows_total": "Rows printed or sunk by committed batches.",
        "eddy_bad_records_total": "Records that did not parse, per source.",
        "eddy_records_received_total": "Records taken in by each receiver (source and shard) in this process.",
        "eddy_bytes_received_total": "Bytes of parsed records taken in by each receiver (source and shard).",
        "eddy_sink_rows_written_total": "Rows handed to each sink.",
        "eddy_step_seconds_total": "Time spent in each step of the job (a load, stream, window, statement, sink or the commit).",
        "eddy_blocks_spilled_total": "Blocks the block store spilled to disk.",
        "eddy_blocks_read_back_total": "Spilled or logged blocks read back for a batch.",
        "eddy_receiver_pauses_total": "Times receivers paused because the block store was full.",
        "eddy_processing_time_seconds": "Processing time of each batch (both halves, without waiting for its turn).",
        "eddy_total_delay_seconds": "Time from a batch's boundary to its commit.",
        "eddy_scheduling_delay_seconds": "Scheduling delay of the last batch: how late it started after its boundary.",
        "eddy_batch_interval_seconds": "The job's batch interval.",
        "eddy_last_batch_timestamp_seconds": "Batch time of the last committed batch.",
        "eddy_batches_in_flight": "Batches handed to lanes and not yet committed.",
        "eddy_leases_held": "KCL leases this worker holds (coordination = dynamodb).",
        "eddy_block_store_memory_bytes": "Compressed block bytes held in memory.",
        "eddy_block_store_disk_bytes": "Compressed block bytes in spill files.",
        "eddy_receivers_paused": "1 while receivers wait for the block store to have room.",
        "eddy_wal_bytes": "Bytes of write-ahead log segments that still hold live blocks.",
        "eddy_state_table_rows": "Rows of each state table (sampled, see the README).",
        "eddy_window_rows": "Rows each window holds after the last batch.",
        "eddy_table_bytes": "Bytes of each state table's and window's pages (sampled).",
        "eddy_receiver_rate_limit": "Records/s each receiver may take; 0 is no limit.",
        "eddy_kinesis_behind_latest_seconds": "Kinesis MillisBehindLatest of each shard, in seconds.",
        "eddy_last_checkpoint_commit_timestamp_seconds": "Wall-clock time of the checkpoint's last commit.",
    ]

    /// `batchIntervalMs` places the histograms' buckets around the interval,
    /// so `le` equal to the interval counts the batches that kept up.
    init(batchIntervalMs: Int64) {
        var factory = PrometheusMetricsFactory(registry: registry)
        let interval = Double(max(1, batchIntervalMs)) / 1000
        let buckets = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 5, 10].map { Duration.microseconds(Int64(($0 * interval * 1_000_000).rounded())) }
        factory.defaultDurationHistogramBuckets = Array(Set(buckets)).sorted()
        self.factory = factory
        batches = CoreMetrics.Counter(label: "eddy_batches_total", factory: factory)
        inputRecords = CoreMetrics.Counter(label: "eddy_input_records_total", factory: factory)
        outputRows = CoreMetrics.Counter(label: "eddy_output_rows_total", factory: factory)
        processing = CoreMetrics.Timer(label: "eddy_processing_time_seconds", factory: factory)
        totalDelay = CoreMetrics.Timer(label: "eddy_total_delay_seconds", factory: factory)
        schedulingDelay = CoreMetrics.Gauge(label: "eddy_scheduling_delay_seconds", factory: factory)
        batchInterval = CoreMetrics.Gauge(label: "eddy_batch_interval_seconds", factory: factory)
        lastBatch = CoreMetrics.Gauge(label: "eddy_last_batch_timestamp_seconds", factory: factory)
        batchInterval.record(interval)
    }

    /// A committed batch (on the tail).
    func record(_ m: BatchMetrics) {
        batches.increment()
        inputRecords.increment(by: m.records)
        outputRows.increment(by: m.outputRows)
        processing.recordNanoseconds(Int64(m.processingMs * 1_000_000))
        totalDelay.recordNanoseconds(m.totalDelayMs * 1_000_000)
        schedulingDelay.record(Double(m.schedulingDelayMs) / 1000)
        lastBatch.record(Double(m.batchTime) / 1000)
        labelled.withLock { l in
            for step in m.steps {
                floatCounter(&l, "eddy_step_seconds_total", [("step", step.label)]).increment(by: Double(step.nanos) / 1e9)
                if step.kind == .sink, let rows = step.rowsIn, rows > 0 {
                    counter(&l, "eddy_sink_rows_written_total", [("sink", step.subject)]).increment(by: rows)
                }
            }
        }
    }

    /// Figures read at a scrape, then the exposition.
    func exposition(receivers: [ReceiverRow], runtime: RuntimeFigures, tables: [TableFigures],
                    lastCommit: CommitFigures?) -> [UInt8] {
        labelled.withLock { l in
            for r in receivers {
                let labels = [("source", r.source), ("shard", r.shard)]
                raise(&l, "eddy_records_received_total", labels, to: r.records)
                raise(&l, "eddy_bytes_received_total", labels, to: r.bytes)
                gauge(&l, "eddy_receiver_rate_limit", labels).record(r.rateLimit)
                if let behind = r.behindMs {
                    gauge(&l, "eddy_kinesis_behind_latest_seconds", labels).record(Double(behind) / 1000)
                }
            }
            for (source, n) in runtime.badRecords { raise(&l, "eddy_bad_records_total", [("source", source)], to: n) }
            raise(&l, "eddy_blocks_spilled_total", [], to: runtime.spilledBlocks)
            raise(&l, "eddy_blocks_read_back_total", [], to: runtime.readBackBlocks)
            raise(&l, "eddy_receiver_pauses_total", [], to: runtime.receiverPauses)
            gauge(&l, "eddy_block_store_memory_bytes", []).record(Double(runtime.storeMemoryBytes))
            gauge(&l, "eddy_block_store_disk_bytes", []).record(Double(runtime.storeDiskBytes))
            gauge(&l, "eddy_receivers_paused", []).record(runtime.paused ? 1 : 0)
            gauge(&l, "eddy_batches_in_flight", []).record(Double(runtime.batchesInFlight))
            if let wal = runtime.walBytes { gauge(&l, "eddy_wal_bytes", []).record(Double(wal)) }
            // Per source, once it has held a lease: back to 0 when it holds none.
            let held = Dictionary(grouping: runtime.leases, by: \.source).mapValues(\.count)
            for source in Set(runtime.badRecords.keys).union(held.keys) {
                let labels = [("source", source)]
                guard held[source] != nil || l.gauges[Self.key("eddy_leases_held", labels)] != nil else { continue }
                gauge(&l, "eddy_leases_held", labels).record(Double(held[source] ?? 0))
            }
            for t in tables {
                switch t.kind {
                case .state: gauge(&l, "eddy_state_table_rows", [("table", t.name)]).record(Double(t.rows))
                case .window: gauge(&l, "eddy_window_rows", [("window", t.name)]).record(Double(t.rows))
                }
                if let bytes = t.bytes {
                    gauge(&l, "eddy_table_bytes", [("table", t.name), ("kind", t.kind.rawValue)]).record(Double(bytes))
                }
            }
            if let lastCommit {
                gauge(&l, "eddy_last_checkpoint_commit_timestamp_seconds", []).record(Double(lastCommit.atMs) / 1000)
            }
        }
        var out: [UInt8] = []
        registry.emit(into: &out)
        return Self.addingHelp(to: out)
    }

    // MARK: labelled handles (called under `labelled`'s lock)

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(name) { $0 + "\u{1}" + $1.0 + "\u{2}" + $1.1 }
    }

    private func counter(_ l: inout Labelled, _ name: String, _ labels: [(String, String)]) -> CoreMetrics.Counter {
        let k = Self.key(name, labels)
        if let c = l.counters[k] { return c }
        let c = CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
        l.counters[k] = c
        return c
    }

    private func floatCounter(_ l: inout Labelled, _ name: String, _ labels: [(String, String)]) -> CoreMetrics.FloatingPointCounter {
        let k = Self.key(name, labels)
        if let c = l.floatCounters[k] { return c }
        let c = CoreMetrics.FloatingPointCounter(label: name, dimensions: labels, factory: factory)
        l.floatCounters[k] = c
        return c
    }

    private func gauge(_ l: inout Labelled, _ name: String, _ labels: [(String, String)]) -> CoreMetrics.Gauge {
        let k = Self.key(name, labels)
        if let g = l.gauges[k] { return g }
        let g = CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
        l.gauges[k] = g
        return g
    }

    /// Raises a counter to a running total kept elsewhere (it never goes down).
    private func raise(_ l: inout Labelled, _ name: String, _ labels: [(String, String)], to total: Int64) {
        let k = Self.key(name, labels)
        let c = counter(&l, name, labels)
        let before = l.totals[k] ?? 0
        if total > before { c.increment(by: total - before) }
        l.totals[k] = max(before, total)
    }

    /// The registry's exposition with a `# HELP` line before each `# TYPE` line eddy knows.
    static func addingHelp(to exposition: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(exposition.count + help.count * 80)
        let typePrefix = Array("# TYPE ".utf8)
        for line in exposition.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.starts(with: typePrefix) {
                let rest = line.dropFirst(typePrefix.count)
                let name = String(decoding: rest.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
                if let text = help[name] { out.append(contentsOf: Array("# HELP \(name) \(text)\n".utf8)) }
            }
            out.append(contentsOf: line)
            out.append(UInt8(ascii: "\n"))
        }
        // The split leaves an empty last piece for the final newline.
        while out.count >= 2 && out[out.count - 1] == UInt8(ascii: "\n") && out[out.count - 2] == UInt8(ascii: "\n") {
            out.removeLast()
        }
        return out
    }
}
