import EddyBlocks
import EddyCore
import Glibc
import Testing

/// Damaged blocks behind a valid checksum (a writer's bug, a collision, a
/// hand-edited log), as the wal fuzz target (Fuzz/Sources/wal) reads them:
/// each must be refused as corrupt, never trap or allocate gigabytes.
@Suite("Write-ahead log fuzz regressions")
struct WALFuzzRegressionTests {
    func block(firstSeq: Int64, count: Int = 5, rawBytes: Int = 10, payload: [UInt8] = Array(repeating: 0, count: 8)) -> Block {
        Block(id: 1, source: 0, shard: "0", firstSeq: firstSeq, count: count, columns: 1, sealTime: 1000,
              baseArrival: 0, rawBytes: rawBytes, payload: payload)
    }

    func isCorrupt(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch let error as BlockError {
            if case .corrupt = error { return true }
            return false
        } catch {
            return false
        }
    }

    /// The engine resumes a shard at `firstSeq + count`: with firstSeq near
    /// Int64.max that trapped on restart.
    @Test func aBlockWhoseSeqsOverflowIsCorrupt() throws {
        #expect(isCorrupt { _ = try WriteAheadLog.decode(WriteAheadLog.encode(block(firstSeq: Int64.max - 1))) })
        #expect(isCorrupt { _ = try WriteAheadLog.decode(WriteAheadLog.encode(block(firstSeq: -3))) })
        let fine = block(firstSeq: Int64.max - 5)
        let decoded = try WriteAheadLog.decode(WriteAheadLog.encode(fine))
        #expect(decoded.nextSeq == Int64.max)
    }

    /// Recovery reports such a block and cuts it off, so it never reaches a batch.
    @Test func recoveryDropsABlockWhoseSeqsOverflow() throws {
        let dir = try TempDir()
        let wal = try WriteAheadLog(directory: dir.file("wal"), sync: .off)
        try wal.append(block(firstSeq: 0))
        try wal.append(block(firstSeq: Int64.max - 2))
        wal.close()
        let recovery = try WriteAheadLog(directory: dir.file("wal"), sync: .off).recover()
        #expect(recovery.blocks.map(\.0.firstSeq) == [0])
        #expect(recovery.problems.count == 1 && recovery.problems[0].contains("implausible block header"))
    }

    /// A header that claims 2 GB of records for 8 compressed bytes made the
    /// loader allocate 2 GB before LZ4 said no (an out-of-memory under the fuzzer).
    @Test func aRawSizeLZ4CannotReachIsCorruptBeforeAllocating() {
        var output: [UInt8] = []
        #expect(isCorrupt { try LZ4.decompress(Array(repeating: 0, count: 8), rawBytes: Int(Int32.max) - 1, into: &output) })
        #expect(output.capacity < 1 << 20)
        #expect(isCorrupt { try LZ4.decompress(Array(repeating: 0, count: 8), rawBytes: 255 * 10, into: &output) })
    }

    /// The bound leaves room for what LZ4 really does at its best ratio.
    @Test func theMostCompressibleInputStillDecodes() throws {
        let zeros = [UInt8](repeating: 0, count: 8 << 20)
        let packed = LZ4.compress(zeros)
        var output: [UInt8] = []
        try LZ4.decompress(packed, rawBytes: zeros.count, into: &output)
        #expect(output == zeros)
        #expect(zeros.count / packed.count > 200)
    }
}
