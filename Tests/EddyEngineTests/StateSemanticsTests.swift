import Testing

/// STATE tables against updateStateByKey and mapWithState, batch by batch,
/// on the same input as the window tests:
///   b1 = a, b    b2 = a    b3 = (nothing)    b4 = c, a    b5 = b
@Suite struct StateSemanticsTests {
    static let source = "CREATE SOURCE s (v TEXT) WITH (connector = 'stdin', format = 'csv');\n"
    static let input: [Int: String] = [1: "a\nb\n", 2: "a\n", 4: "c\na\n", 5: "b\n"]

    /// updateStateByKey: running counts seeded by an initial state (Spark's
    /// initialRDD), a key dropped when the update returns None (here: DELETE
    /// once it passes 10), and the whole state printed every batch.
    @Test func updateStateByKeyWithInitialStateAndDeletes() throws {
        let r = try Replay.run(Self.source + """
            CREATE STATE TABLE totals (k TEXT PRIMARY KEY, n INTEGER NOT NULL) INITIAL AS SELECT 'b', 10;
            INSERT INTO totals SELECT v, count(*) FROM s WHERE true GROUP BY v
              ON CONFLICT(k) DO UPDATE SET n = n + excluded.n;
            DELETE FROM totals WHERE n > 10;
            SELECT k, n FROM totals;
            """, inputs: ["s": Self.input])
        #expect(r.table.emissions == [
            1000: [["a", "1"]],
            2000: [["a", "2"]],
            3000: [["a", "2"]],
            4000: multiset([["a", "3"], ["c", "1"]]),
            5000: multiset([["a", "3"], ["b", "1"], ["c", "1"]]),
        ])
    }

    /// mapWithState: RETURNING emits each key updated in the batch with its
    /// new state; a batch with no input emits nothing for it.
    @Test func mapWithStateThroughReturning() throws {
        let r = try Replay.run(Self.source + """
            CREATE STATE TABLE counts (k TEXT PRIMARY KEY, n INTEGER NOT NULL);
            INSERT INTO counts SELECT v, count(*) FROM s WHERE true GROUP BY v
              ON CONFLICT(k) DO UPDATE SET n = n + excluded.n
              RETURNING k, n;
            """, inputs: ["s": Self.input])
        #expect(r.table.emissions == [
            1000: multiset([["a", "1"], ["b", "1"]]),
            2000: [["a", "2"]],
            3000: [],
            4000: multiset([["a", "3"], ["c", "1"]]),
            5000: [["b", "2"]],
        ])
    }

    /// A timeout: keys not seen for 2 s are emitted with RETURNING and removed.
    @Test func sessionsTimeOutWithDeleteReturning() throws {
        let r = try Replay.run(Self.source + """
            CREATE STATE TABLE sessions (k TEXT PRIMARY KEY, last_seen INTEGER NOT NULL, n INTEGER NOT NULL);
            INSERT INTO sessions SELECT v, batch_time(), count(*) FROM s WHERE true GROUP BY v
              ON CONFLICT(k) DO UPDATE SET last_seen = excluded.last_seen, n = n + excluded.n;
            DELETE FROM sessions WHERE last_seen <= batch_time() - 2000 RETURNING k, n, last_seen;
            """, inputs: ["s": Self.input])
        #expect(r.table.emissions == [1000: [], 2000: [], 3000: [["b", "1", "1000"]], 4000: [], 5000: []])
    }

    /// State is updated before statements later in the file read it, within
    /// the same batch, and survives batches with no input.
    @Test func stateIsVisibleToLaterStatementsAndPersists() throws {
        let r = try Replay.run(Self.source + """
            CREATE STATE TABLE seen (v TEXT PRIMARY KEY);
            INSERT OR IGNORE INTO seen SELECT v FROM s;
            SELECT count(*) AS distinct_so_far FROM seen;
            """, inputs: ["s": Self.input])
        #expect(r.table.emissions == [1000: [["2"]], 2000: [["2"]], 3000: [["2"]], 4000: [["3"]], 5000: [["3"]]])
    }

    /// Spark's inverse-reduce path keeps keys at 0; the same in SQL is a LEFT
    /// JOIN from a state table of keys seen so far.
    @Test func keysAtZeroLikeSparksInverseReduce() throws {
        let r = try Replay.run(Self.source + """
            CREATE STATE TABLE keys (v TEXT PRIMARY KEY);
            INSERT OR IGNORE INTO keys SELECT v FROM s;
            CREATE WINDOW w ON s RANGE '2s' SLIDE '1s';
            SELECT keys.v, count(w.v) FROM keys LEFT JOIN w USING (v) GROUP BY keys.v;
            """, inputs: ["s": Self.input])
        #expect(r.table.emissions[3000] == multiset([["a", "1"], ["b", "0"]]))
        #expect(r.table.emissions[6000] == multiset([["a", "0"], ["b", "1"], ["c", "0"]]))
    }
}
