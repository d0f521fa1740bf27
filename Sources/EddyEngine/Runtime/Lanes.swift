import EddyBlocks
import EddyCore

/// A batch as the scheduler hands it to a lane.
struct Batch: Sendable {
    var time: Int64
    var id: Int64
    var blocks: [Block]
    /// Payloads come from the block store (live and replay batches), or are
    /// in the blocks themselves (batches re-run during recovery).
    var fromStore: Bool
    /// How long cutting it took (sealing every shard's open block), on the scheduler's thread.
    var cutMs: Double = 0
    /// Batches in flight when it was handed over, itself included.
    var inFlight = 1
}

/// The lanes: N threads, each with its own SQLite connection and its own
/// batch tables, that take batches from the scheduler and work on them at
/// the same time. Each batch's ordered half waits for the previous batch's
/// (see `OrderedTail`), so what a job prints, sinks and commits is what one
/// lane would give.
///
/// The queue is the only thing lanes share besides the tail; both are behind
/// locks, and each lane's connection is touched only by its own thread once
/// `start` has run (before, by the engine thread, for recovery).
final class Lanes: @unchecked Sendable {
    /// The schema name of the database all lanes attach: windows, and state
    /// tables when there is no checkpoint.
    static let sharedSchema = "eddy_shared"

    let lanes: [Lane]
    let tail: OrderedTail

    private struct Queue {
        var pending: [Batch] = []
        /// Handed to a lane and not yet finished (committed, failed or abandoned).
        var inFlight = 0
        var closed = false
        /// Lane threads still running.
        var running = 0
    }

    private let queue = ConditionLock(Queue())

    init(runners: [JobRunner], tail: OrderedTail) {
        self.tail = tail
        lanes = runners.enumerated().map { Lane(index: $0.offset, runner: $0.element) }
    }

    var count: Int { lanes.count }

    /// Starts every lane's thread.
    func start() throws {
        for lane in lanes {
            queue.withLock { $0.running += 1 }
            do {
                // Unowned: `close()` waits for this thread to end, so the
                // engine alone owns the lanes, and their connections close
                // when it lets them go.
                try startThread(name: "eddy-lane-\(lane.index)") { [unowned self, unowned lane] in
                    while let batch = next() {
                        lane.process(batch, tail: tail)
                        queue.update { $0.inFlight -= 1 }
                    }
                    queue.update { $0.running -= 1 }
                }
            } catch {
                queue.update { $0.running -= 1 }
                close()
                throw error
            }
        }
    }

    private func next() -> Batch? {
        queue.wait(until: { !$0.pending.isEmpty || $0.closed }) { q -> Batch? in
            q.pending.isEmpty ? nil : q.pending.removeFirst()
        } ?? nil
    }

    /// Waits until a lane is free for another batch: at most N in flight,
    /// so a scheduler that outruns the lanes waits here, and the batches'
    /// scheduling delay grows, as in Spark. Returns early when the run failed.
    func waitForCapacity() {
        // Polls the tail's failure outside the queue's lock, so that the two
        // locks are never held together.
        while !tail.hasFailed {
            let free = queue.wait(until: { $0.inFlight < lanes.count }, timeoutMs: 100, then: { _ in true }) ?? false
            if free { return }
        }
    }

    /// Batches in flight now (handed over, not finished).
    var inFlight: Int { queue.withLock { $0.inFlight } }

    func submit(_ batch: Batch) {
        queue.update {
            $0.pending.append(batch)
            $0.inFlight += 1
        }
    }

    /// Waits until every batch handed over has finished.
    func waitUntilIdle() {
        _ = queue.wait(until: { $0.inFlight == 0 }, then: { _ in true })
    }

    /// Lets every lane thread end once the queue is empty, and waits until
    /// they have: their connections then close with the engine (the last
    /// connection to the checkpoint folds its write-ahead log back in).
    func close() {
        queue.update { $0.closed = true }
        _ = queue.wait(until: { $0.running == 0 }, then: { _ in true })
    }
}

/// One lane: a thread's connection and the job prepared on it.
final class Lane: @unchecked Sendable {
    let index: Int
    let runner: JobRunner

    init(index: Int, runner: JobRunner) {
        self.index = index
        self.runner = runner
    }

    /// Runs a batch: its lane half now, its ordered half when its turn comes.
    /// A failure in the lane half is reported only at its turn, so that the
    /// batches before it still print and commit, as with one lane.
    func process(_ batch: Batch, tail: OrderedTail) {
        let started = tail.clock.now()
        let t0 = MonotonicTime.now()
        var half: JobRunner.LaneHalf?
        var failure: (any Error)?
        if !tail.hasFailed {
            do {
                half = try runner.runLaneSteps(time: batch.time, batchID: batch.id, blocks: batch.blocks,
                                               payload: tail.payload(fromStore: batch.fromStore))
            } catch {
                failure = error
            }
        }
        let laneDone = MonotonicTime.now()
        let laneNanos = laneDone - t0
        guard tail.waitForTurn(batch.id) else {
            // An earlier batch failed: this one will not run.
            runner.rollBack()
            return
        }
        let turnWaitNanos = MonotonicTime.now() - laneDone
        do {
            if let failure { throw failure }
            guard let half else { throw RuntimeError("batch \(batch.time) was abandoned") }
            try tail.finish(batch, half: half, lane: self, started: started, laneNanos: laneNanos,
                            turnWaitNanos: turnWaitNanos)
        } catch {
            runner.rollBack()
            tail.fail(error)
        }
    }
}
