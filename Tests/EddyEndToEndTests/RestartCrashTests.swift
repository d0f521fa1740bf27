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

    /// No kill at all: the reproduction, `memory_budget = 64KB`, and
    /// a budget below one batch's blocks (16KB), which makes the store read
    /// blocks back from the log every batch, through the code that was
    /// miscompiled. (At 64KB, whether a block spills depends on timing.)
    @Test(arguments: ["64KB", "16KB"])
    func aTinyMemoryBudgetReadsBlocksBackFromTheLog(_ budget: String) throws {
        let dir = try TempDir()
        let r = try EddyProcess.run(["run", "sql/quickstart.sql", "--checkpoint", dir.path + "/ckpt", "--duration", "4s",
                                     "--set", "memory_budget=\(budget)", "--format", "csv"], timeout: 60)
        #expect(r.status == 0 && !r.signaled, "exit \(r.status): \(r.stderr.suffix(2000))")
        let metrics = metricsLines(r.stderr)
        #expect(metrics.count >= 2)
        let counted = r.stdoutLines.compactMap { Int($0.split(separator: ",").last ?? "") }
        #expect(!counted.isEmpty)
        if budget == "16KB" {
            let readBack = metrics.compactMap { Int($0["read_back"] ?? "") }.max() ?? 0
            #expect(readBack > 0, "no block was read back from the log: \(r.stderr.suffix(1500))")
        }
    }
}
