import EddyBlocks
import EddyCore
import EddySQL
import Logging

/// After a stop or a crash, before the lanes start: rebuild the live windows
/// from the batches they still hold, re-run the batches that were in flight
/// (up to one per lane) with exactly their recorded blocks, in batch order,
/// and hand the logged blocks no batch has taken yet to the next batch.
/// Nothing already in the log is read from a source again.
///
/// A logged block was already processed when it lies below its shard's
/// committed offset: batches take each shard's blocks in order, so the
/// committed batches always hold a prefix of every shard.
///
/// Runs on the engine thread, on the first lane's connection, through the
/// same ordered tail as every batch.
struct Recovery {
    let engine: Engine
    let context: Engine.Context
    let checkpoint: CheckpointStore
    let ledger: Database
    let resume: Resume
    let recovered: [(Block, WriteAheadLog.Location)]

    func run() throws {
        let c = context
        let logger = engine.logger
        let committed = resume.committedOffsets
        func isCommitted(_ b: Block) -> Bool { b.firstSeq < committed[b.source]?[b.shard] ?? 0 }
        let inFlightIDs = Set(resume.inFlight.flatMap { $0.blocks.map(\.id) })
        let started = MonotonicTime.now()
        var rebuilt = 0
        let lane = c.lanes.lanes[0]
        if let last = resume.last, !c.plan.windows.isEmpty {
            let batches = try checkpoint.allocations(ledger, from: last.time - c.tail.retention + 1, through: last.time,
                                                     state: "committed")
            for a in batches {
                let blocks = try c.input.reload(a, log: c.log)
                try lane.runner.rebuild(time: a.time, batchID: a.batchID, blocks: blocks)
                c.tail.retained.append((a.time, Set(a.blocks.filter(\.logged).map(\.id))))
                rebuilt += 1
            }
        }
        // Logged blocks of batches that no window needs any more can go.
        if let log = c.log {
            let keep = Set(c.tail.retained.flatMap(\.ids)).union(inFlightIDs)
            log.release(Set(recovered.filter { isCommitted($0.0) && !keep.contains($0.0.id) }.map(\.0.id)))
        }
        CrashPoint.recovery.reached()
        for allocation in resume.inFlight {
            let blocks = try c.input.reload(allocation, log: c.log)
            logger.info("checkpoint: running batch \(allocation.time) again, with the \(blocks.count) block(s) it had")
            c.tail.setNext(allocation.batchID)
            lane.process(Batch(time: allocation.time, id: allocation.batchID, blocks: blocks, fromStore: false), tail: c.tail)
            if let failure = c.tail.failure { throw failure }
        }
        // What reached the log but no batch took: the next batch's.
        var pending = 0
        for (block, _) in recovered where !isCommitted(block) && !inFlightIDs.contains(block.id) && block.source < c.sources.count {
            c.input.store.putLogged(block)
            pending += 1
        }
        if resume.last != nil || !resume.inFlight.isEmpty || pending > 0 {
            logger.info("checkpoint: resumed after batch \(resume.last?.time ?? 0) in \(MonotonicTime.millisSince(started).rounded()) ms: \(rebuilt) batch(es) rebuilt into windows, \(resume.inFlight.count) re-run, \(pending) logged block(s) waiting for the next batch")
        }
    }
}
