import EddyBlocks
import EddyCore
import Glibc
import Testing

/// A block with `size` payload bytes (random, so they are not all alike).
private func block(_ id: UInt64, shard: String = "0", sealTime: Int64, size: Int = 10) -> Block {
    var rng = SplitMix(seed: id)
    let payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
    return Block(id: id, source: 0, shard: shard, firstSeq: Int64(id) * 10, count: 1, columns: 1,
                 sealTime: sealTime, baseArrival: 0, rawBytes: size, payload: payload)
}

private func store(_ dir: TempDir, memory: Int64 = 1 << 30, disk: Int64 = 1 << 30, owns: Bool = true) -> BlockStore {
    BlockStore(.init(memoryBudget: memory, diskBudget: disk, spillDir: dir.file("spill"), ownsSpillDir: owns))
}

@Suite("BlockStore")
struct BlockStoreTests {
    @Test func allocateTakesExactlyTheBlocksUpToT() throws {
        let dir = try TempDir()
        let s = store(dir)
        s.put(block(1, shard: "a", sealTime: 100))
        s.put(block(2, shard: "b", sealTime: 200))
        s.put(block(3, shard: "a", sealTime: 200))
        s.put(block(4, shard: "b", sealTime: 300))
        s.put(block(5, shard: "a", sealTime: 400))
        #expect(s.pendingCount == 5)

        #expect(s.allocate(upTo: 50).isEmpty)
        #expect(s.allocate(upTo: 200).map(\.id) == [1, 2, 3])
        #expect(s.allocate(upTo: 200).isEmpty, "each block goes to one batch only")
        #expect(s.allocate(upTo: 300).map(\.id) == [4])
        #expect(s.pendingCount == 1)
        #expect(s.allocate(upTo: 400).map(\.id) == [5])
        #expect(s.pendingCount == 0)
        #expect(s.stats.blocksHeld == 5, "allocated blocks are held until released")
    }

    @Test func allocationKeepsPutOrderPerShard() throws {
        let dir = try TempDir()
        let s = store(dir)
        // Put order differs from label order across shards.
        let puts: [(UInt64, String, Int64)] = [(10, "a", 200), (11, "b", 100), (12, "a", 200), (13, "b", 200), (14, "a", 300), (15, "b", 150)]
        for (id, shard, t) in puts { s.put(block(id, shard: shard, sealTime: t)) }
        let taken = s.allocate(upTo: 1000)
        #expect(taken.map(\.id) == [10, 11, 12, 13, 14, 15])
        #expect(taken.filter { $0.shard == "a" }.map(\.id) == [10, 12, 14])
        #expect(taken.filter { $0.shard == "b" }.map(\.id) == [11, 13, 15])
    }

    @Test func lateBlockGoesToTheNextAllocation() throws {
        let dir = try TempDir()
        let s = store(dir)
        s.put(block(1, sealTime: 1000))
        #expect(s.allocate(upTo: 1000).map(\.id) == [1])
        // Labelled at or before T, but put after T was allocated.
        s.put(block(2, sealTime: 1000))
        s.put(block(3, sealTime: 900))
        s.put(block(4, sealTime: 2500))
        #expect(s.allocate(upTo: 2000).map(\.id) == [2, 3])
        #expect(s.allocate(upTo: 3000).map(\.id) == [4])
    }

    @Test func statsCountWhatWasPut() throws {
        let dir = try TempDir()
        let s = store(dir)
        var b = block(1, sealTime: 0, size: 40)
        b.count = 7
        b.rawBytes = 99
        s.put(b)
        s.put(block(2, sealTime: 0, size: 60))
        let stats = s.stats
        #expect(stats.blocksIn == 2)
        #expect(stats.recordsIn == 8)
        #expect(stats.rawBytesIn == 99 + 60)
        #expect(stats.compressedBytesIn == 100)
        #expect(stats.memoryBytes == 100)
        #expect(stats.diskBytes == 0)
        #expect(stats.blocksHeld == 2)
    }

    @Test func memoryBudgetSpillsToFilesAndReadsBack() throws {
        let dir = try TempDir()
        let s = store(dir, memory: 1000)
        let first = block(1, sealTime: 10, size: 600)
        let second = block(2, sealTime: 10, size: 600)
        let third = block(3, sealTime: 10, size: 400)
        s.put(first)
        #expect(!Files.exists(dir.file("spill")), "the spill dir is made only when needed")
        s.put(second)
        s.put(third) // fits in memory again: 600 + 400
        let spillFile = dir.file("spill/block-2.lz4")
        #expect(Files.exists(spillFile))
        #expect(try Files.readAll(spillFile) == second.payload)
        #expect(try Files.list(dir.file("spill")) == ["block-2.lz4"])

        var stats = s.stats
        #expect(stats.memoryBytes == 1000)
        #expect(stats.diskBytes == 600)
        #expect(stats.spilledBlocks == 1)
        #expect(stats.readBackBlocks == 0)

        let taken = s.allocate(upTo: 10)
        #expect(taken.map(\.id) == [1, 2, 3])
        #expect(taken[1].payload.isEmpty, "a spilled block's payload stays on disk until asked for")
        #expect(try s.payload(of: taken[1]) == second.payload)
        #expect(s.stats.readBackBlocks == 1)
        #expect(try s.payload(of: taken[0]) == first.payload)
        #expect(try s.payload(of: taken[2]) == third.payload)
        #expect(s.stats.readBackBlocks == 1, "memory blocks are not read back")

        // Spilled records decode like any others.
        s.release([2])
        #expect(!Files.exists(spillFile), "release deletes the spill file")
        stats = s.stats
        #expect(stats.diskBytes == 0)
        #expect(stats.memoryBytes == 1000)
        #expect(stats.blocksHeld == 2)
        s.release([1, 3, 99])
        stats = s.stats
        #expect(stats.memoryBytes == 0)
        #expect(stats.blocksHeld == 0)

        s.close()
        #expect(!Files.exists(dir.file("spill")), "close removes an owned spill dir")
    }

    @Test func spilledRealBlockDecodesByteIdentical() throws {
        let dir = try TempDir()
        let s = store(dir, memory: 1)
        var builder = BlockBuilder(columns: 2)
        for i in 0..<100 {
            _ = builder.beginRecord(arrival: Int64(i))
            builder.appendInteger(Int64(i))
            builder.appendText("line \(i)")
            builder.endRecord()
        }
        let sealed = builder.seal(id: 77, source: 0, shard: "0", firstSeq: 0, sealTime: 5)
        s.put(sealed)
        #expect(s.stats.spilledBlocks == 1)
        let taken = try #require(s.allocate(upTo: 5).first)
        let payload = try s.payload(of: taken)
        #expect(payload == sealed.payload)
        #expect(try decode(taken, payload: payload) == decode(sealed))
        s.close()
    }

    @Test func closeRemovesSpillFilesButKeepsADirItDoesNotOwn() throws {
        let dir = try TempDir()
        let s = store(dir, memory: 10, owns: false)
        s.put(block(1, sealTime: 0, size: 50))
        s.put(block(2, sealTime: 0, size: 50))
        #expect(try Files.list(dir.file("spill")).sorted() == ["block-1.lz4", "block-2.lz4"])
        s.close()
        #expect(Files.isDirectory(dir.file("spill")))
        #expect(try Files.list(dir.file("spill")) == [])
        #expect(s.pendingCount == 0)
    }

    @Test func emptyPayloadsAlwaysStayInMemory() throws {
        let dir = try TempDir()
        let s = store(dir, memory: 0, disk: 0)
        s.put(block(1, sealTime: 0, size: 0))
        #expect(s.stats.spilledBlocks == 0)
        #expect(s.stats.memoryBytes == 0)
        #expect(s.allocate(upTo: 0).map(\.id) == [1])
    }

    @Test func persistedBlocksAreReadThroughTheExternalReader() throws {
        let dir = try TempDir()
        let original = block(5, sealTime: 0, size: 100)
        let s = BlockStore(.init(memoryBudget: 10, diskBudget: 1 << 20, spillDir: dir.file("spill"), ownsSpillDir: true),
                           externalReader: { b in b.id == 5 ? original.payload : [] })
        s.put(original, persisted: true)
        #expect(!Files.exists(dir.file("spill")), "a persisted block is not spilled again")
        #expect(s.stats.spilledBlocks == 1)
        #expect(s.stats.diskBytes == 0)
        let taken = s.allocate(upTo: 0)
        #expect(taken.first?.payload.isEmpty == true)
        #expect(try s.payload(of: taken[0]) == original.payload)
        #expect(s.stats.readBackBlocks == 1)
        s.close()
    }

    @Test func fullBudgetsPauseReceiversUntilRelease() throws {
        let dir = try TempDir()
        let s = store(dir, memory: 100, disk: 100)
        let stop = StopSignal()
        #expect(s.awaitCapacity(stop: stop), "an empty store has room")
        s.put(block(1, sealTime: 0, size: 100)) // memory full
        #expect(!s.isFull, "disk still has room")
        s.put(block(2, sealTime: 0, size: 100)) // disk full
        #expect(s.isFull)
        #expect(s.stats.memoryBytes == 100 && s.stats.diskBytes == 100)

        let returned = Flag()
        try startThread(name: "test-receiver") {
            returned.set(s.awaitCapacity(stop: stop))
        }
        #expect(eventually { s.stats.paused }, "the receiver should pause")
        usleep(100_000)
        #expect(returned.value == nil, "awaitCapacity must block while both budgets are full")
        #expect(s.stats.paused)
        #expect(s.stats.receiverPauses == 1)

        s.release([2]) // frees the disk budget
        #expect(returned.wait() == true, "release must wake the paused receiver")
        #expect(!s.stats.paused)
        #expect(s.stats.receiverPauses == 1)
        s.close()
    }

    @Test func blockThatFitsNowhereFillsTheStore() throws {
        // Disk has a few bytes left, but not enough for the next block: that
        // block stays in memory over budget, and receivers must pause rather
        // than keep adding blocks to memory without bound.
        let dir = try TempDir()
        let s = store(dir, memory: 100, disk: 100)
        s.put(block(1, sealTime: 0, size: 100)) // memory: 100 of 100
        s.put(block(2, sealTime: 0, size: 60))  // disk: 60 of 100
        #expect(!s.isFull)
        s.put(block(3, sealTime: 0, size: 60))  // fits neither: memory 160
        #expect(s.stats.memoryBytes == 160)
        #expect(s.stats.diskBytes == 60)
        #expect(s.isFull, "memory is over its budget and the disk cannot take the next block")

        let returned = Flag()
        try startThread(name: "test-receiver") { returned.set(s.awaitCapacity(stop: StopSignal())) }
        #expect(eventually { s.stats.paused })
        #expect(returned.value == nil)
        s.release([3])
        #expect(returned.wait() == true)
        #expect(!s.isFull)
        s.close()
    }

    @Test func pausedReceiverReturnsFalseOnStop() throws {
        let dir = try TempDir()
        let s = store(dir, memory: 10, disk: 0)
        s.put(block(1, sealTime: 0, size: 10))
        #expect(s.isFull)
        let stop = StopSignal()
        let returned = Flag()
        try startThread(name: "test-receiver") {
            returned.set(s.awaitCapacity(stop: stop))
        }
        #expect(eventually { s.stats.paused })
        usleep(50_000)
        #expect(returned.value == nil)
        stop.request()
        #expect(returned.wait() == false)
        s.close()
    }

    @Test func closeWakesAPausedReceiver() throws {
        let dir = try TempDir()
        let s = store(dir, memory: 10, disk: 0)
        s.put(block(1, sealTime: 0, size: 10))
        let returned = Flag()
        try startThread(name: "test-receiver") {
            returned.set(s.awaitCapacity(stop: StopSignal()))
        }
        #expect(eventually { s.stats.paused })
        #expect(returned.value == nil)
        s.close()
        #expect(returned.wait() == true)
    }

    @Test func eachPauseIsCountedOnce() throws {
        let dir = try TempDir()
        let s = store(dir, memory: 10, disk: 0)
        let stop = StopSignal()
        for round in 1...2 {
            s.put(block(UInt64(round), sealTime: 0, size: 10))
            let returned = Flag()
            try startThread(name: "test-receiver") { returned.set(s.awaitCapacity(stop: stop)) }
            #expect(eventually { s.stats.paused })
            #expect(s.stats.receiverPauses == Int64(round))
            #expect(returned.value == nil)
            s.release([UInt64(round)])
            #expect(returned.wait() == true)
        }
        s.close()
    }
}

@Suite("BlockStore under concurrency and failure")
struct BlockStoreStressTests {
    @Test func spillFailureKeepsTheBlockInMemory() throws {
        let dir = try TempDir()
        // A regular file where the spill dir should be: the dir cannot be made.
        try Files.write(dir.file("blocked"), [1])
        let s = BlockStore(.init(memoryBudget: 10, diskBudget: 1 << 20, spillDir: dir.file("blocked/spill"), ownsSpillDir: false))
        let first = block(1, sealTime: 0, size: 10)
        let second = block(2, sealTime: 0, size: 50)
        s.put(first)
        s.put(second)
        var stats = s.stats
        #expect(stats.spilledBlocks == 0)
        #expect(stats.diskBytes == 0, "the disk reservation is given back")
        #expect(stats.memoryBytes == 60, "nothing is dropped: the block stays in memory over budget")
        #expect(s.isFull, "memory over budget pauses receivers")
        let taken = s.allocate(upTo: 0)
        #expect(taken.map(\.id) == [1, 2])
        #expect(try s.payload(of: taken[1]) == second.payload)
        #expect(s.stats.readBackBlocks == 0)
        s.release([1, 2])
        stats = s.stats
        #expect(stats.memoryBytes == 0)
        #expect(stats.blocksHeld == 0)
        #expect(!s.isFull)
        s.close()
    }

    @Test func concurrentPutsAndAllocationsLoseNothing() throws {
        let dir = try TempDir()
        // A small memory budget, so many blocks take the spill path.
        let s = BlockStore(.init(memoryBudget: 2000, diskBudget: 1 << 30, spillDir: dir.file("spill"), ownsSpillDir: true))
        let shards = 4
        let perShard = 300
        let done = ConditionLockCounter()
        for shard in 0..<shards {
            try startThread(name: "test-put-\(shard)") {
                for k in 0..<perShard {
                    // Labels rise with k, like a receiver's block-interval boundaries.
                    s.put(block(UInt64(shard * 10_000 + k), shard: "\(shard)", sealTime: Int64(k / 10) * 100, size: 1 + k % 97))
                }
                done.increment()
            }
        }
        var batches: [(Int64, [Block])] = []
        var t: Int64 = 0
        while done.value < shards {
            batches.append((t, s.allocate(upTo: t)))
            t += 50
        }
        batches.append((Int64.max, s.allocate(upTo: Int64.max)))

        var seen: [String: [Block]] = [:]
        for (time, blocks) in batches {
            for b in blocks {
                #expect(b.sealTime <= time)
                seen[b.shard, default: []].append(b)
                let payload = try s.payload(of: b)
                #expect(payload == block(b.id, sealTime: 0, size: payload.count).payload, "block \(b.id) read back intact")
            }
        }
        #expect(seen.values.map(\.count).reduce(0, +) == shards * perShard, "every block allocated exactly once")
        for (_, blocks) in seen {
            let ids = blocks.map(\.id)
            #expect(ids == ids.sorted(), "put order kept per shard")
            #expect(Set(ids).count == ids.count)
        }
        #expect(s.stats.spilledBlocks > 0)
        s.release(batches.flatMap { $0.1.map(\.id) })
        #expect(s.stats.memoryBytes == 0)
        #expect(s.stats.diskBytes == 0)
        #expect(try Files.list(dir.file("spill")) == [])
        s.close()
    }
}

/// A counter threads bump and the test thread reads.
final class ConditionLockCounter: Sendable {
    private let lock = ConditionLock(0)
    func increment() { lock.update { $0 += 1 } }
    var value: Int { lock.withLock { $0 } }
}
