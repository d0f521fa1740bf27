import EddyBlocks
import EddyCore
import EddySinks

/// The scheduler (Spark's JobGenerator clock): on the engine thread, it
/// waits for each batch boundary, cuts the batch (every receiver's open
/// block is sealed, and every block labelled up to the boundary is taken),
/// records the batch's allocation in the checkpoint before anything of it
/// runs, and hands it to a free lane. It never runs SQL of the job.
extension Engine {
    func schedule(_ c: Context) throws -> RunEnd {
        let settings = c.plan.settings
        let bi = settings.batchInterval
        let start = c.clock.now()
        let deadline = options.duration.map { start + $0 }
        var batchesRun = 0
        var stopping = false
        // A replay resumed after it already ran to its end has nothing left to do.
        if options.replayDir != nil && c.input.ended(after: c.nextTime - bi) { return .finished }
        while !c.tail.hasFailed {
            let time = c.nextTime
            if !stopping {
                if stop.isRequested || !c.clock.sleep(until: time, stop: stop) { stopping = true }
                if let deadline, time >= deadline { stopping = true }
            }
            // (stop_timeout is the StopWatchdog's, from the moment of the request.)
            if stopping {
                c.input.stopReceiving()
                c.tail.monitor.set(phase: .stopping)
            }
            if let failure = c.log?.failure {
                c.tail.fail(RuntimeError(failure + "; received data up to here is safe in the checkpoint"))
                break
            }
            if let failure = c.sources.compactMap(\.failure).first {
                c.tail.fail(RuntimeError(failure))
                break
            }
            c.lanes.waitForCapacity()
            if c.tail.hasFailed { break }
            do {
                c.lanes.submit(try cut(c, time: time, final: stopping))
            } catch {
                // Lanes waiting for their turn abandon their batches; the
                // checkpoint runs the recorded ones again at the next start.
                c.tail.fail(error)
                break
            }
            batchesRun += 1
            c.nextTime += bi
            c.nextID += 1
            if stopping { break }
            if let limit = options.batches, batchesRun >= limit { break }
            if c.input.ended(after: time) { break }
        }
        // However the loop ended, no lane is left working on a batch.
        c.lanes.waitUntilIdle()
        if let failure = c.tail.failure {
            if failure is OutputClosed { return .outputClosed }
            throw failure
        }
        return .finished
    }

    /// Cuts the batch at `time` and records its allocation. With `final`,
    /// everything received so far, because no later batch will run.
    private func cut(_ c: Context, time: Int64, final: Bool) throws -> Batch {
        let started = MonotonicTime.now()
        let blocks = try c.input.blocks(for: time, final: final)
        let cutMs = MonotonicTime.millisSince(started)
        if let checkpoint, let ledger = c.ledger {
            // Blocks in the log are durable before a batch that takes them is recorded.
            try c.log?.syncNow()
            let log = c.log
            try checkpoint.recordAllocation(ledger, time: time, batchID: c.nextID, blocks: blocks,
                                            logged: { log?.contains($0) ?? false }, files: c.input.takenFiles)
            CrashPoint.allocated.reached()
        }
        return Batch(time: time, id: c.nextID, blocks: blocks, fromStore: true, cutMs: cutMs, inFlight: c.lanes.inFlight + 1)
    }
}
