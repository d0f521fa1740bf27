import EddyCore
@testable import EddyIngest
import Testing

private func line(_ g: WordGenerator, shard: Int, seq: Int64) -> String {
    var out: [UInt8] = [1, 2, 3]
    g.line(shard: shard, seq: seq, into: &out)
    return String(decoding: out, as: UTF8.self)
}

@Suite("WordGenerator")
struct WordGeneratorTests {
    @Test func sameInputsGiveTheSameLine() {
        let a = WordGenerator(vocabulary: 1000, wordsPerLine: 8, seed: 7)
        let b = WordGenerator(vocabulary: 1000, wordsPerLine: 8, seed: 7)
        for seq: Int64 in [0, 1, 2, 999, 1 << 40] {
            for shard in [0, 1, 5] {
                #expect(line(a, shard: shard, seq: seq) == line(b, shard: shard, seq: seq))
            }
        }
        // Order of generation does not matter: line k is a pure function.
        let forward = (0..<50).map { line(a, shard: 0, seq: Int64($0)) }
        let backward = (0..<50).reversed().map { line(b, shard: 0, seq: Int64($0)) }
        #expect(forward == backward.reversed())
    }

    @Test func differentSeedsShardsAndSeqsDiffer() {
        let a = WordGenerator(vocabulary: 1000, wordsPerLine: 8, seed: 1)
        let b = WordGenerator(vocabulary: 1000, wordsPerLine: 8, seed: 2)
        let seeds = (0..<100).filter { line(a, shard: 0, seq: Int64($0)) != line(b, shard: 0, seq: Int64($0)) }.count
        #expect(seeds >= 95, "different seeds give different streams (\(seeds) of 100 lines differ)")
        let shards = (0..<100).filter { line(a, shard: 0, seq: Int64($0)) != line(a, shard: 1, seq: Int64($0)) }.count
        #expect(shards >= 95)
        let lines = Set((0..<100).map { line(a, shard: 0, seq: Int64($0)) })
        #expect(lines.count >= 95)
    }

    /// The guide only shortens the search: every draw is the word a binary
    /// search of the whole vocabulary picks, so lines stay what they were.
    @Test("the guide draws what a full search draws", arguments: [1, 2, 10, 1000, 70_000])
    func guideMatchesFullSearch(size: Int) {
        let g = WordGenerator(vocabulary: size, wordsPerLine: 1, seed: 0)
        var state: UInt64 = 12345
        var probes: [UInt64] = [0, 1, 0xFFFF_FFFF, 1 << 20, (1 << 20) - 1, 0xFFF0_0000]
        for _ in 0..<50_000 {
            state = WordGenerator.mix(state)
            probes.append(state & 0xFFFF_FFFF)
        }
        let cumulative = g.cumulativeWeights
        var mismatches = 0
        for u in probes where g.draw(u) != WordGenerator.search(cumulative, u, in: 0, cumulative.count - 1) {
            mismatches += 1
        }
        #expect(mismatches == 0, "\(mismatches) of \(probes.count) draws differ from the full search")
    }

    @Test("words per line are exact", arguments: [1, 2, 8, 33])
    func wordsPerLine(n: Int) {
        let g = WordGenerator(vocabulary: 500, wordsPerLine: n, seed: 3)
        for seq in 0..<200 {
            let words = line(g, shard: 0, seq: Int64(seq)).split(separator: " ", omittingEmptySubsequences: false)
            #expect(words.count == n)
        }
    }

    @Test("every word comes from the vocabulary", arguments: [1, 10, 226, 227, 5000])
    func vocabulary(size: Int) {
        let g = WordGenerator(vocabulary: size, wordsPerLine: 10, seed: 9)
        let vocabulary = Set((0..<size).map(WordGenerator.word))
        var seen: Set<String> = []
        for seq in 0..<1000 {
            for word in line(g, shard: 2, seq: Int64(seq)).split(separator: " ") {
                #expect(vocabulary.contains(String(word)), "'\(word)' is not among the first \(size) words")
                seen.insert(String(word))
            }
        }
        if size <= 10 { #expect(seen.count == size, "a small vocabulary is used entirely") }
    }

    @Test func wordsAreUniqueAndPlain() {
        let words = (0..<20_000).map(WordGenerator.word)
        #expect(Set(words).count == words.count)
        for w in words {
            #expect(!w.isEmpty && w.allSatisfy { $0.isLetter && $0.isASCII && $0.isLowercase }, "'\(w)'")
        }
    }

    @Test func zipfHeadIsMostFrequent() {
        let g = WordGenerator(vocabulary: 1000, wordsPerLine: 10, seed: 4)
        var counts: [String: Int] = [:]
        for seq in 0..<2000 {
            for w in line(g, shard: 0, seq: Int64(seq)).split(separator: " ") { counts[String(w), default: 0] += 1 }
        }
        let top = counts.max { $0.value < $1.value }?.key
        #expect(top == WordGenerator.word(0))
    }

    @Test func degenerateSizesAreClamped() {
        let g = WordGenerator(vocabulary: 0, wordsPerLine: 0, seed: 0)
        #expect(g.wordsPerLine == 1)
        #expect(line(g, shard: 0, seq: 0) == WordGenerator.word(0))
    }
}

@Suite("HostPort.parse")
struct HostPortTests {
    func ok(_ text: String) -> HostPort? {
        if case .success(let a) = HostPort.parse(text) { return a }
        return nil
    }

    func error(_ text: String) -> String? {
        if case .failure(let e) = HostPort.parse(text) { return e.message }
        return nil
    }

    @Test func good() {
        #expect(ok("localhost:9999") == HostPort(host: "localhost", port: 9999))
        #expect(ok("10.0.0.1:0") == HostPort(host: "10.0.0.1", port: 0))
        #expect(ok("[::1]:9") == HostPort(host: "::1", port: 9))
        #expect(ok(":9") == HostPort(host: "0.0.0.0", port: 9))
        #expect(ok(" example.com:65535 ") == HostPort(host: "example.com", port: 65535))
        #expect(ok("[fe80::1%eth0]:80")?.host == "fe80::1%eth0")
    }

    @Test func description() {
        #expect(HostPort(host: "::1", port: 9).description == "[::1]:9")
        #expect(HostPort(host: "h", port: 1).description == "h:1")
        for text in ["[::1]:9", "h:1", "0.0.0.0:80"] { #expect(ok(text)?.description == text) }
    }

    @Test func errors() {
        #expect(error("localhost") == "bad address 'localhost': expected host:port, like 'localhost:9999'")
        #expect(error("host:") == "bad address 'host:': port must be a number from 0 to 65535")
        #expect(error("host:65536") == "bad address 'host:65536': port must be a number from 0 to 65535")
        #expect(error("host:-1") == "bad address 'host:-1': port must be a number from 0 to 65535")
        #expect(error("host:http") == "bad address 'host:http': port must be a number from 0 to 65535")
        #expect(error("[::1") == "bad address '[::1': missing ']'")
        #expect(error("[::1]9") == "bad address '[::1]9': expected ':port' after ']'")
        #expect(error("") == "bad address '': expected host:port, like 'localhost:9999'")
    }
}
