import EddySQL
import Foundation
import Testing

/// The file and sqlite sinks over a replay: file names, formats, empty
/// batches, rewrites of a batch that runs again, and the table a sqlite sink
/// creates.
@Suite struct SinksTests {
    static func replay(_ dir: TempDir) throws -> String {
        // Batch 2 is empty (no file); batch 3 has one row with a quote and a comma.
        try dir.write("replay/s/000001.txt", "a,1\nb,2\n")
        try dir.write("replay/s/000003.txt", "\"c,\"\"q\"\"\",3\n")
        return dir.path + "/replay"
    }

    static func job(_ out: String) -> String {
        """
        CREATE SOURCE s (k TEXT, v INTEGER) WITH (connector = 'stdin', format = 'csv');
        CREATE SINK c WITH (connector = 'file', path = '\(out)/c/rows', format = 'csv');
        CREATE SINK t WITH (connector = 'file', path = '\(out)/t/rows', format = 'tsv');
        CREATE SINK j WITH (connector = 'file', path = '\(out)/j/rows', format = 'jsonl', empty_files = on);
        CREATE SINK db WITH (connector = 'sqlite', path = '\(out)/sink.db', table = 'rows');
        INSERT INTO c SELECT k, v FROM s ORDER BY k;
        INSERT INTO t SELECT k, v FROM s ORDER BY k;
        INSERT INTO j SELECT k, v FROM s ORDER BY k;
        INSERT INTO db SELECT batch_time() AS t, k, v FROM s;
        """
    }

    static func listing(_ dir: String) -> [String: String] {
        var out: [String: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            out[name] = try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)
        }
        return out
    }

    @Test func fileSinksWriteOneFilePerBatchInTheirFormat() throws {
        let dir = try TempDir()
        let replay = try Self.replay(dir)
        let out = dir.path + "/out"
        try dir.write("job.sql", Self.job(out))
        let r = try EddyProcess.run(["run", dir.path + "/job.sql", "--replay", replay, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty, "sinks, not stdout")

        // csv: a header, RFC 4180 quoting; no file for the empty batch 2000.
        #expect(Self.listing(out + "/c") == ["rows-1000.csv": "k,v\na,1\nb,2\n", "rows-3000.csv": "k,v\n\"c,\"\"q\"\"\",3\n"])
        #expect(Self.listing(out + "/t") == ["rows-1000.tsv": "k\tv\na\t1\nb\t2\n", "rows-3000.tsv": "k\tv\nc,\"q\"\t3\n"])
        // jsonl with empty_files = on: batch 2000 has its (empty) file.
        #expect(Self.listing(out + "/j") == [
            "rows-1000.jsonl": "{\"k\":\"a\",\"v\":1}\n{\"k\":\"b\",\"v\":2}\n",
            "rows-2000.jsonl": "",
            "rows-3000.jsonl": "{\"k\":\"c,\\\"q\\\"\",\"v\":3}\n",
        ])

        // The sqlite sink created its table from the query's columns, with a marker per batch.
        let db = try Database(path: out + "/sink.db", readOnly: true)
        let columns = try db.prepare("SELECT name FROM pragma_table_info('rows') ORDER BY cid", persistent: false)
        var names: [String] = []
        while try columns.step() { names.append(columns.string(0) ?? "") }
        #expect(names == ["t", "k", "v"])
        #expect(try db.scalar("SELECT count(*) FROM rows") == .integer(3))
        #expect(try db.scalar("SELECT group_concat(t || ':' || k, ' ') FROM (SELECT * FROM rows ORDER BY t, k)") == .text("1000:a 1000:b 3000:c,\"q\""))
    }

    /// A batch that runs again (here: the whole replay, after its output was
    /// damaged) replaces its file under the same name, never adds a second,
    /// and leaves no temporary file behind.
    @Test func aRerunBatchRewritesItsFile() throws {
        let dir = try TempDir()
        let replay = try Self.replay(dir)
        let out = dir.path + "/out"
        try dir.write("job.sql", Self.job(out))
        let args = ["run", dir.path + "/job.sql", "--replay", replay, "--quiet"]
        #expect(try EddyProcess.run(args).status == 0)
        let before = Self.listing(out + "/c")
        try "garbage".write(toFile: out + "/c/rows-1000.csv", atomically: false, encoding: .utf8)
        let again = try EddyProcess.run(args)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Self.listing(out + "/c") == before)
        #expect(!Self.listing(out + "/j").keys.contains { $0.hasPrefix(".") }, "no temporary files left")
    }
}
