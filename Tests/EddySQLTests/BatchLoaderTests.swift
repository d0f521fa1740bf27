import CSQLite
import EddyBlocks
@testable import EddySQL
import Testing

@Suite("BatchLoader")
struct BatchLoaderTests {
    let db: Database

    init() throws {
        db = try Database(path: "")
        try db.execute("""
            CREATE TABLE src(n INTEGER, name TEXT, score REAL, raw, _shard TEXT, _seq INTEGER, _arrival_ms INTEGER)
            """)
    }

    func sampleBlock(firstSeq: Int64 = 10) -> Block {
        var b = BlockBuilder(columns: 4)
        _ = b.beginRecord(arrival: 1_700_000_000_500)
        b.appendInteger(42)
        b.appendText("héllo")
        b.appendReal(2.5)
        [UInt8]([0, 1, 2]).withUnsafeBytes { b.appendBlob($0) }
        b.endRecord()
        _ = b.beginRecord(arrival: 1_700_000_000_400) // arrived "earlier": a negative delta
        b.appendNull()
        b.appendText("")
        b.appendInteger(-7)
        b.appendText("12") // TEXT into a column with no type: stays text
        b.endRecord()
        _ = b.beginRecord(arrival: 1_700_000_000_900)
        b.appendText("33") // TEXT into INTEGER: SQLite's affinity makes it 33
        b.endRecord()      // name, score, raw: NULL
        return b.seal(id: 5, source: 0, shard: "host:9", firstSeq: firstSeq, sealTime: 0)
    }

    @Test func loadsValuesTypesAndEddyColumns() throws {
        let loader = try BatchLoader(database: db, table: "src", valueCount: 4)
        let block = sampleBlock()
        #expect(try loader.load(block, payload: block.payload) == 3)
        let got = try rows(db, """
            SELECT n, typeof(n), name, typeof(name), score, typeof(score), raw, typeof(raw), _shard, _seq, _arrival_ms
            FROM src ORDER BY _seq
            """)
        #expect(got == [
            [i(42), t("integer"), t("héllo"), t("text"), .real(2.5), t("real"), .blob([0, 1, 2]), t("blob"), t("host:9"), i(10), i(1_700_000_000_500)],
            [.null, t("null"), t(""), t("text"), .real(-7), t("real"), t("12"), t("text"), t("host:9"), i(11), i(1_700_000_000_400)],
            [i(33), t("integer"), .null, t("null"), .null, t("null"), .null, t("null"), t("host:9"), i(12), i(1_700_000_000_900)],
        ])
    }

    /// `decompressNanos` feeds `block_ms`: it grows with every block loaded
    /// and never counts an empty one.
    @Test func decompressionTimeAddsUpPerBlock() throws {
        let loader = try BatchLoader(database: db, table: "src", valueCount: 4)
        #expect(loader.decompressNanos == 0)
        let block = sampleBlock()
        try loader.load(block, payload: block.payload)
        let once = loader.decompressNanos
        #expect(once > 0)
        try loader.load(block, payload: block.payload)
        #expect(loader.decompressNanos > once)
        var empty = BlockBuilder(columns: 4)
        let nothing = empty.seal(id: 6, source: 0, shard: "s", firstSeq: 0, sealTime: 0)
        let before = loader.decompressNanos
        try loader.load(nothing, payload: nothing.payload)
        #expect(loader.decompressNanos == before)
    }

    /// A value SQLite refuses to bind fails the load with SQLite's message;
    /// the statement is left clean, and the next block loads.
    @Test func aValueSQLiteRefusesFailsTheLoadWithItsMessage() throws {
        let loader = try BatchLoader(database: db, table: "src", valueCount: 4)
        var b = BlockBuilder(columns: 4)
        _ = b.beginRecord(arrival: 1)
        b.appendInteger(1)
        b.appendText(String(repeating: "z", count: 100))
        b.endRecord()
        let long = b.seal(id: 7, source: 0, shard: "s", firstSeq: 0, sealTime: 0)
        let previous = sqlite3_limit(db.handle, SQLITE_LIMIT_LENGTH, 50)
        do {
            try loader.load(long, payload: long.payload)
            Issue.record("a 100-byte text loaded under a 50-byte limit")
        } catch let error as SQLiteError {
            #expect(error.code == SQLITE_TOOBIG)
            #expect(error.message == "cannot bind parameter 2: string or blob too big")
        }
        sqlite3_limit(db.handle, SQLITE_LIMIT_LENGTH, previous)
        #expect(try db.scalar("SELECT count(*) FROM src") == i(0))
        let block = sampleBlock()
        #expect(try loader.load(block, payload: block.payload) == 3)
        #expect(try db.scalar("SELECT count(*) FROM src") == i(3))
    }

    @Test func loaderIsReusedAcrossBlocks() throws {
        let loader = try BatchLoader(database: db, table: "src", valueCount: 4)
        let first = sampleBlock(firstSeq: 0)
        var b = BlockBuilder(columns: 4)
        for k in 0..<1000 {
            _ = b.beginRecord(arrival: Int64(k))
            b.appendInteger(Int64(k))
            b.appendText("row \(k)")
            b.endRecord()
        }
        let second = b.seal(id: 6, source: 0, shard: "other", firstSeq: 3, sealTime: 0)
        #expect(try loader.load(first, payload: first.payload) == 3)
        #expect(try loader.load(second, payload: second.payload) == 1000)
        #expect(try rows(db, "SELECT count(*), count(DISTINCT _seq), min(_seq), max(_seq) FROM src") == [[i(1003), i(1003), i(0), i(1002)]])
        #expect(try rows(db, "SELECT _shard, count(*) FROM src GROUP BY _shard ORDER BY _shard") == [[t("host:9"), i(3)], [t("other"), i(1000)]])
        #expect(try rows(db, "SELECT name, _arrival_ms FROM src WHERE n = 999 AND _shard = 'other'") == [[t("row 999"), i(999)]])
    }

    @Test func emptyBlockLoadsNothing() throws {
        let loader = try BatchLoader(database: db, table: "src", valueCount: 4)
        var b = BlockBuilder(columns: 4)
        let empty = b.seal(id: 1, source: 0, shard: "", firstSeq: 0, sealTime: 0)
        #expect(try loader.load(empty, payload: []) == 0)
        #expect(try rows(db, "SELECT count(*) FROM src") == [[i(0)]])
    }

    @Test func emptyShardNameIsEmptyText() throws {
        let loader = try BatchLoader(database: db, table: "src", valueCount: 4)
        var b = BlockBuilder(columns: 4)
        _ = b.beginRecord(arrival: 0)
        b.endRecord()
        let block = b.seal(id: 1, source: 0, shard: "", firstSeq: 0, sealTime: 0)
        #expect(try loader.load(block, payload: block.payload) == 1)
        #expect(try rows(db, "SELECT _shard, typeof(_shard) FROM src") == [[t(""), t("text")]])
    }

    @Test func spilledPayloadIsPassedSeparately() throws {
        let loader = try BatchLoader(database: db, table: "src", valueCount: 4)
        var block = sampleBlock()
        let payload = block.payload
        block.payload = [] // as allocated from the store after a spill
        #expect(try loader.load(block, payload: payload) == 3)
    }

    @Test func wrongColumnCountIsRefused() throws {
        let loader = try BatchLoader(database: db, table: "src", valueCount: 4)
        var b = BlockBuilder(columns: 2)
        _ = b.beginRecord(arrival: 0)
        b.endRecord()
        let block = b.seal(id: 3, source: 0, shard: "0", firstSeq: 0, sealTime: 0)
        #expect(throws: BlockError.corrupt("block 3 has 2 values per record, table expects 4")) {
            try loader.load(block, payload: block.payload)
        }
    }

    @Test func corruptPayloadThrows() throws {
        let loader = try BatchLoader(database: db, table: "src", valueCount: 4)
        let block = sampleBlock()
        #expect(throws: BlockError.self) { try loader.load(block, payload: Array(block.payload.dropLast(3))) }
        var lying = block
        lying.count = 4 // one record more than the bytes hold
        #expect(throws: BlockError.corrupt("truncated record header")) { try loader.load(lying, payload: lying.payload) }
        // The loader still works for good blocks afterwards.
        try db.execute("DELETE FROM src")
        #expect(try loader.load(block, payload: block.payload) == 3)
        #expect(try rows(db, "SELECT count(*) FROM src") == [[i(3)]])
    }

    @Test func loaderNeedsTheTable() {
        #expect(throws: SQLiteError.self) { try BatchLoader(database: db, table: "missing", valueCount: 1) }
        #expect(throws: SQLiteError.self) { try BatchLoader(database: db, table: "src", valueCount: 1) }
    }
}
