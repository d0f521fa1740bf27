import EddyBlocks
import EddyCore
@testable import EddyIngest
import Glibc
import Testing

private func makeStore(_ dir: TempDir) -> BlockStore {
    BlockStore(.init(memoryBudget: 1 << 30, diskBudget: 1 << 30, spillDir: dir.file("spill"), ownsSpillDir: true))
}

private func appendInts(_ gen: BlockGenerator, _ values: [Int64], now: Int64) {
    gen.append(now: now) { builder in
        for v in values {
            _ = builder.beginRecord(arrival: now)
            builder.appendInteger(v)
            builder.endRecord()
        }
        return values.count
    }
}

@Suite("BlockGenerator")
struct BlockGeneratorTests {
    @Test func concurrentAppendsAndSealsKeepSeqAndLabelsInOrder() throws {
        let dir = try TempDir()
        let store = makeStore(dir)
        let gen = BlockGenerator(source: 3, shard: "7", columns: 1, firstSeq: 1000, blockInterval: 10,
                                 blockMaxBytes: 4096, store: store, ids: BlockIDSource())
        let total: Int64 = 30_000
        let appenderDone = ConditionLock(false)
        try startThread(name: "test-appender") {
            var next: Int64 = 0
            while next < total {
                let n = min(total - next, Int64(1 + next % 5))
                appendInts(gen, Array(next..<(next + n)), now: next / 10)
                if next % 7 == 0 { gen.tick(now: next / 10) }
                next += n
            }
            appenderDone.update { $0 = true }
        }
        // The engine's side: batch cuts, some with times behind the appender's labels.
        var t: Int64 = 0
        while !appenderDone.withLock({ $0 }) {
            gen.sealForBatch(at: t)
            t += (t % 3 == 0) ? 25 : -5
        }
        gen.sealForBatch(at: t)
        #expect(gen.unsealedCount == 0)
        #expect(gen.nextSeq == 1000 + total)

        let blocks = store.allocate(upTo: Int64.max)
        #expect(blocks.count > 1)
        var expectedSeq: Int64 = 1000
        var lastLabel = Int64.min
        var values: [Int64] = []
        for block in blocks {
            #expect(block.firstSeq == expectedSeq, "no gap and no overlap in _seq")
            #expect(block.sealTime >= lastLabel, "labels never go backwards")
            #expect(block.source == 3 && block.shard == "7")
            expectedSeq = block.lastSeq + 1
            lastLabel = block.sealTime
            for row in try readBlock(block) {
                if case .int(let v) = row.values[0] { values.append(v) }
            }
        }
        #expect(expectedSeq == 1000 + total)
        #expect(values == Array(0..<total), "every record once, in append order, so record i has _seq 1000 + i")
        let ids = blocks.map(\.id)
        #expect(ids == ids.sorted() && Set(ids).count == ids.count)
        store.close()
    }

    @Test func sealForBatchLabelsAndNeverGoesBack() throws {
        let dir = try TempDir()
        let store = makeStore(dir)
        let gen = BlockGenerator(source: 0, shard: "0", columns: 1, firstSeq: 500, blockInterval: 200,
                                 blockMaxBytes: 1 << 20, store: store, ids: BlockIDSource(next: 40))
        gen.sealForBatch(at: 1000)
        #expect(store.pendingCount == 0, "nothing to seal: no empty block")
        appendInts(gen, [1, 2], now: 1500)
        #expect(gen.unsealedCount == 2)
        gen.sealForBatch(at: 2000)
        appendInts(gen, [3], now: 1600)
        gen.sealForBatch(at: 1000)
        appendInts(gen, [4], now: 2100)
        gen.sealForBatch(at: 3000)
        let blocks = store.allocate(upTo: 10_000)
        #expect(blocks.map(\.sealTime) == [2000, 2000, 3000])
        #expect(blocks.map(\.firstSeq) == [500, 502, 503])
        #expect(blocks.map(\.count) == [2, 1, 1])
        #expect(blocks.map(\.id) == [40, 41, 42])
        #expect(gen.nextSeq == 504)
        store.close()
    }

    @Test func earlySealAtBlockMaxBytes() throws {
        let dir = try TempDir()
        let store = makeStore(dir)
        let gen = BlockGenerator(source: 0, shard: "0", columns: 1, firstSeq: 0, blockInterval: 200,
                                 blockMaxBytes: 100, store: store, ids: BlockIDSource())
        let text = String(repeating: "t", count: 30)
        func add(now: Int64) {
            gen.append(now: now) { b in
                _ = b.beginRecord(arrival: now)
                b.appendText(text)
                b.endRecord()
                return 1
            }
        }
        add(now: 1234)
        add(now: 1234)
        add(now: 1234)
        #expect(store.pendingCount == 0, "below block_max_bytes: still open")
        add(now: 1299)
        #expect(store.pendingCount == 1, "the fourth record passes 100 bytes and seals")
        #expect(gen.unsealedCount == 0)
        let blocks = store.allocate(upTo: 1200)
        #expect(blocks.count == 1)
        #expect(blocks.first?.sealTime == 1200, "labelled with the block-interval boundary at or before now")
        #expect(blocks.first?.count == 4)
        #expect((blocks.first?.rawBytes ?? 0) >= 100)
        store.close()
    }

    @Test func tickSealsAtBlockIntervalBoundaries() throws {
        let dir = try TempDir()
        let store = makeStore(dir)
        let gen = BlockGenerator(source: 0, shard: "0", columns: 1, firstSeq: 0, blockInterval: 200,
                                 blockMaxBytes: 1 << 20, store: store, ids: BlockIDSource())
        appendInts(gen, [1], now: 1050)
        gen.tick(now: 1050) // first tick: schedules the boundary at 1200
        #expect(store.pendingCount == 0)
        #expect(gen.millisUntilTick(now: 1050) == 150)
        gen.tick(now: 1199)
        #expect(store.pendingCount == 0)
        gen.tick(now: 1203)
        #expect(store.pendingCount == 1)
        appendInts(gen, [2], now: 1300)
        gen.tick(now: 1350)
        #expect(store.pendingCount == 1, "next boundary is 1400")
        gen.tick(now: 1400)
        let blocks = store.allocate(upTo: 5000)
        #expect(blocks.map(\.sealTime) == [1200, 1400])
        store.close()
    }

    @Test func negativeTimesFloorDownward() throws {
        let dir = try TempDir()
        let store = makeStore(dir)
        let gen = BlockGenerator(source: 0, shard: "0", columns: 1, firstSeq: 0, blockInterval: 200,
                                 blockMaxBytes: 8, store: store, ids: BlockIDSource())
        appendInts(gen, Array(0..<10), now: -150)
        #expect(store.allocate(upTo: 0).map(\.sealTime) == [-200])
        store.close()
    }

    @Test func walSeesEveryBlockBeforeTheStore() throws {
        let dir = try TempDir()
        let store = makeStore(dir)
        let logged = ConditionLock<[UInt64]>([])
        let gen = BlockGenerator(source: 0, shard: "0", columns: 1, firstSeq: 0, blockInterval: 200,
                                 blockMaxBytes: 1 << 20, store: store, ids: BlockIDSource(),
                                 wal: { block in
                                     #expect(store.pendingCount == logged.withLock { $0.count })
                                     logged.update { $0.append(block.id) }
                                 })
        for i in 0..<3 {
            appendInts(gen, [Int64(i)], now: 0)
            gen.sealForBatch(at: Int64(i) * 1000)
        }
        #expect(logged.withLock { $0 } == store.allocate(upTo: 10_000).map(\.id))
        store.close()
    }
}
