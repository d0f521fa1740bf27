import EddyBlocks
import EddyCore
import EddySQL
import Foundation
import Glibc
import Testing

/// What a user running eddy on an edge box, as a service, meets first (issue
/// 15): the version it reports, logs a shipper can read, `check` over several
/// jobs, a job file that is not there, and a file source whose directory is
/// not there yet.
@Suite struct EdgeBoxTests {
    /// `--version` names eddy's version and commit, and the SQLite and LZ4
    /// linked in: the ones this test links, since both come from the same
    /// Debian packages. A development build does not know its commit.
    @Test func versionNamesTheCommitAndTheLibrariesLinkedIn() throws {
        let r = try EddyProcess.run(["--version"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdoutLines
        #expect(lines.count == 3, "\(r.stdout)")
        guard lines.count == 3 else { return }
        let first = lines[0]
        #expect(first.hasPrefix("eddy 0.1.0 ("), "\(first)")
        let commit = first.dropFirst("eddy 0.1.0 (".count).dropLast()
        let hex = commit.dropFirst("commit ".count).prefix { $0 != "-" }
        #expect(commit == "unknown commit"
                || (commit.hasPrefix("commit ") && hex.count == 12 && hex.allSatisfy(\.isHexDigit)), "\(first)")
        #expect(lines[1] == "SQLite \(Database.libraryVersion)")
        #expect(lines[2] == "LZ4 \(LZ4.libraryVersion)")
    }

    /// `--log-format json`: every stderr line is one JSON object with a time
    /// and a level; the metrics line's figures are numbers. Plain lines stay
    /// the default (every other test reads them).
    @Test func logFormatJSONWritesOneObjectPerLine() throws {
        let dir = EddyProcess.repoRoot + "/samples/replay/network_wordcount"
        let r = try EddyProcess.run(["run", "sql/network_wordcount.sql", "--replay", dir, "--log-format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(!lines.isEmpty)
        var batches: [Int] = []
        var summarySteps = 0
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)")
            guard let object else { continue }
            #expect((object["time"] as? String)?.hasSuffix("Z") == true, "\(line)")
            #expect(["info", "warning", "error"].contains(object["level"] as? String ?? ""), "\(line)")
            // The step summary at the end: its totals, then one object per step.
            if object["message"] as? String == "summary" {
                #expect(object["batches"] as? Int == 4 && object["records"] as? Int == 8, "\(line)")
            }
            if object["message"] as? String == "summary step" {
                summarySteps += 1
                #expect(object["step"] is String && object["ms"] is NSNumber && object["percent"] is NSNumber, "\(line)")
            }
            if let batch = object["batch"] as? Int {
                batches.append(batch)
                #expect(object["records"] is Int && object["processing_ms"] is NSNumber, "\(line)")
            }
        }
        let plain = try plainRun(dir).stderr
        let plainMetrics = metricsLines(plain)
        #expect(summarySteps > 0 && summarySteps == plain.split(separator: "\n").filter { $0.hasPrefix("eddy:  ") && $0.contains("%") }.count,
                "one summary step per plain summary row: \(plain)")
        #expect(!batches.isEmpty && batches == batches.sorted() && batches.count == plainMetrics.count)
        #expect(r.stdout == (try String(contentsOfFile: dir + "/expected.txt", encoding: .utf8)))

        // A job error is one JSON object too, message with its file:line:col.
        let tmp = try TempDir()
        let bad = try tmp.write("bad.sql", "CREATE SOURCE s WITH (connector = 'stdin');\nSELECT * FROM nosuch;\n")
        let e = try EddyProcess.run(["check", bad, "--log-format", "json"])
        #expect(e.status == 1)
        let error = try JSONSerialization.jsonObject(with: Data(e.stderr.utf8)) as? [String: Any]
        #expect(error?["level"] as? String == "error", "\(e.stderr)")
        #expect((error?["message"] as? String)?.hasPrefix("\(bad):2:15: ") == true, "\(e.stderr)")

        let usage = try EddyProcess.run(["run", "sql/quickstart.sql", "--log-format", "xml"])
        #expect(usage.status == 2)
        #expect(usage.stderr == "eddy: --log-format xml: expected plain or json\n")
    }

    private func plainRun(_ dir: String) throws -> EddyProcess.Result {
        try EddyProcess.run(["run", "sql/network_wordcount.sql", "--replay", dir])
    }

    /// `eddy check a.sql b.sql` checks each file; the exit status is the
    /// worst, and a bad file does not hide the plans of the others.
    @Test func checkTakesSeveralFiles() throws {
        let good = try EddyProcess.run(["check", "sql/quickstart.sql", "sql/sessions.sql"])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.hasPrefix("==> sql/quickstart.sql <==\n"))
        #expect(good.stdout.contains("\n\n==> sql/sessions.sql <==\n"))
        let one = try EddyProcess.run(["check", "sql/sessions.sql"])
        #expect(good.stdout.hasSuffix(one.stdout) && !one.stdout.contains("==>"))

        let tmp = try TempDir()
        let bad = try tmp.write("bad.sql", "CREATE SOURCE s WITH (connector = 'stdin');\nSELECT * FROM nosuch;\n")
        let mixed = try EddyProcess.run(["check", bad, "sql/sessions.sql"])
        #expect(mixed.status == 1)
        #expect(mixed.stderr.hasPrefix("\(bad):2:15: "), "\(mixed.stderr)")
        #expect(mixed.stdout.hasSuffix(one.stdout))
        let none = try EddyProcess.run(["check"])
        #expect(none.status == 2)
    }

    /// A job file that cannot be read is a job error (exit 1), at run and at
    /// check, like every other problem with the job; the message names it.
    @Test func aJobFileThatCannotBeReadIsAJobError() throws {
        for command in ["run", "check"] {
            let r = try EddyProcess.run([command, "no/such/job.sql"])
            #expect(r.status == 1, "\(command): \(r.stderr)")
            #expect(r.stderr == "eddy: error: cannot read job file no/such/job.sql: No such file or directory\n", "\(command)")
        }
        let worst = try EddyProcess.run(["check", "sql/quickstart.sql", "no/such/job.sql"])
        #expect(worst.status == 1)
    }

    /// A `file` source whose directory is missing warns at start instead of
    /// polling silently, and again when the directory appears; files put in
    /// it then are read.
    @Test func aFileSourceWarnsWhileItsDirectoryIsMissing() throws {
        let dir = try TempDir()
        let watched = dir.path + "/in"
        try dir.write("job.sql", """
            SET batch_interval = '200ms';
            CREATE SOURCE rows (id INTEGER, name TEXT) WITH (connector = 'file', path = '\(watched)', format = 'csv');
            SELECT id, name FROM rows;
            """)
        let eddy = try EddyProcess(["run", dir.path + "/job.sql", "--format", "csv"])
        defer { eddy.signal(SIGKILL) }
        let missing = "eddy: warning: source rows: directory \(watched) does not exist; watching for it to appear"
        #expect(eventually { eddy.currentStderr.contains(missing) }, "\(eddy.currentStderr)")
        #expect(eventually { eddy.currentStderr.contains("batch=") })
        try FileManager.default.createDirectory(atPath: watched, withIntermediateDirectories: false)
        let appeared = "eddy: warning: source rows: directory \(watched) appeared; reading the files in it"
        #expect(eventually { eddy.currentStderr.contains(appeared) }, "\(eddy.currentStderr)")
        try dir.write("staging/a.csv", "1,one\n")
        #expect(rename(dir.path + "/staging/a.csv", watched + "/a.csv") == 0)
        #expect(eventually { eddy.currentStdout.contains("1,one") })
        eddy.signal(SIGTERM)
        let r = try eddy.wait(timeout: 30)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.components(separatedBy: missing).count == 2, "warned once: \(r.stderr)")
        #expect(r.stdoutLines == ["1,one"])
    }

    /// The glob form watches the directory before its first wildcard.
    @Test func aMissingGlobDirectoryIsNamed() throws {
        let dir = try TempDir()
        try dir.write("job.sql", """
            SET batch_interval = '200ms';
            CREATE SOURCE rows (line TEXT) WITH (connector = 'file', path = '\(dir.path)/logs/*.txt');
            SELECT line FROM rows;
            """)
        let r = try EddyProcess.run(["run", dir.path + "/job.sql", "--batches", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("source rows: directory \(dir.path)/logs does not exist; watching for it to appear"), "\(r.stderr)")
    }
}
