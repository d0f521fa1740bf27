/// Lines of random words from a fixed vocabulary, with Zipf-like frequencies
/// so that top-N queries have a clear head. Line `seq` of shard `shard` is a
/// pure function of (seed, shard, seq): a restarted generator resumes exactly
/// where it stopped, and two runs with the same seed see the same lines.
public struct WordGenerator: Sendable {
    public let wordsPerLine: Int
    public let seed: UInt64
    private let words: [UInt8]
    private let offsets: [Int]
    /// Cumulative weights scaled to 2^32: word i is drawn for u in
    /// [cumulative[i-1], cumulative[i]).
    private let cumulative: [UInt64]
    /// For each of the 4096 slices of u's range, the word drawn at the slice's
    /// start; one more entry holds the last word. A draw in slice b searches
    /// only guide[b]...guide[b + 1], mostly a word or two, rather than the
    /// whole vocabulary: sampling was most of the generator receiver's CPU.
    private let guide: [Int32]
    private static let guideShift: UInt64 = 20

    public init(vocabulary: Int, wordsPerLine: Int, seed: UInt64) {
        self.wordsPerLine = max(1, wordsPerLine)
        self.seed = seed
        let v = max(1, vocabulary)
        var words: [UInt8] = []
        var offsets: [Int] = [0]
        for i in 0..<v {
            words.append(contentsOf: Self.word(i).utf8)
            offsets.append(words.count)
        }
        self.words = words
        self.offsets = offsets
        var weights: [Double] = []
        var total = 0.0
        for k in 0..<v {
            let w = 1.0 / Double(k + 1)
            total += w
            weights.append(total)
        }
        let cumulative = weights.map { UInt64($0 / total * 4_294_967_296.0) }
        self.cumulative = cumulative
        guide = (0..<(1 << (32 - Self.guideShift))).map { slice in
            Int32(Self.search(cumulative, UInt64(slice) << Self.guideShift, in: 0, cumulative.count - 1))
        } + [Int32(cumulative.count - 1)]
    }

    /// The word drawn for `u`: the first whose cumulative weight is above it
    /// (the last word if none is), searching indices lo...hi, which hold it.
    static func search(_ cumulative: [UInt64], _ u: UInt64, in lo: Int, _ hi: Int) -> Int {
        var lo = lo
        var hi = hi
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// For tests, which check `draw` against a full search.
    var cumulativeWeights: [UInt64] { cumulative }

    /// The word drawn for `u` (below 2^32), found through the guide.
    func draw(_ u: UInt64) -> Int {
        let slice = Int(u >> Self.guideShift)
        return Self.search(cumulative, u, in: Int(guide[slice]), Int(guide[slice + 1]))
    }

    /// Common English words first, so the frequent words of a Zipf stream look
    /// like the head of real text; syllable words after them.
    static let common = """
        the of and to in is you that it he was for on are as with his they at be this have from or one had by \
        word but not what all were we when your can said there use an each which she do how their if will up \
        other about out many then them these so some her would make like him into time has look two more write \
        go see number no way could people my than first water been call who oil its now find long down day did \
        get come made may part over new sound take only little work know place year live me back give most very \
        after thing our just name good sentence man think say great where help through much before line right \
        too mean old any same tell boy follow came want show also around form three small set put end does \
        another well large must big even such because turn here why ask went men read need land different home \
        us move try kind hand picture again change off play spell air away animal house point page letter mother \
        answer found study still learn should world high every near add food between own below country plant \
        last school father keep tree never start city earth eye light thought head under story saw left few while
        """.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\\" }).map(String.init)

    /// The i-th vocabulary word, unique per i.
    public static func word(_ i: Int) -> String {
        if i < common.count { return common[i] }
        let syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ba", "de",
                         "fi", "go", "hu", "ja", "ke", "lu", "ma", "no", "pi", "re"]
        var n = i - common.count
        var parts: [String] = []
        repeat {
            parts.append(syllables[n % syllables.count])
            n /= syllables.count
        } while n > 0
        parts.append("zo")
        return parts.reversed().joined()
    }

    /// Writes line `seq` of `shard` into `out` (replacing its contents).
    public func line(shard: Int, seq: Int64, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        var state = Self.mix(seed &+ UInt64(truncatingIfNeeded: shard) &* 0x9E37_79B9_7F4A_7C15
                             &+ UInt64(bitPattern: seq) &* 0xBF58_476D_1CE4_E5B9)
        for w in 0..<wordsPerLine {
            state = Self.mix(state &+ 0x9E37_79B9_7F4A_7C15)
            let i = draw(state & 0xFFFF_FFFF)
            if w > 0 { out.append(UInt8(ascii: " ")) }
            // Byte by byte: words are a few bytes long, shorter than what a
            // memmove call is worth.
            for k in offsets[i]..<offsets[i + 1] { out.append(words[k]) }
        }
    }

    /// SplitMix64's finalizer: a good 64-bit mix for counter-based randomness.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
