@testable import EddyBlocks
import EddyCore
import Glibc
import Testing

/// What the write-ahead log reports instead of ignoring: a tail it cannot
/// cut off, and (for `eddy status`) the records its blocks hold.
@Suite struct WALReportTests {
    func block(_ id: UInt64, lines: Int) -> Block {
        var b = BlockBuilder(columns: 1)
        for i in 0..<lines {
            _ = b.beginRecord(arrival: 1000 + Int64(i))
            b.appendText("block \(id) line \(i)")
            b.endRecord()
        }
        return b.seal(id: id, source: 0, shard: "0", firstSeq: Int64(id) * 1000, sealTime: Int64(id) * 200)
    }

    /// A log of blocks 1...3 (10, 20, 30 records) whose last record is torn.
    func tornLog(_ dir: TempDir) throws -> String {
        let wal = try WriteAheadLog(directory: dir.file("wal"), sync: .off)
        for id in 1...3 { try wal.append(block(UInt64(id), lines: Int(id) * 10)) }
        wal.close()
        let path = dir.file("wal") + "/" + WriteAheadLog.name(try #require(wal.segments().last))
        let size = try #require(Files.status(path)?.size)
        #expect(truncate(path, off_t(size - 20)) == 0)
        return path
    }

    @Test func aCutThatFailsIsAnErrorNamingTheSegment() throws {
        let dir = try TempDir()
        let path = try tornLog(dir)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        do {
            try WriteAheadLog.cutBack(fd: fd, to: 0, path: path)
            Issue.record("ftruncate through a read-only descriptor succeeded")
        } catch {
            #expect(error.description.hasPrefix("cannot truncate \(path): "))
            #expect(error.code == EINVAL || error.code == EBADF)
        }
        #expect(Files.status(path)?.size ?? 0 > 0, "nothing was cut")
    }

    /// Recovery cannot cut the damaged tail off (the segment refuses writes):
    /// it says so among its problems, and still hands back the good blocks.
    @Test func aDamagedTailThatCannotBeCutOffIsReported() throws {
        let dir = try TempDir()
        let path = try tornLog(dir)
        let size = try #require(Files.status(path)?.size)
        try #require(ReadOnlySegment.protect(path), "cannot make \(path) refuse writes")
        defer { ReadOnlySegment.release(path) }
        let recovered = try WriteAheadLog(directory: dir.file("wal"), sync: .block).recover()
        #expect(recovered.blocks.map(\.0.id) == [1, 2])
        #expect(recovered.problems.count == 2)
        #expect(recovered.problems.first?.contains("torn record") == true)
        let cut = recovered.problems.last ?? ""
        #expect(cut.contains("the damaged tail could not be cut off (cannot open \(path): "), "\(cut)")
        #expect(cut.contains("it stays on disk and is skipped at every start"))
        #expect(Files.status(path)?.size == size)
    }

    /// `eddy status` counts blocks and the records they hold, from headers.
    @Test func theSummaryCountsRecordsNotBlocksTwice() throws {
        let dir = try TempDir()
        let wal = try WriteAheadLog(directory: dir.file("wal"), sync: .off)
        for id in 1...3 { try wal.append(block(UInt64(id), lines: Int(id) * 10)) }
        wal.close()
        let size = try #require(Files.status(dir.file("wal") + "/" + WriteAheadLog.name(1))?.size)
        #expect(WriteAheadLog.summary(directory: dir.file("wal"))
                == WriteAheadLog.Summary(segments: 1, bytes: size, blocks: 3, records: 60))
        // A torn last record is not counted, as recovery would not read it.
        let torn = try TempDir()
        let path = try tornLog(torn)
        let tornSize = try #require(Files.status(path)?.size)
        #expect(WriteAheadLog.summary(directory: torn.file("wal"))
                == WriteAheadLog.Summary(segments: 1, bytes: tornSize, blocks: 2, records: 30))
    }
}

/// Makes a file refuse to be opened for writing: read-only permissions for
/// an ordinary user; for root, who ignores those, the append-only attribute
/// (`chattr +a`, FS_APPEND_FL through FS_IOC_SETFLAGS).
enum ReadOnlySegment {
    static let getFlags: UInt = 0x8008_6601
    static let setFlags: UInt = 0x4008_6602
    static let appendOnly: Int32 = 0x20

    static func protect(_ path: String) -> Bool {
        if geteuid() != 0 { return chmod(path, 0o444) == 0 }
        return setAppendOnly(path, true)
    }

    static func release(_ path: String) {
        if geteuid() != 0 { _ = chmod(path, 0o644) } else { _ = setAppendOnly(path, false) }
    }

    private static func setAppendOnly(_ path: String, _ on: Bool) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var flags: Int32 = 0
        guard withUnsafeMutablePointer(to: &flags, { ioctl(fd, getFlags, $0) }) == 0 else { return false }
        flags = on ? flags | appendOnly : flags & ~appendOnly
        return withUnsafeMutablePointer(to: &flags, { ioctl(fd, setFlags, $0) }) == 0
    }
}
