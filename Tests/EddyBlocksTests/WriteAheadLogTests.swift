import EddyBlocks
import EddyCore
import Glibc
import Testing

/// The write-ahead log keeps sealed blocks across crashes, and never hands a
/// torn or corrupt block back.
@Suite struct WriteAheadLogTests {
    func block(_ id: UInt64, lines: Int = 50, shard: String = "0") -> Block {
        var b = BlockBuilder(columns: 1)
        for i in 0..<lines {
            _ = b.beginRecord(arrival: 1000 + Int64(i))
            b.appendText("block \(id) line \(i) " + String(repeating: "x", count: i % 17))
            b.endRecord()
        }
        return b.seal(id: id, source: 2, shard: shard, firstSeq: Int64(id) * 100, sealTime: Int64(id) * 200)
    }

    @Test func blocksComeBackExactlyAsAppended() throws {
        let dir = try TempDir()
        let wal = try WriteAheadLog(directory: dir.file("wal"), sync: .block)
        var locations: [WriteAheadLog.Location] = []
        for id in 1...5 { locations.append(try wal.append(block(UInt64(id), shard: "shard-\(id % 2)"))) }
        for (i, location) in locations.enumerated() {
            #expect(try wal.read(location) == block(UInt64(i + 1), shard: "shard-\((i + 1) % 2)"))
        }
        wal.close()
        // A new process sees the same blocks, in order.
        let again = try WriteAheadLog(directory: dir.file("wal"), sync: .block)
        let recovery = again.recover()
        #expect(recovery.problems.isEmpty)
        #expect(recovery.blocks.map(\.0.id) == [1, 2, 3, 4, 5])
        // Recovery keeps headers only; the payload is read back by id.
        let header = recovery.blocks[2].0
        #expect(header.payload.isEmpty)
        #expect(header.payloadBytes == block(3, shard: "shard-1").payload.count)
        #expect(header.firstSeq == 300 && header.count == 50 && header.shard == "shard-1" && header.sealTime == 600)
        #expect(try again.read(id: 3) == block(3, shard: "shard-1"))
    }

    @Test func aTornTailIsReportedSkippedAndCutOff() throws {
        let dir = try TempDir()
        let wal = try WriteAheadLog(directory: dir.file("wal"), sync: .off)
        for id in 1...3 { try wal.append(block(UInt64(id))) }
        wal.close()
        // Power loss in the middle of the third append: only part of it reached disk.
        let segment = try #require(wal.segments().last)
        let path = dir.file("wal") + "/" + WriteAheadLog.name(segment)
        let size = try #require(Files.status(path)?.size)
        #expect(truncate(path, off_t(size - 100)) == 0)

        let recovered = try WriteAheadLog(directory: dir.file("wal"), sync: .block).recover()
        #expect(recovered.blocks.map(\.0.id) == [1, 2])
        #expect(recovered.problems.count == 1)
        #expect(recovered.problems[0].contains("torn record"))
        // The damaged tail is gone, so appends after recovery are readable again.
        let wal2 = try WriteAheadLog(directory: dir.file("wal"), sync: .block)
        _ = wal2.recover()
        try wal2.append(block(4))
        wal2.close()
        let final = try WriteAheadLog(directory: dir.file("wal"), sync: .block).recover()
        #expect(final.blocks.map(\.0.id) == [1, 2, 4])
        #expect(final.problems.isEmpty)
    }

    @Test func aFlippedByteFailsTheChecksumAndNothingAfterItIsTrusted() throws {
        let dir = try TempDir()
        let wal = try WriteAheadLog(directory: dir.file("wal"), sync: .block)
        var locations: [WriteAheadLog.Location] = []
        for id in 1...4 { locations.append(try wal.append(block(UInt64(id)))) }
        wal.close()
        let path = dir.file("wal") + "/" + WriteAheadLog.name(locations[1].segment)
        // Flip one byte inside the second block's payload.
        let fd = open(path, O_RDWR)
        #expect(fd >= 0)
        let at = off_t(locations[1].offset) + off_t(locations[1].length / 2)
        var byte: UInt8 = 0
        #expect(pread(fd, &byte, 1, at) == 1)
        byte ^= 0x40
        #expect(pwrite(fd, &byte, 1, at) == 1)
        close(fd)

        // Reading that block directly is refused...
        #expect(throws: BlockError.self) { _ = try WriteAheadLog(directory: dir.file("wal"), sync: .block).read(locations[1]) }
        // ...and recovery keeps only what precedes it.
        let recovered = try WriteAheadLog(directory: dir.file("wal"), sync: .block).recover()
        #expect(recovered.blocks.map(\.0.id) == [1])
        #expect(recovered.problems.count == 1)
        #expect(recovered.problems[0].contains("checksum mismatch"))
    }

    @Test func segmentsRollAndAreDeletedOnceTheirBlocksAreReleased() throws {
        let dir = try TempDir()
        let wal = try WriteAheadLog(directory: dir.file("wal"), sync: .interval, segmentBytes: 1024)
        var ids: [UInt64] = []
        for id in 1...12 {
            try wal.append(block(UInt64(id), lines: 40))
            ids.append(UInt64(id))
        }
        try wal.syncNow()
        let before = wal.segments()
        #expect(before.count >= 3)
        // Releasing the first half deletes the segments that held only those.
        wal.release(Set(ids.prefix(6)))
        let after = wal.segments()
        #expect(after.count < before.count)
        let recovered = try WriteAheadLog(directory: dir.file("wal"), sync: .block).recover()
        #expect(recovered.blocks.map(\.0.id).allSatisfy { $0 > 3 })
        #expect(Set(recovered.blocks.map(\.0.id)).isSuperset(of: Set(ids.suffix(6))))
        // Releasing everything leaves only the segment being written.
        wal.release(Set(ids))
        #expect(wal.segments().count == 1)
        #expect(wal.liveBlocks == 0)
    }

    @Test func aGarbageFileIsRefusedAsCorrupt() throws {
        let dir = try TempDir()
        try Files.makeDirectories(dir.file("wal"))
        try Files.write(dir.file("wal") + "/" + WriteAheadLog.name(1), Array("not a log at all, just text".utf8))
        let recovered = try WriteAheadLog(directory: dir.file("wal"), sync: .block).recover()
        #expect(recovered.blocks.isEmpty)
        #expect(recovered.problems.count == 1)
    }
}
