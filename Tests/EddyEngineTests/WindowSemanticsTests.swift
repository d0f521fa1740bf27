import Testing

/// Windows against Spark Streaming's DStream semantics, batch by batch.
/// Input: 1 s batches at 1..5 s (zero time 0):
///   b1 = a, b    b2 = a    b3 = (nothing)    b4 = c, a    b5 = b
/// A window with range L and slide S is evaluated at T = k·S and holds the
/// batches in (T − L, T]; the first windows are partial; a replay goes on until
/// the last window holding any input has been emitted. Each emission is
/// compared as a multiset; a batch where the statement is not due prints nothing.
@Suite struct WindowSemanticsTests {
    static let values: [Int: String] = [1: "a\nb\n", 2: "a\n", 4: "c\na\n", 5: "b\n"]
    static let pairs: [Int: String] = [1: "a,1\nb,2\n", 2: "a,3\n", 4: "c,4\na,5\n", 5: "b,6\n"]
    static let source = "CREATE SOURCE s (v TEXT) WITH (connector = 'stdin', format = 'csv');\n"
    static let pairSource = "CREATE SOURCE s (k TEXT, v INTEGER) WITH (connector = 'stdin', format = 'csv');\n"

    func emissions(_ sql: String, _ input: [Int: String]) throws -> [Int64: [[String]]] {
        try Replay.run(sql, inputs: ["s": input]).table.emissions
    }

    /// window(3s, 1s): partial first windows, then the drain over empty batches.
    @Test func windowSlidingEveryBatch() throws {
        let e = try emissions(Self.source + "CREATE WINDOW w ON s RANGE '3s' SLIDE '1s';\nSELECT v FROM w;", Self.values)
        #expect(e == [
            1000: multiset([["a"], ["b"]]),
            2000: multiset([["a"], ["b"], ["a"]]),
            3000: multiset([["a"], ["b"], ["a"]]),
            4000: multiset([["a"], ["c"], ["a"]]),
            5000: multiset([["c"], ["a"], ["b"]]),
            6000: multiset([["c"], ["a"], ["b"]]),
            7000: [["b"]],
        ])
    }

    /// countByWindow(3s, 2s): due at 2, 4, 6 only; the batches between emit nothing.
    @Test func countByWindowWithASlideOfTwoBatches() throws {
        let e = try emissions(Self.source + "CREATE WINDOW w ON s RANGE '3s' SLIDE '2s';\nSELECT count(*) AS n FROM w;", Self.values)
        #expect(e == [2000: [["3"]], 4000: [["3"]], 6000: [["3"]]])
    }

    /// reduceByKeyAndWindow(_ + _, 2s, 3s): the slide is longer than the
    /// window, so batches 1 and 4 fall in no window at all.
    @Test func reduceByKeyAndWindowWithASlideLongerThanTheWindow() throws {
        let e = try emissions(Self.pairSource + """
            CREATE WINDOW w ON s RANGE '2s' SLIDE '3s';
            SELECT k, sum(v) FROM w GROUP BY k;
            """, Self.pairs)
        #expect(e == [3000: [["a", "3"]], 6000: [["b", "6"]]])
    }

    /// reduceByKeyAndWindow(_ + _, 3s, 1s), as Spark without an inverse
    /// function prints it: a key whose window is empty is gone.
    @Test func reduceByKeyAndWindowDropsKeysThatLeaveTheWindow() throws {
        let e = try emissions(Self.pairSource + """
            CREATE WINDOW w ON s RANGE '3s' SLIDE '1s';
            SELECT k, sum(v) FROM w GROUP BY k;
            """, Self.pairs)
        #expect(e == [
            1000: multiset([["a", "1"], ["b", "2"]]),
            2000: multiset([["a", "4"], ["b", "2"]]),
            3000: multiset([["a", "4"], ["b", "2"]]),
            4000: multiset([["a", "8"], ["c", "4"]]),
            5000: multiset([["a", "5"], ["c", "4"], ["b", "6"]]),
            6000: multiset([["a", "5"], ["c", "4"], ["b", "6"]]),
            7000: [["b", "6"]],
        ])
    }

    /// countByValueAndWindow(2s, 1s).
    @Test func countByValueAndWindow() throws {
        let e = try emissions(Self.source + """
            CREATE WINDOW w ON s RANGE '2s' SLIDE '1s';
            SELECT v, count(*) FROM w GROUP BY v;
            """, Self.values)
        #expect(e == [
            1000: multiset([["a", "1"], ["b", "1"]]),
            2000: multiset([["a", "2"], ["b", "1"]]),
            3000: [["a", "1"]],
            4000: multiset([["a", "1"], ["c", "1"]]),
            5000: multiset([["a", "1"], ["c", "1"], ["b", "1"]]),
            6000: [["b", "1"]],
        ])
    }

    /// groupByKeyAndWindow(2s, 2s) with json_group_array; the arrays compare
    /// as multisets, since Spark's grouping has no order either.
    @Test func groupByKeyAndWindow() throws {
        let r = try Replay.run(Self.pairSource + """
            CREATE WINDOW w ON s RANGE '2s' SLIDE '2s';
            SELECT k, json_group_array(v) AS vs FROM w GROUP BY k;
            """, inputs: ["s": Self.pairs], format: "csv")
        var groups: [String: [Int]] = [:]
        for line in r.output.split(separator: "\n") {
            let k = String(line.prefix { $0 != "," })
            // The array is quoted in csv: keep what is between the brackets.
            let array = line.drop { $0 != "[" }.dropFirst().prefix { $0 != "]" }
            groups[k, default: []] += array.split(separator: ",").compactMap { Int($0) }
        }
        // Windows at 2 {b1,b2}, 4 {b3,b4}, 6 {b5,b6}: per key over all emissions.
        #expect(groups.mapValues { $0.sorted() } == ["a": [1, 3, 5], "b": [2, 6], "c": [4]])
        let perBatch = r.history.filter { $0.outputRows > 0 }.map(\.batchTime)
        #expect(perBatch == [2000, 4000, 6000])
    }

    /// reduceByWindow(_ + _, 3s, 2s): Spark prints nothing for an empty window;
    /// in SQL an aggregate over no rows is one NULL row, so the job says HAVING.
    @Test func reduceByWindowSkipsEmptyWindows() throws {
        let input: [Int: String] = [1: "a,1\n", 2: "b,2\n", 7: "c,7\n"]
        let e = try emissions(Self.pairSource + """
            CREATE WINDOW w ON s RANGE '2s' SLIDE '2s';
            SELECT sum(v) FROM w HAVING count(*) > 0;
            """, input)
        // Windows at 2 {1,2}, 4 {3,4} empty, 6 {5,6} empty, 8 {7,8}.
        #expect(e == [2000: [["3"]], 4000: [], 6000: [], 8000: [["7"]]])
    }

    /// A window over a window unions the inner window's emissions, so rows in
    /// overlapping inner windows count twice, as in Spark.
    @Test func aWindowOfAWindow() throws {
        let input: [Int: String] = [1: "a\n", 2: "b\n", 3: "c\n", 4: "d\n"]
        let e = try emissions(Self.source + """
            CREATE WINDOW w1 ON s RANGE '2s' SLIDE '1s';
            CREATE WINDOW w2 ON w1 RANGE '2s' SLIDE '2s';
            SELECT v FROM w2;
            """, input)
        // w1: 1 {a}, 2 {a,b}, 3 {b,c}, 4 {c,d}, 5 {d}; w2 at 2 = w1@1 ∪ w1@2, at 4 = w1@3 ∪ w1@4, at 6 = w1@5.
        #expect(e == [
            2000: multiset([["a"], ["a"], ["b"]]),
            4000: multiset([["b"], ["c"], ["c"], ["d"]]),
            6000: [["d"]],
        ])
    }

    /// window_start() and window_end() bound the window's batch times.
    @Test func windowStartAndEnd() throws {
        let e = try emissions(Self.source + """
            CREATE WINDOW w ON s RANGE '3s' SLIDE '2s';
            SELECT window_start() AS ws, window_end() AS we, count(*) AS n FROM w;
            """, Self.values)
        #expect(e == [2000: [["-1000", "2000", "3"]], 4000: [["1000", "4000", "3"]], 6000: [["3000", "6000", "3"]]])
    }

    /// A statement reading a window and the current batch runs on the
    /// window's slide and sees both.
    @Test func windowJoinedWithTheCurrentBatch() throws {
        let e = try emissions(Self.source + """
            CREATE WINDOW w ON s RANGE '2s' SLIDE '2s';
            SELECT s.v, count(w.v) FROM s LEFT JOIN w ON w.v = s.v GROUP BY s.v;
            """, Self.values)
        // Due at 2 and 4 (batch 5 has input but is not due; 6 is past the drain for s itself but w is due).
        #expect(e[2000] == [["a", "2"]])
        #expect(e[4000] == multiset([["a", "1"], ["c", "1"]]))
        #expect(e[1000] == nil && e[3000] == nil && e[5000] == nil)
    }

    /// A windowed word count written the efficient way: each batch is
    /// aggregated once into a small stream, and the window sums those.
    @Test func preAggregatedWindowEqualsTheNaiveForm() throws {
        var input: [Int: String] = [:]
        for k in 1...12 { input[k] = (0..<(k * 7 % 11 + 1)).map { "w\(($0 * k) % 5)" }.joined(separator: "\n") + "\n" }
        let naive = try emissions(Self.source + """
            CREATE WINDOW w ON s RANGE '4s' SLIDE '2s';
            SELECT v, count(*) FROM w GROUP BY v;
            """, input)
        let preAggregated = try emissions(Self.source + """
            CREATE STREAM per_batch AS SELECT v, count(*) AS n FROM s GROUP BY v;
            CREATE WINDOW w ON per_batch RANGE '4s' SLIDE '2s';
            SELECT v, sum(n) FROM w GROUP BY v;
            """, input)
        #expect(naive == preAggregated)
        #expect(naive.count == 7) // 2, 4, ..., 14: the last window holding batch 12
    }
}

/// Random input, many window shapes: eddy's emissions equal a reference
/// model written straight from Spark's definitions (WindowedDStream.compute:
/// the union of parent batches in (T − L, T] at T = k·S, partial at the start,
/// run until the last window holding input).
@Suite struct WindowModelTests {
    @Test(arguments: [(1, 1), (2, 1), (3, 1), (4, 2), (6, 2), (6, 3), (2, 3), (1, 2), (5, 5), (2, 4)])
    func windowCountsMatchTheReferenceModel(range: Int, slide: Int) throws {
        var rng = Lcg(seed: UInt64(range * 31 + slide))
        var input: [Int: [String]] = [:]
        let last = 9
        for k in 1...last where rng.next() % 4 != 0 {
            input[k] = (0..<Int(rng.next() % 6)).map { _ in "k\(rng.next() % 4)" }
        }
        let text = input.mapValues { $0.map { $0 + "\n" }.joined() }
        let r = try Replay.run("""
            CREATE SOURCE s (v TEXT) WITH (connector = 'stdin', format = 'csv');
            CREATE WINDOW w ON s RANGE '\(range)s' SLIDE '\(slide)s';
            SELECT v, count(*) FROM w GROUP BY v;
            """, inputs: ["s": text.filter { !$0.value.isEmpty }])
        // Reference: due times k·slide up to the last one whose window holds batch `lastInput`.
        let lastInput = input.filter { !$0.value.isEmpty }.keys.max() ?? 0
        var expected: [Int64: [[String]]] = [:]
        var t = slide
        while t <= lastInput + range - 1 {
            var counts: [String: Int] = [:]
            for b in (t - range + 1)...t where b >= 1 { for v in input[b] ?? [] { counts[v, default: 0] += 1 } }
            expected[Int64(t) * 1000] = multiset(counts.map { [$0.key, String($0.value)] })
            t += slide
        }
        #expect(r.table.emissions == expected, "range \(range) slide \(slide)")
    }
}

struct Lcg {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
}
