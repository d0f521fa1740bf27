import Foundation
import Testing

/// Regressions of the restart crash (issue 12): at -O, Swift 6.3.1 handed
/// back a garbage `Block` from `WriteAheadLog.read`, so every read of a block
/// back from the log could crash. These run the release binary.
@Suite struct RestartCrashTests {
    /// A checkpoint saved from one of the crashing restarts after kill -9,
    /// with its job (sql/quickstart.sql as it was).
    @Test func theSavedCrashingCheckpointRestartsCleanly() throws {
        let dir = try TempDir()
        let fixture = EddyProcess.repoRoot + "/samples/fixtures"
        try FileManager.default.copyItem(atPath: fixture + "/checkpoint-segv", toPath: dir.path + "/ckpt")
        let r = try EddyProcess.run(["run", fixture + "/checkpoint-segv.sql", "--checkpoint", dir.path + "/ckpt",
                                     "--duration", "3s", "--format", "csv"], timeout: 60)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        // The batch in flight at the kill ran again with its recorded blocks.
        #expect(r.stderr.contains("running batch"), "\(r.stderr.suffix(2000))")
        #expect(r.stderr.contains("again, with the"))
        // Every batch printed word counts; none of them is garbage.
        let rows = r.stdoutLines.map { $0.split(separator: ",") }
        #expect(!rows.isEmpty)
        for row in rows {
            #expect(row.count == 2 && Int(row[1]) != nil && Int(row[1])! > 0, "bad row \(row)")
        }
        let status = try EddyProcess.run(["status", "--checkpoint", dir.path + "/ckpt"])
        #expect(status.status == 0, "\(status.stderr)")
    }

    /// No kill at all: a budget this small makes the store read nearly every
    /// block back from the log, which went through the miscompiled code.
    @Test func aTinyMemoryBudgetReadsBlocksBackFromTheLog() throws {
        let dir = try TempDir()
        let r = try EddyProcess.run(["run", "sql/quickstart.sql", "--checkpoint", dir.path + "/ckpt", "--duration", "4s",
                                     "--set", "memory_budget=64KB", "--format", "csv"], timeout: 60)
        #expect(r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        let metrics = metricsLines(r.stderr)
        #expect(metrics.count >= 2)
        let readBack = metrics.compactMap { Int($0["read_back"] ?? "") }.reduce(0, +)
        #expect(readBack > 0, "no block was read back from the log: \(r.stderr.suffix(1500))")
        // The words the generator sends are all counted: 2000 lines/s of 8 words.
        let counted = r.stdoutLines.compactMap { Int($0.split(separator: ",").last ?? "") }
        #expect(!counted.isEmpty)
    }
}
