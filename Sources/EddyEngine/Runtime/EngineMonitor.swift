import EddyBlocks
import EddyCore
import EddyIngest
import EddyMonitor
import Logging

/// How the engine feeds the monitor: what the job is, the server (`--ui`,
/// `SET ui`), and the closures through which the server reads receivers and
/// the runtime. Batches reach it from the ordered tail (`OrderedTail.report`).
extension Engine {
    func jobInfo(plan: Plan) -> JobInfo {
        JobInfo(path: plan.jobPath, text: plan.jobText, plan: PlanPrinter.describe(plan),
                batchIntervalMs: plan.settings.batchInterval, lanes: plan.lanes, parallelism: plan.settings.parallelism,
                checkpoint: checkpoint?.directory, replay: options.replayDir != nil,
                sources: plan.sources.map { SourceInfo(name: $0.name, connector: $0.config.connector.name) },
                startedAtMs: WallClock.nowMs())
    }

    /// Starts the server when `--ui` or `SET ui` asks for one. A non-loopback
    /// address needs `--ui-token`: the job, its data and its plan would be
    /// open to the network otherwise.
    func startServer(plan: Plan, monitor: RunMonitor) throws -> MonitorServer? {
        let address: HostPort
        let option: String
        if let ui = options.ui {
            address = ui
            option = "--ui \(ui)"
        } else if let text = plan.settings.ui {
            switch HostPort.parse(text) {
            case .success(let a): address = a
            case .failure(let e): throw UsageError("ui (SET in \(plan.jobPath)): \(e.message)")
            }
            option = "ui = '\(text)' (SET in \(plan.jobPath))"
        } else {
            return nil
        }
        if options.uiToken == nil && !MonitorServer.isLoopback(address.host) {
            throw UsageError("\(option): \(address.host) is not a loopback address; serving the monitor to the network needs --ui-token TOKEN (every request must then carry Authorization: Bearer TOKEN), or use 127.0.0.1")
        }
        let server = try MonitorServer.start(host: address.host, port: Int(address.port), token: options.uiToken, monitor: monitor)
        logger.info("ui: serving the monitor on \(server.url) (/metrics, /api/status, /api/batches)\(options.uiToken == nil ? "" : "; requests need the --ui-token")")
        return server
    }

    /// What the server reads on each request. Each closure only copies
    /// figures under the short locks of the tracker, the generators, the
    /// store and the log: a request never waits on a batch, nor a batch on it.
    func attachFigures(_ monitor: RunMonitor, input: BatchInput, lanes: Lanes, sources: [LiveSource], log: WriteAheadLog?) {
        let store = input.store
        let tracker = (input as? LiveInput)?.tracker
        monitor.attach(
            receivers: {
                guard let tracker else { return [] }
                return Engine.receiverRows(tracker.snapshot(), sources: sources, paused: store.stats.paused)
            },
            runtime: {
                let stats = store.stats
                var f = RuntimeFigures()
                f.storeMemoryBytes = stats.memoryBytes
                f.storeDiskBytes = stats.diskBytes
                f.storeBlocks = stats.blocksHeld
                f.memoryBudget = store.config.memoryBudget
                f.diskBudget = store.config.diskBudget
                f.spilledBlocks = stats.spilledBlocks
                f.readBackBlocks = stats.readBackBlocks
                f.receiverPauses = stats.receiverPauses
                f.paused = stats.paused
                f.batchesInFlight = lanes.inFlight
                for source in sources {
                    f.badRecords[source.name] = source.errors.count
                    f.leases += source.leaseFigures.map {
                        LeaseRow(source: source.name, shard: $0.shard, table: $0.table, worker: $0.worker, counter: $0.counter,
                                 checkpoint: $0.checkpoint, renewedAgoMs: $0.renewedAgoMs, dropInMs: $0.dropInMs)
                    }
                }
                if let log {
                    f.walBytes = log.liveBytes
                    f.walBlocks = log.liveBlocks
                }
                return f
            })
    }

    /// Receivers that ended (a `listen` producer that hung up) are kept in
    /// the table only this many per source, newest first, so that a source
    /// with many short connections does not grow it without end.
    static let finishedReceiversShown = 10

    static func receiverRows(_ snapshot: [ReceiverSnapshot], sources: [LiveSource], paused: Bool) -> [ReceiverRow] {
        var gauges: [Int: [String: Int64]] = [:]
        var failures: [Int: String] = [:]
        for source in sources {
            gauges[source.index] = source.gauges
            if let f = source.failure { failures[source.index] = f }
        }
        var finishedSeen: [Int: Int] = [:]
        var rows: [ReceiverRow] = []
        // Newest first to keep the newest finished ones; shown in start order.
        for r in snapshot.reversed() {
            guard r.source >= 0 && r.source < sources.count else { continue }
            let source = sources[r.source]
            if r.phase == .finished {
                finishedSeen[r.source, default: 0] += 1
                if finishedSeen[r.source, default: 0] > finishedReceiversShown { continue }
            }
            let state: String
            switch r.phase {
            case .finished, .failed: state = r.phase.rawValue
            case _ where failures[r.source] != nil: state = "failed"
            case _ where r.stopping: state = "stopped"
            default: state = r.phase.rawValue
            }
            var row = ReceiverRow(source: source.name, shard: r.shard, connector: source.config.connector.name, state: state,
                                  records: r.received.records, bytes: r.received.bytes, paused: paused, rateLimit: r.rateLimit)
            row.lastError = r.lastError ?? (state == "failed" ? failures[r.source] : nil)
            row.lastErrorAtMs = r.lastErrorAtMs
            row.position = r.received.position
            row.behindMs = gauges[r.source]?["behind_ms/\(r.shard)"]
            rows.append(row)
        }
        return rows.reversed()
    }
}
