import EddyCore

/// The JSON of `/api/status`, `/api/batches` and `--metrics-file` (one batch
/// per line). The README shows an example of each; field names are part of
/// the contract with scripts.
public enum MonitorJSON {
    /// One batch, with its steps: a `--metrics-file` line, and an element of `/api/batches`.
    public static func batch(_ m: BatchMetrics, batchIntervalMs: Int64) -> String {
        var w = JSONWriter()
        write(m, batchIntervalMs: batchIntervalMs, steps: true, into: &w)
        return w.text
    }

    /// `GET /api/batches?since=ID`: batches after `ID`, oldest first.
    static func batches(_ list: [BatchMetrics], monitor: RunMonitor) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.int("batch_interval_ms", monitor.job.batchIntervalMs)
        w.int("published", monitor.published)
        w.int("capacity", RunMonitor.capacity)
        w.int("last_id", list.last?.batchID)
        w.beginArray("batches")
        for m in list { write(m, batchIntervalMs: monitor.job.batchIntervalMs, steps: true, into: &w) }
        w.endArray()
        w.endObject()
        return w.text
    }

    /// `GET /api/status`: the job, the run, the receivers and the runtime, now.
    static func status(_ monitor: RunMonitor) -> String {
        let job = monitor.job
        let (phase, failure) = monitor.phase
        let last = monitor.batches(since: Int64.min, limit: 1).last
        let receivers = monitor.receivers()
        let runtime = monitor.runtime()
        let now = WallClock.nowMs()
        var w = JSONWriter()
        w.beginObject()
        w.beginObject("job")
        w.string("path", job.path)
        w.int("batch_interval_ms", job.batchIntervalMs)
        w.int("lanes", job.lanes)
        w.int("parallelism", job.parallelism)
        w.string("checkpoint", job.checkpoint)
        w.bool("replay", job.replay)
        w.beginArray("sources")
        for s in job.sources {
            w.beginObject()
            w.string("name", s.name)
            w.string("connector", s.connector)
            w.int("bad_records", runtime.badRecords[s.name] ?? 0)
            w.endObject()
        }
        w.endArray()
        w.string("text", job.text)
        w.string("plan", job.plan)
        w.endObject()

        w.beginObject("run")
        w.string("phase", phase.rawValue)
        w.string("failure", failure)
        w.int("started_at", job.startedAtMs)
        w.int("now", now)
        w.int("uptime_ms", max(0, now - job.startedAtMs))
        w.int("batches", monitor.published)
        w.int("in_flight", runtime.batchesInFlight)
        if let last {
            w.beginObject("last_batch")
            writeFigures(last, batchIntervalMs: job.batchIntervalMs, into: &w)
            w.endObject()
        } else {
            w.raw("last_batch", "null")
        }
        w.endObject()

        w.beginArray("receivers")
        for r in receivers { write(r, into: &w) }
        w.endArray()

        w.beginArray("leases")
        for l in runtime.leases {
            w.beginObject()
            w.string("source", l.source)
            w.string("shard", l.shard)
            w.string("table", l.table)
            w.string("worker", l.worker)
            w.int("counter", l.counter)
            w.string("checkpoint", l.checkpoint)
            w.int("renewed_ago_ms", l.renewedAgoMs)
            w.int("drop_in_ms", l.dropInMs)
            w.endObject()
        }
        w.endArray()

        w.beginObject("runtime")
        w.int("block_store_memory_bytes", runtime.storeMemoryBytes)
        w.int("block_store_disk_bytes", runtime.storeDiskBytes)
        w.int("block_store_blocks", runtime.storeBlocks)
        w.int("memory_budget", runtime.memoryBudget)
        w.int("disk_budget", runtime.diskBudget)
        w.int("blocks_spilled", runtime.spilledBlocks)
        w.int("blocks_read_back", runtime.readBackBlocks)
        w.int("receiver_pauses", runtime.receiverPauses)
        w.bool("paused", runtime.paused)
        w.int("wal_bytes", runtime.walBytes)
        w.int("wal_blocks", runtime.walBlocks.map(Int64.init))
        if let commit = monitor.lastCommit {
            w.beginObject("last_commit")
            w.int("id", commit.batchID)
            w.int("time", commit.batchTime)
            w.int("at", commit.atMs)
            w.endObject()
        } else {
            w.raw("last_commit", "null")
        }
        w.beginArray("tables")
        for t in monitor.tables {
            w.beginObject()
            w.string("name", t.name)
            w.string("kind", t.kind.rawValue)
            w.int("rows", t.rows)
            w.bool("rows_exact", t.rowsExact)
            w.int("bytes", t.bytes)
            w.int("sampled_at", t.sampledAtMs)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        w.endObject()
        return w.text
    }

    // MARK: pieces

    static func write(_ m: BatchMetrics, batchIntervalMs: Int64, steps: Bool, into w: inout JSONWriter) {
        w.beginObject()
        writeFigures(m, batchIntervalMs: batchIntervalMs, into: &w)
        if steps {
            w.beginArray("steps")
            for s in m.steps {
                w.beginObject()
                w.int("order", s.order)
                w.string("kind", s.kind.rawValue)
                w.string("name", s.name)
                w.string("subject", s.subject)
                w.string("at", s.location)
                w.string("text", s.text)
                w.string("where", s.onLane ? "lane" : "in order")
                w.double("ms", s.milliseconds)
                w.int("rows_in", s.rowsIn)
                w.int("rows_out", s.rowsOut)
                w.endObject()
            }
            w.endArray()
        }
        w.endObject()
    }

    /// A batch's figures, without its steps.
    static func writeFigures(_ m: BatchMetrics, batchIntervalMs: Int64, into w: inout JSONWriter) {
        w.int("id", m.batchID)
        w.int("time", m.batchTime)
        w.int("committed_at", m.committedAtMs)
        w.int("records", m.records)
        w.double("input_rate", Double(m.records) * 1000 / Double(max(1, batchIntervalMs)), digits: 1)
        w.int("scheduling_delay_ms", m.schedulingDelayMs)
        w.double("processing_ms", m.processingMs)
        w.int("total_delay_ms", m.totalDelayMs)
        w.double("turn_wait_ms", m.turnWaitMs)
        w.int("lane", m.lane)
        w.int("in_flight", m.inFlight)
        w.int("blocks", m.blocks)
        w.int("raw_bytes", m.rawBytes)
        w.int("lz4_bytes", m.compressedBytes)
        w.double("block_ms", m.blockMs)
        w.int("out_rows", m.outputRows)
        w.int("bad_records", m.badRecords)
        w.int("store_memory_bytes", m.storeMemoryBytes)
        w.int("store_disk_bytes", m.storeDiskBytes)
        w.double("rate", m.rate, digits: 1)
        w.beginObject("shards")
        for (k, v) in m.recordsPerShard.sorted(by: { $0.key < $1.key }) { w.int(k, v) }
        w.endObject()
        w.beginObject("behind_ms")
        for (k, v) in m.behindMs.sorted(by: { $0.key < $1.key }) { w.int(k, v) }
        w.endObject()
    }

    static func write(_ r: ReceiverRow, into w: inout JSONWriter) {
        w.beginObject()
        w.string("source", r.source)
        w.string("shard", r.shard)
        w.string("connector", r.connector)
        w.string("state", r.state)
        w.int("records", r.records)
        w.int("bytes", r.bytes)
        w.double("records_per_s", r.recordsPerSecond, digits: 1)
        w.double("bytes_per_s", r.bytesPerSecond, digits: 1)
        w.bool("paused", r.paused)
        w.double("rate_limit", r.rateLimit, digits: 1)
        w.string("last_error", r.lastError)
        w.int("last_error_at", r.lastErrorAtMs)
        w.string("position", r.position)
        w.int("behind_ms", r.behindMs)
        w.endObject()
    }
}

extension BatchMetrics {
    /// Kinesis' MillisBehindLatest per `source/shard`, from the gauges.
    public var behindMs: [String: Int64] {
        var lag: [String: Int64] = [:]
        for (k, v) in gauges {
            let parts = k.split(separator: "/", maxSplits: 2)
            if parts.count == 3 && parts[1] == "behind_ms" { lag["\(parts[0])/\(parts[2])"] = v }
        }
        return lag
    }
}
