import EddyBlocks
import EddyCore
import EddyIngest

/// Issue 3's block figures: how fast blocks go into the store (seal: LZ4
/// compress + put) and come out (payload + LZ4 decompress), in memory and
/// through spill files, and how well LZ4 does on line data.
enum BlockBench {
    static func run() {
        say("== blocks: block store in/out, LZ4 on line data ==")
        let lines = Bench.lines(batches: 1, perBatch: 400_000)[0]
        // Blocks of ~1 MB of encoded records.
        var builders: [BlockBuilder] = []
        var b = BlockBuilder(columns: 1)
        for line in lines {
            _ = b.beginRecord(arrival: 0)
            line.withUnsafeBytes { b.appendText($0) }
            b.endRecord()
            if b.byteCount >= 1 << 20 {
                builders.append(b)
                b = BlockBuilder(columns: 1)
            }
        }
        if !b.isEmpty { builders.append(b) }
        let rawBytes = builders.reduce(0) { $0 + $1.byteCount }
        let mb = Double(rawBytes) / Double(1 << 20)
        for (label, budget) in [("in memory", Int64(1) << 40), ("spilling", Int64(1) << 20)] {
            let dir = (try? Files.makeTempDirectory(prefix: "eddy-bench")) ?? "/tmp"
            let store = BlockStore(BlockStore.Config(memoryBudget: budget, diskBudget: 1 << 40, spillDir: dir, ownsSpillDir: true))
            let ids = BlockIDSource()
            var compressed = 0
            let inSeconds = Bench.seconds {
                for var builder in builders {
                    let block = builder.seal(id: ids.next(), source: 0, shard: "0", firstSeq: 0, sealTime: 1000)
                    compressed += block.payload.count
                    store.put(block)
                }
            }
            let blocks = store.allocate(upTo: 1000)
            var buffer: [UInt8] = []
            let outSeconds = Bench.seconds {
                for block in blocks {
                    if let payload = try? store.payload(of: block) {
                        try? LZ4.decompress(payload, rawBytes: block.rawBytes, into: &buffer)
                    }
                }
            }
            store.release(blocks.map(\.id))
            store.close()
            say("  \(label): in \(Bench.format1(mb / inSeconds)) MB/s, out \(Bench.format1(mb / outSeconds)) MB/s (raw record bytes; \(store.stats.spilledBlocks) of \(blocks.count) blocks spilled)")
            if label == "in memory" {
                say("  LZ4 ratio, generator lines (random words): \(Bench.format2(Double(rawBytes) / Double(compressed)))")
            }
        }
        // Log-like lines compress far better than random words.
        var logBuilder = BlockBuilder(columns: 1)
        for i in 0..<200_000 {
            let line = "2026-11-22T10:\(10 + i % 50):\(10 + i % 49).\(100 + i % 900)Z INFO http request method=GET path=/api/v1/items/\(i % 5000) status=\(i % 17 == 0 ? 500 : 200) bytes=\(1000 + i % 7000) duration_ms=\(i % 300)"
            _ = logBuilder.beginRecord(arrival: Int64(i))
            logBuilder.appendText(line)
            logBuilder.endRecord()
        }
        let logRaw = logBuilder.byteCount
        let logBlock = logBuilder.seal(id: 1, source: 0, shard: "0", firstSeq: 0, sealTime: 0)
        say("  LZ4 ratio, access-log lines: \(Bench.format2(Double(logRaw) / Double(logBlock.payload.count)))")
    }
}
