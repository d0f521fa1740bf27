import EddyBlocks
import EddyCore
@testable import EddyIngest
import Glibc
import Testing

private func fileSource(path: String, pattern: String? = nil, format: String = "lines",
                        columns declared: [ColumnSpec] = []) throws -> FileSource {
    var options = ["connector": "file", "path": path, "format": format]
    if let pattern { options["pattern"] = pattern }
    guard case .success(let config) = SourceConfig.parse(columns: declared, options: options),
          case .file(let fileOptions) = config.connector else {
        throw OptionError(key: nil, "bad test source")
    }
    return FileSource(source: try LiveSource(index: 2, name: "files", config: config), options: fileOptions)
}

private let future: Int64 = 4_000_000_000_000

@Suite("FileSource")
struct FileSourceTests {
    @Test func filesPresentAtStartAreSkipped() throws {
        let dir = try TempDir()
        let inbox = dir.file("in")
        try Files.makeDirectories(inbox)
        try dir.write("in/old.txt", "old\n")
        let source = try fileSource(path: inbox)
        source.skipExisting()
        #expect(source.takeNewFiles(batchTime: future) == [])
        #expect(source.seenFiles == [inbox + "/old.txt"])
    }

    @Test func renamedInFileIsTakenOnce() throws {
        let dir = try TempDir()
        let inbox = dir.file("in")
        try Files.makeDirectories(inbox)
        let source = try fileSource(path: inbox)
        source.skipExisting()
        let staged = try dir.write("staging.txt", "a\nb\n")
        #expect(source.takeNewFiles(batchTime: future) == [])
        #expect(rename(staged, inbox + "/new.txt") == 0)
        #expect(source.takeNewFiles(batchTime: future) == [inbox + "/new.txt"])
        #expect(source.takeNewFiles(batchTime: future) == [], "a file is taken once")
        // Rewriting it does not make it new again.
        try dir.write("in/new.txt", "c\n")
        #expect(source.takeNewFiles(batchTime: future) == [])
    }

    @Test func temporaryNamesAreIgnored() throws {
        let dir = try TempDir()
        let inbox = dir.file("in")
        try Files.makeDirectories(inbox)
        let source = try fileSource(path: inbox)
        source.skipExisting()
        for name in [".hidden", "_partial", "upload.tmp", "big.csv._COPYING_"] { try dir.write("in/" + name, "x\n") }
        try Files.makeDirectories(inbox + "/subdir")
        #expect(source.takeNewFiles(batchTime: future) == [], "temporary names and directories are not inputs")
        try dir.write("in/real.csv", "x\n")
        #expect(source.takeNewFiles(batchTime: future) == [inbox + "/real.csv"])
    }

    @Test func globPaths() throws {
        let dir = try TempDir()
        let source = try fileSource(path: dir.path + "/*.csv", format: "csv", columns: columns("a"))
        source.skipExisting()
        try dir.write("a.csv", "1\n")
        try dir.write("b.txt", "2\n")
        try dir.write(".c.csv", "3\n")
        try dir.write("d.csv.tmp", "4\n")
        try dir.write("e.csv", "5\n")
        #expect(source.takeNewFiles(batchTime: future).sorted() == [dir.file("a.csv"), dir.file("e.csv")])
    }

    @Test func patternOption() throws {
        let dir = try TempDir()
        let source = try fileSource(path: dir.path, pattern: "*.log")
        try dir.write("x.log", "1\n")
        try dir.write("y.txt", "2\n")
        #expect(source.takeNewFiles(batchTime: future) == [dir.file("x.log")])
    }

    @Test func missingDirectoryHasNoFiles() throws {
        let dir = try TempDir()
        let source = try fileSource(path: dir.file("not-there"))
        source.skipExisting()
        #expect(source.takeNewFiles(batchTime: future) == [])
    }

    @Test func takeNewFilesRespectsMTime() throws {
        let dir = try TempDir()
        let source = try fileSource(path: dir.path)
        source.skipExisting()
        let late = try dir.write("late.txt", "l\n")
        let early = try dir.write("early.txt", "e\n")
        let same = try dir.write("same.txt", "s\n")
        setMTime(late, ms: 2_000_000)
        setMTime(early, ms: 1_000_000)
        setMTime(same, ms: 1_000_000)
        #expect(source.takeNewFiles(batchTime: 999_999) == [], "files newer than the batch wait for a later batch")
        #expect(source.takeNewFiles(batchTime: 1_000_000) == [early, same], "mtime <= batch time, oldest first, then by name")
        #expect(source.takeNewFiles(batchTime: 1_999_999) == [])
        #expect(source.takeNewFiles(batchTime: 2_000_000) == [late])
    }

    @Test func markSeenRestoresACheckpoint() throws {
        let dir = try TempDir()
        let source = try fileSource(path: dir.path)
        let a = try dir.write("a.txt", "a\n")
        let b = try dir.write("b.txt", "b\n")
        source.markSeen([a])
        #expect(source.takeNewFiles(batchTime: future) == [b])
    }

    @Test func readBlocksParsesTheFile() throws {
        let dir = try TempDir()
        let source = try fileSource(path: dir.path, format: "csv", columns: columns("n", "word"))
        let path = try dir.write("input.csv", "1,one\n2,\"t,wo\"\nbad\n3,three")
        let ids = BlockIDSource(next: 10)
        let blocks = try source.readBlocks(path: path, batchTime: 5000, blockMaxBytes: 1 << 20, ids: ids)
        #expect(blocks.count == 1)
        let block = try #require(blocks.first)
        #expect(block.shard == "input.csv")
        #expect(block.source == 2)
        #expect(block.sealTime == 5000)
        #expect(block.firstSeq == 0)
        #expect(block.id == 10)
        #expect(try readBlock(block) == [
            Row(arrival: 5000, values: [.text("1"), .text("one")]),
            Row(arrival: 5000, values: [.text("2"), .text("t,wo")]),
            Row(arrival: 5000, values: [.text("3"), .text("three")]),
        ])
        #expect(source.source.errors.count == 1)
    }

    @Test func bigInputIsCutIntoBlocksWithContinuousSeq() throws {
        let dir = try TempDir()
        let source = try fileSource(path: dir.path)
        var text = ""
        for i in 0..<60_000 { text += "line number \(i) with padding padding padding\n" }
        let bytes = Array(text.utf8)
        #expect(bytes.count > 2 << 20)
        let blocks = FileSource.blocks(from: bytes, source: source.source, shard: "f", firstSeq: 100, label: 7,
                                       arrival: 7, blockMaxBytes: 1 << 20, ids: BlockIDSource())
        #expect(blocks.count > 1)
        var seq: Int64 = 100
        var lines = 0
        for block in blocks {
            #expect(block.firstSeq == seq)
            seq = block.lastSeq + 1
            for row in try readBlock(block) {
                #expect(row.values == [.text("line number \(lines) with padding padding padding")])
                lines += 1
            }
        }
        #expect(lines == 60_000)
    }
}
