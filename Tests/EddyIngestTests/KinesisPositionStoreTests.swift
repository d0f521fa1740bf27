import EddyCore
@testable import EddyIngest
import Glibc
import Testing

/// Without a checkpoint, a kinesis source resumes from its position file. A
/// file that is missing means a first run; one that cannot be read or holds
/// something else is an error, never "no positions" (a silent restart from
/// `initial_position`).
@Suite struct KinesisPositionStoreTests {
    func store(_ dir: TempDir) -> KinesisPositionStore {
        KinesisPositionStore(appName: "app", env: ["EDDY_STATE_DIR": dir.path])
    }

    @Test func positionsRoundTripAndAMissingFileIsAFirstRun() throws {
        let dir = try TempDir()
        let s = store(dir)
        #expect(try s.load() == [:])
        try s.save(["shardId-000": "4960:0", "shardId-001": "END"])
        try s.save(["shardId-002": "SINCE:1700000000000"])
        #expect(try s.load() == ["shardId-000": "4960:0", "shardId-001": "END", "shardId-002": "SINCE:1700000000000"])
    }

    @Test func anUnreadableFileIsAnError() throws {
        let dir = try TempDir()
        let s = store(dir)
        // A directory where the file should be: unreadable for root too.
        try Files.makeDirectories(s.path)
        do {
            _ = try s.load()
            Issue.record("an unreadable position file loaded")
        } catch {
            #expect(error.message.hasPrefix("kinesis positions: cannot "), "\(error.message)")
            #expect(error.message.contains(s.path))
            #expect(error.message.contains("Is a directory"))
            #expect(error.message.hasSuffix("Repair the file, or remove it to read every shard from initial_position again"))
        }
        #expect(throws: RuntimeError.self) { try s.save(["shardId-000": "1:0"]) }
    }

    @Test func aDamagedFileIsAnErrorNamingTheLineAndIsNotOverwritten() throws {
        let dir = try TempDir()
        let s = store(dir)
        try Files.makeDirectories(dir.path)
        let damaged = "shardId-000 4960:0\nshardId-001 garbage\n"
        try Files.write(s.path, Array(damaged.utf8))
        do {
            _ = try s.load()
            Issue.record("a damaged position file loaded")
        } catch {
            #expect(error.message.hasPrefix("kinesis positions \(s.path):2: expected 'SHARD POSITION', found 'shardId-001 garbage'"))
        }
        #expect(throws: RuntimeError.self) { try s.save(["shardId-000": "5000:0"]) }
        #expect(String(decoding: try Files.readAll(s.path), as: UTF8.self) == damaged)
    }
}
