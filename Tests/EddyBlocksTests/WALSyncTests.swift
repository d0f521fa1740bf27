import EddyBlocks
import EddyCore
import Glibc
import Testing

/// `wal_sync` chooses when the write-ahead log fsyncs: after every appended
/// block, once per batch (`syncNow`, which the engine calls before each
/// batch), or never. Counted through the log's fsync counter.
@Suite struct WALSyncTests {
    func block(_ id: UInt64) -> Block {
        var b = BlockBuilder(columns: 1)
        for i in 0..<20 {
            _ = b.beginRecord(arrival: 1000 + Int64(i))
            b.appendText("block \(id) line \(i)")
            b.endRecord()
        }
        return b.seal(id: id, source: 0, shard: "0", firstSeq: Int64(id) * 20, sealTime: Int64(id) * 100)
    }

    /// Appends `ids`, then calls `syncNow` once; returns the fsync count after each step.
    func appendThenSync(_ wal: WriteAheadLog, _ ids: ClosedRange<UInt64>) throws -> (afterAppends: Int, afterSync: Int) {
        for id in ids { try wal.append(block(id)) }
        let afterAppends = wal.syncCount
        try wal.syncNow()
        return (afterAppends, wal.syncCount)
    }

    @Test func blockModeSyncsEveryAppendedBlock() throws {
        let dir = try TempDir()
        let wal = try WriteAheadLog(directory: dir.file("wal"), sync: .block)
        #expect(wal.syncCount == 0)
        try wal.append(block(1))
        #expect(wal.syncCount == 1)
        let first = try appendThenSync(wal, 2...10)
        #expect(first.afterAppends == 10)
        // Everything is already on disk: a batch boundary adds nothing.
        #expect(first.afterSync == 10)
        wal.close()
        #expect(wal.syncCount == 10)
    }

    @Test func intervalModeSyncsOncePerBatchAndOnlyWhenSomethingWasAppended() throws {
        let dir = try TempDir()
        let wal = try WriteAheadLog(directory: dir.file("wal"), sync: .interval)
        // A batch's worth of blocks: appends do not sync...
        let first = try appendThenSync(wal, 1...10)
        #expect(first.afterAppends == 0)
        // ...the batch boundary syncs them all at once.
        #expect(first.afterSync == 1)
        // A batch with nothing new: no fsync.
        try wal.syncNow()
        #expect(wal.syncCount == 1)
        let second = try appendThenSync(wal, 11...30)
        #expect(second.afterAppends == 1)
        #expect(second.afterSync == 2)
        // Appends after the last boundary are synced when the log closes.
        try wal.append(block(31))
        #expect(wal.syncCount == 2)
        wal.close()
        #expect(wal.syncCount == 3)
        // And what was written is all there.
        let recovered = try WriteAheadLog(directory: dir.file("wal"), sync: .interval).recover()
        #expect(recovered.problems.isEmpty)
        #expect(recovered.blocks.map(\.0.id) == Array(1...31))
    }

    @Test func offModeNeverSyncs() throws {
        let dir = try TempDir()
        // Small segments, so that rolling to a new segment is covered too.
        let wal = try WriteAheadLog(directory: dir.file("wal"), sync: .off, segmentBytes: 1024)
        let r = try appendThenSync(wal, 1...40)
        #expect(r.afterAppends == 0 && r.afterSync == 0)
        #expect(wal.segments().count > 1)
        wal.close()
        #expect(wal.syncCount == 0)
        let recovered = try WriteAheadLog(directory: dir.file("wal"), sync: .off).recover()
        #expect(recovered.blocks.map(\.0.id) == Array(1...40))
    }

    /// Rolling to a new segment syncs the old one's unsynced tail under
    /// `interval`, but not again under `block`, whose appends are synced already.
    @Test func rollingASegmentSyncsWhatIsNotSyncedYet() throws {
        let dir = try TempDir()
        let interval = try WriteAheadLog(directory: dir.file("interval"), sync: .interval, segmentBytes: 1024)
        for id in 1...40 { try interval.append(block(UInt64(id))) }
        let rolls = interval.segments().count - 1
        #expect(rolls > 0)
        #expect(interval.syncCount == rolls)
        interval.close()

        let block = try WriteAheadLog(directory: dir.file("block"), sync: .block, segmentBytes: 1024)
        for id in 1...40 { try block.append(self.block(UInt64(id))) }
        #expect(block.segments().count > 1)
        #expect(block.syncCount == 40)
        block.close()
        #expect(block.syncCount == 40)
    }
}
