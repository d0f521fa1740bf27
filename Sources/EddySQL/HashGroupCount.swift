import CSQLite
import Glibc

/// SQLite has no hash aggregate. `SELECT k, count(*) ... GROUP BY k` puts
/// every row's key into its sorter and sorts them all: for a word count,
/// about 3200 instructions per word and two thirds of a lane's time, to end
/// with a thousand groups. This counts the keys in a hash table instead,
/// then writes the groups, one row each, to a table that the rewritten
/// query reads in key order (the planner's side, and why the answer is the
/// same, is in Plan/HashCounting.swift).
///
/// Keys are grouped exactly as SQLite's `GROUP BY` with the BINARY collation
/// groups them only for NULL, INTEGER and TEXT: one NULL group, integers by
/// value, text by its bytes, and no value of one type equal to one of
/// another. A REAL may equal an INTEGER (`1.0` and `1` are one group), and
/// that is where hashing by bytes would split a group, so a batch with a
/// REAL or BLOB key is not counted here: `fill` says so, and the caller runs
/// the query as written.
///
/// SQLite's sort spills to a temp file beyond `sort_memory`; a hash table
/// cannot. So a batch whose groups would take more than `memoryLimit` is
/// not counted here either, and one that took more than a few MB gives the
/// memory back when it is done.
///
/// Owned by the lane that prepared it.
public final class HashGroupCount {
    /// `SELECT key FROM ... WHERE ...`: the query's rows, its key alone.
    private let keys: Statement
    private let clear: Statement
    private let insert: Statement
    private var texts = TextCounts()
    private var integers: [Int64: Int64] = [:]
    private let memoryLimit: Int

    deinit { texts.deallocate() }

    /// `keysSQL` selects the key of every row the query groups; `table` has
    /// columns `(k, n)` without affinity, so a key is stored as it came.
    public init(keysSQL: String, table: String, memoryLimit: Int, database: Database) throws(SQLiteError) {
        self.memoryLimit = memoryLimit
        keys = try database.asJob { () throws(SQLiteError) in try database.prepare(keysSQL) }
        clear = try database.prepare("DELETE FROM \(table)")
        insert = try database.prepare("INSERT INTO \(table) (k, n) VALUES (?1, ?2)")
    }

    /// Counts this batch's rows by key and leaves one row per group in the
    /// table. false, with the table left as it was, when a key is a REAL or
    /// a BLOB, or the groups outgrow `memoryLimit` (see the type's comment).
    public func fill() throws(SQLiteError) -> Bool {
        // Counted in locals: a stored property would be checked for
        // exclusive access at every row.
        var texts = self.texts
        var integers: [Int64: Int64] = [:]
        swap(&integers, &self.integers)
        defer {
            if texts.footprint > Self.keptFootprint {
                texts.deallocate()
                texts = TextCounts()
            }
            if integers.count > Self.keptFootprint / 32 { integers = [:] }
            // The buffers may have moved as they grew.
            self.texts = texts
            swap(&integers, &self.integers)
        }
        texts.removeAll()
        integers.removeAll(keepingCapacity: true)
        var nulls: Int64 = 0
        defer { keys.reset() }
        let handle = keys.handle
        while try keys.step() {
            guard let value = sqlite3_column_value(handle, 0) else { return false }
            switch sqlite3_value_type(value) {
            case SQLITE_TEXT:
                // Text read as a blob is the same bytes (SQLite's conversion
                // table: "no change"), without sqlite3_value_text's copy to
                // add a terminator to a virtual table's value.
                let p = sqlite3_value_blob(value)
                let n = Int(sqlite3_value_bytes(value))
                texts.count(UnsafeBufferPointer(start: p?.assumingMemoryBound(to: UInt8.self), count: p == nil ? 0 : n))
                if texts.footprint + integers.count * 32 > memoryLimit { return false }
            case SQLITE_INTEGER:
                integers[sqlite3_value_int64(value), default: 0] += 1
                if texts.footprint + integers.count * 32 > memoryLimit { return false }
            case SQLITE_NULL:
                nulls += 1
            default:
                return false
            }
        }
        keys.reset()
        try clear.run()
        if nulls > 0 {
            try insert.bindNull(1)
            try insert.bind(2, nulls)
            try insert.run()
        }
        for (key, n) in integers {
            try insert.bind(1, key)
            try insert.bind(2, n)
            try insert.run()
        }
        try texts.forEach { (p, length, n) throws(SQLiteError) in
            try insert.bindStaticText(1, p, length)
            try insert.bind(2, n)
            try insert.run()
        }
        insert.clearBindings()
        return true
    }

    /// What a lane keeps between batches: enough for a few hundred thousand keys.
    static let keptFootprint = 8 << 20
}

/// Text keys and their counts: open addressing over the keys' bytes, which
/// are copied once, at a key's first row, into one buffer. Raw memory, freed
/// by its owner (`deallocate`): the loop runs for every row of the batch, and
/// arrays there cost bounds checks, uniqueness checks and reference counts.
struct TextCounts {
    private struct Entry {
        var hash: UInt64
        var start: Int
        var length: Int
        var count: Int64
    }

    private var slots: UnsafeMutablePointer<Int32>
    private var slotCount = 1024
    private var entries: UnsafeMutablePointer<Entry>
    private var entryCapacity = 512
    private(set) var entryCount = 0
    private var bytes: UnsafeMutablePointer<UInt8>
    private var byteCapacity = 8192
    private var byteCount = 0

    init() {
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: -1, count: slotCount)
        entries = .allocate(capacity: entryCapacity)
        bytes = .allocate(capacity: byteCapacity)
    }

    /// Bytes held, about (a Dictionary's entry is counted as 32 by the caller).
    var footprint: Int { slotCount * 4 + entryCapacity * MemoryLayout<Entry>.stride + byteCapacity }

    func deallocate() {
        slots.deallocate()
        entries.deallocate()
        bytes.deallocate()
    }

    mutating func removeAll() {
        guard entryCount > 0 else { return }
        slots.update(repeating: -1, count: slotCount)
        entryCount = 0
        byteCount = 0
    }

    @inline(__always)
    mutating func count(_ key: UnsafeBufferPointer<UInt8>) {
        let h = Self.hash(key)
        let mask = slotCount - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[i])
            if e < 0 { break }
            if entries[e].hash == h && entries[e].length == key.count && Self.equal(bytes + entries[e].start, key) {
                entries[e].count += 1
                return
            }
            i = (i + 1) & mask
        }
        if entryCount == entryCapacity {
            entries = Self.grown(entries, count: entryCount, to: entryCapacity * 2)
            entryCapacity *= 2
        }
        if byteCount + key.count > byteCapacity {
            let capacity = max(byteCapacity * 2, byteCount + key.count)
            bytes = Self.grown(bytes, count: byteCount, to: capacity)
            byteCapacity = capacity
        }
        if let base = key.baseAddress, key.count > 0 { (bytes + byteCount).update(from: base, count: key.count) }
        (entries + entryCount).initialize(to: Entry(hash: h, start: byteCount, length: key.count, count: 1))
        slots[i] = Int32(entryCount)
        entryCount += 1
        byteCount += key.count
        if entryCount * 2 > slotCount { rehash() }
    }

    @inline(__always)
    private static func equal(_ stored: UnsafeMutablePointer<UInt8>, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = key.baseAddress, key.count > 0 else { return true }
        return memcmp(stored, base, key.count) == 0
    }

    private static func grown<T>(_ old: UnsafeMutablePointer<T>, count: Int, to capacity: Int) -> UnsafeMutablePointer<T> {
        let new = UnsafeMutablePointer<T>.allocate(capacity: capacity)
        new.moveInitialize(from: old, count: count)
        old.deallocate()
        return new
    }

    private mutating func rehash() {
        slots.deallocate()
        slotCount *= 2
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: -1, count: slotCount)
        let mask = slotCount - 1
        for e in 0..<entryCount {
            var i = Int(truncatingIfNeeded: entries[e].hash) & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = Int32(e)
        }
    }

    /// Each key's bytes, length and count, in the order first seen; the
    /// bytes stay valid until the next `removeAll` or `count`.
    func forEach(_ body: (UnsafePointer<UInt8>, Int, Int64) throws(SQLiteError) -> Void) throws(SQLiteError) {
        for e in 0..<entryCount {
            try body(bytes + entries[e].start, entries[e].length, entries[e].count)
        }
    }

    /// 8 bytes at a time, then a finalizer (MurmurHash3's fmix64) so that the
    /// low bits, which pick the slot, depend on every byte.
    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        guard let base = key.baseAddress else { return fmix(h) }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= key.count {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        if i < key.count {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < key.count {
                w |= UInt64(base[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
        }
        return fmix(h)
    }

    @inline(__always)
    private static func fmix(_ x: UInt64) -> UInt64 {
        var k = x
        k ^= k >> 33
        k = k &* 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33
        k = k &* 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }
}
