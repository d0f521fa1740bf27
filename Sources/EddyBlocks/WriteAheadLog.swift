import EddyCore
import Glibc
import Logging

/// The write-ahead log of sealed blocks (Spark's receiver WAL): with a
/// checkpoint, a record counts as received only once its block is here.
///
/// Layout: segment files `wal-00000001.log`, ... in the log directory. Each
/// record is `magic u32 | length u32 | crc32c u32 | payload`, where payload is
/// the block's header and its LZ4 bytes. The checksum covers the payload, so
/// a torn write (power loss mid-append) or a flipped bit is detected on read
/// and the record, and anything after it in that segment, is skipped: the log
/// never hands a half-written block to a batch.
///
/// A segment is deleted once every block in it belongs to a committed batch
/// and no window needs it (`release`).
public final class WriteAheadLog: Sendable {
    public struct Location: Sendable, Equatable {
        public var segment: Int
        public var offset: Int64
        public var length: Int
    }

    public struct Recovery: Sendable {
        /// Intact blocks in log order, with where they are. Payloads are not
        /// kept (a 1 GB log is not held in memory): `read(id:)` gets them.
        public var blocks: [(Block, Location)]
        /// Human-readable notes about skipped tails.
        public var problems: [String]
    }

    static let magic: UInt32 = 0xEDD1_B10C
    static let headerSize = 12

    private struct State: Sendable {
        var segment = 0
        var fd: Int32 = -1
        var size: Int64 = 0
        var dirty = false
        /// fsyncs of segment data so far (not of the directory).
        var syncs = 0
        /// Block ids still needed, per segment.
        var live: [Int: Set<UInt64>] = [:]
        var bytes: [Int: Int64] = [:]
        var failed: String?
        /// Where each live block is, for reading it back by id.
        var index: [UInt64: Location] = [:]
    }

    public let directory: String
    public let sync: Settings.WALSync
    public let segmentBytes: Int64
    private let state = ConditionLock(State())
    private let logger = Logger(label: "eddy.wal")

    public init(directory: String, sync: Settings.WALSync, segmentBytes: Int64 = 64 << 20) throws {
        self.directory = directory
        self.sync = sync
        self.segmentBytes = segmentBytes
        try Files.makeDirectories(directory)
    }

    deinit {
        let fd = state.withLock { $0.fd }
        if fd >= 0 { Glibc.close(fd) }
    }

    public static func name(_ segment: Int) -> String {
        let digits = String(segment)
        return "wal-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".log"
    }

    func path(_ segment: Int) -> String { directory + "/" + Self.name(segment) }

    /// Segment numbers on disk, oldest first.
    public func segments() -> [Int] {
        ((try? Files.list(directory)) ?? []).compactMap { name -> Int? in
            guard name.hasPrefix("wal-"), name.hasSuffix(".log") else { return nil }
            return Int(name.dropFirst(4).dropLast(4))
        }.sorted()
    }

    /// Bytes of all segments on disk.
    public var totalBytes: Int64 {
        segments().reduce(0) { $0 + (Files.status(path($1))?.size ?? 0) }
    }

    // MARK: writing

    /// Appends a block and, with `wal_sync = 'block'`, fsyncs before returning.
    @discardableResult
    public func append(_ block: Block) throws -> Location {
        let payload = Self.encode(block)
        var record: [UInt8] = []
        record.reserveCapacity(Self.headerSize + payload.count)
        Self.put32(Self.magic, &record)
        Self.put32(UInt32(payload.count), &record)
        Self.put32(CRC32C.checksum(payload), &record)
        record += payload
        return try state.withLock { s throws -> Location in
            if let failed = s.failed { throw BlockError.io(failed) }
            // A full segment rolls; so does one whose blocks were all released
            // once it has some size, so the log shrinks on small disks too.
            let drained = s.fd >= 0 && s.size >= min(segmentBytes, 4 << 20) && (s.live[s.segment]?.isEmpty ?? true)
            if s.fd < 0 || s.size + Int64(record.count) > segmentBytes && s.size > 0 || drained {
                let old = s.segment
                try roll(&s)
                if drained {
                    s.live.removeValue(forKey: old)
                    s.bytes.removeValue(forKey: old)
                    Files.remove(path(old))
                }
            }
            let offset = s.size
            do {
                try Files.writeAll(fd: s.fd, record, path: path(s.segment))
            } catch {
                // Cut back to the last whole record, so the segment stays
                // readable, and remember: nothing more can be made durable.
                var failure = "cannot write the write-ahead log: \(error)"
                do {
                    try Self.cutBack(fd: s.fd, to: offset, path: path(s.segment))
                } catch let cut {
                    failure += "; the partial record stays (\(cut)) and is skipped at the next start"
                }
                s.failed = failure
                throw error
            }
            s.size += Int64(record.count)
            s.live[s.segment, default: []].insert(block.id)
            s.bytes[s.segment, default: 0] += Int64(record.count)
            if sync == .block {
                guard fsync(s.fd) == 0 else {
                    let error = Files.IOError(path: path(s.segment), operation: "fsync", code: errno)
                    s.failed = "cannot write the write-ahead log: \(error)"
                    throw error
                }
                s.syncs += 1
            } else {
                s.dirty = true
            }
            let location = Location(segment: s.segment, offset: offset, length: record.count)
            s.index[block.id] = location
            return location
        }
    }

    /// For `wal_sync = 'interval'`: the engine calls this once per batch.
    public func syncNow() throws {
        try state.withLock { s throws in
            guard s.dirty, s.fd >= 0, sync != .off else { return }
            guard fsync(s.fd) == 0 else { throw Files.IOError(path: path(s.segment), operation: "fsync", code: errno) }
            s.syncs += 1
            s.dirty = false
        }
    }

    /// How many times segment data was fsynced: once per append with
    /// `wal_sync = 'block'`, at most once per `syncNow` (per batch) with
    /// `'interval'`, never with `'off'`; plus once when a segment with
    /// unsynced appends is closed or rolled (`'interval'` only).
    public var syncCount: Int { state.withLock { $0.syncs } }

    /// Closing a segment: what `wal_sync` left unsynced is synced now.
    private func finishSegment(_ s: inout State) {
        if sync != .off && s.dirty && fsync(s.fd) == 0 { s.syncs += 1 }
        s.dirty = false
        Glibc.close(s.fd)
        s.fd = -1
    }

    private func roll(_ s: inout State) throws {
        if s.fd >= 0 { finishSegment(&s) }
        s.segment = max(s.segment, segments().last ?? 0) + 1
        let p = path(s.segment)
        let fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Files.IOError(path: p, operation: "create", code: errno) }
        s.fd = fd
        s.size = 0
        s.live[s.segment] = s.live[s.segment] ?? []
        Files.syncDirectory(of: p)
    }

    // MARK: reading

    /// Why appends fail, once one has: the engine stops with this message.
    public var failure: String? { state.withLock { $0.failed } }

    /// Whether a block is in the log.
    public func contains(_ id: UInt64) -> Bool { state.withLock { $0.index[id] != nil } }

    /// Reads a block back by id; nil when the log does not hold it.
    public func read(id: UInt64) throws -> Block? {
        guard let location = state.withLock({ $0.index[id] }) else { return nil }
        return try read(location)
    }

    /// Reads one block back, checking its checksum.
    public func read(_ location: Location) throws -> Block {
        let bytes = try Files.read(path(location.segment), offset: location.offset, count: location.length)
        guard bytes.count == location.length else {
            throw BlockError.corrupt("\(Self.name(location.segment)) ends before the block at offset \(location.offset)")
        }
        guard let record = try Self.decodeRecord(bytes, at: 0) else {
            throw BlockError.corrupt("\(Self.name(location.segment)): bad record at offset \(location.offset)")
        }
        return record.block
    }

    /// Scans every segment, oldest first. Intact blocks are returned; a torn
    /// or corrupt record ends its segment's scan, is reported, and the segment
    /// is cut back to its last good record so new appends stay readable.
    public func recover() -> Recovery {
        var blocks: [(Block, Location)] = []
        var problems: [String] = []
        var lastSegment = 0
        for segment in segments() {
            lastSegment = segment
            let p = path(segment)
            guard let bytes = try? Files.readAll(p) else {
                problems.append("\(Self.name(segment)): cannot be read; skipped")
                continue
            }
            var offset = 0
            var ids: Set<UInt64> = []
            while offset < bytes.count {
                do {
                    guard let record = try Self.decodeRecord(bytes, at: offset, payload: false) else {
                        problems.append("\(Self.name(segment)): torn record at byte \(offset) (\(bytes.count - offset) bytes); skipped")
                        break
                    }
                    blocks.append((record.block, Location(segment: segment, offset: Int64(offset), length: record.length)))
                    ids.insert(record.block.id)
                    offset += record.length
                } catch {
                    problems.append("\(Self.name(segment)): corrupt record at byte \(offset): \(error); it and the rest of the segment are skipped")
                    break
                }
            }
            if offset < bytes.count {
                // Keep what is good; drop the damaged tail so it is never read again.
                do {
                    try Self.cutBack(path: p, to: Int64(offset))
                } catch {
                    problems.append("\(Self.name(segment)): the damaged tail could not be cut off (\(error)); it stays on disk and is skipped at every start")
                }
            }
            state.withLock { s in
                s.live[segment] = ids
                s.bytes[segment] = Int64(offset)
                for (block, location) in blocks where location.segment == segment { s.index[block.id] = location }
            }
        }
        for p in problems { logger.warning("write-ahead log: \(p)") }
        state.withLock { s in s.segment = max(s.segment, lastSegment) }
        return Recovery(blocks: blocks, problems: problems)
    }

    /// What `eddy status` shows of a log.
    public struct Summary: Sendable, Equatable {
        public var segments = 0
        public var bytes: Int64 = 0
        public var blocks = 0
        /// Records in those blocks (each block's header holds its count).
        public var records = 0
    }

    /// Counts what the log holds by reading record and block headers only
    /// (no payload is read), for `eddy status`. A walk stops at a segment's
    /// first damaged record, as recovery does.
    public static func summary(directory: String) -> Summary {
        let names = ((try? Files.list(directory)) ?? []).filter { $0.hasPrefix("wal-") && $0.hasSuffix(".log") }
        var summary = Summary(segments: names.count)
        for name in names {
            let path = directory + "/" + name
            let size = Files.status(path)?.size ?? 0
            summary.bytes += size
            var offset: Int64 = 0
            while offset + Int64(headerSize) <= size {
                guard let header = try? Files.read(path, offset: offset, count: headerSize), header.count == headerSize,
                      get32(header, 0) == magic else { break }
                let length = Int64(get32(header, 4))
                guard offset + Int64(headerSize) + length <= size,
                      let prefix = try? Files.read(path, offset: offset + Int64(headerSize), count: Int(min(length, 4096))),
                      let block = try? decode(prefix, headerOnly: true) else { break }
                summary.blocks += 1
                summary.records += block.count
                offset += Int64(headerSize) + length
            }
        }
        return summary
    }

    /// Cuts a segment back to `length` bytes (the end of its last whole
    /// record) through an open descriptor.
    static func cutBack(fd: Int32, to length: Int64, path: String) throws(Files.IOError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw Files.IOError(path: path, operation: "truncate", code: errno) }
    }

    /// Cuts a segment on disk back to `length` bytes, durably.
    static func cutBack(path: String, to length: Int64) throws(Files.IOError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Files.IOError(path: path, operation: "open", code: errno) }
        defer { Glibc.close(fd) }
        try cutBack(fd: fd, to: length, path: path)
        guard fsync(fd) == 0 else { throw Files.IOError(path: path, operation: "fsync", code: errno) }
    }

    // MARK: cleanup

    /// The blocks are no longer needed by any batch or window: segments that
    /// hold nothing else are deleted (never the one being written).
    public func release(_ ids: Set<UInt64>) {
        guard !ids.isEmpty else { return }
        let doomed: [Int] = state.withLock { s in
            var doomed: [Int] = []
            for (segment, live) in s.live {
                let rest = live.subtracting(ids)
                s.live[segment] = rest
                if rest.isEmpty && segment != s.segment {
                    doomed.append(segment)
                }
            }
            for d in doomed {
                s.live.removeValue(forKey: d)
                s.bytes.removeValue(forKey: d)
            }
            for id in ids { s.index.removeValue(forKey: id) }
            return doomed
        }
        for d in doomed { Files.remove(path(d)) }
    }

    /// Blocks still live in the log.
    public var liveBlocks: Int { state.withLock { $0.live.values.reduce(0) { $0 + $1.count } } }

    /// Bytes of the segments that hold live blocks.
    public var liveBytes: Int64 { state.withLock { s in s.bytes.filter { !(s.live[$0.key]?.isEmpty ?? true) }.values.reduce(0, +) } }

    public func close() {
        state.withLock { s in
            if s.fd >= 0 { finishSegment(&s) }
        }
    }

    // MARK: encoding

    static func put32(_ v: UInt32, _ out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v >> 16))
        out.append(UInt8(truncatingIfNeeded: v >> 24))
    }

    static func get32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    /// A block as bytes: its header fields as varints, then the LZ4 payload.
    public static func encode(_ block: Block) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(block.payload.count + 64 + block.shard.utf8.count)
        Varint.append(block.id, to: &out)
        Varint.append(UInt64(block.source), to: &out)
        let shard = Array(block.shard.utf8)
        Varint.append(UInt64(shard.count), to: &out)
        out += shard
        Varint.append(Varint.zigzag(block.firstSeq), to: &out)
        Varint.append(UInt64(block.count), to: &out)
        Varint.append(UInt64(block.columns), to: &out)
        Varint.append(Varint.zigzag(block.sealTime), to: &out)
        Varint.append(Varint.zigzag(block.baseArrival), to: &out)
        Varint.append(UInt64(block.rawBytes), to: &out)
        let position = block.position.map { Array($0.utf8) }
        Varint.append(position.map { UInt64($0.count) + 1 } ?? 0, to: &out)
        if let position { out += position }
        out += block.payload
        return out
    }

    /// With `headerOnly`, the block comes back without payload and with
    /// `payloadBytes` set to the header's length.
    public static func decode(_ bytes: [UInt8], headerOnly: Bool = false) throws(BlockError) -> Block {
        try bytes.withUnsafeBufferPointer { (b: UnsafeBufferPointer<UInt8>) throws(BlockError) -> Block in
            guard let base = b.baseAddress else { throw BlockError.corrupt("empty block record") }
            var p = base
            let end = base + b.count
            func next() throws(BlockError) -> UInt64 {
                guard let v = Varint.read(&p, end) else { throw BlockError.corrupt("truncated block header") }
                return v
            }
            let id = try next()
            let source = try next()
            let shardLength = try next()
            guard shardLength <= UInt64(end - p) else { throw BlockError.corrupt("bad shard length") }
            let shard = String(decoding: UnsafeBufferPointer(start: p, count: Int(shardLength)), as: UTF8.self)
            p += Int(shardLength)
            let firstSeq = Varint.unzigzag(try next())
            let count = try next()
            let columns = try next()
            let sealTime = Varint.unzigzag(try next())
            let baseArrival = Varint.unzigzag(try next())
            let rawBytes = try next()
            let positionLength = try next()
            var position: String?
            if positionLength > 0 {
                guard positionLength - 1 <= UInt64(end - p) else { throw BlockError.corrupt("bad position length") }
                position = String(decoding: UnsafeBufferPointer(start: p, count: Int(positionLength - 1)), as: UTF8.self)
                p += Int(positionLength - 1)
            }
            // `_seq` values start at 0 and the block's last one must fit: the
            // engine resumes each shard at firstSeq + count.
            guard source < 1 << 20, count < 1 << 40, columns < 1 << 16, rawBytes < 1 << 40,
                  firstSeq >= 0, firstSeq <= Int64.max - Int64(count) else {
                throw BlockError.corrupt("implausible block header")
            }
            if headerOnly {
                var block = Block(id: id, source: Int(source), shard: shard, firstSeq: firstSeq, count: Int(count),
                                  columns: Int(columns), sealTime: sealTime, baseArrival: baseArrival,
                                  rawBytes: Int(rawBytes), payload: [], position: position)
                block.payloadBytes = base.distance(to: p)
                return block
            }
            let payload = Array(UnsafeBufferPointer(start: p, count: end - p))
            return Block(id: id, source: Int(source), shard: shard, firstSeq: firstSeq, count: Int(count),
                         columns: Int(columns), sealTime: sealTime, baseArrival: baseArrival,
                         rawBytes: Int(rawBytes), payload: payload, position: position)
        }
    }

    /// A record decoded from a segment: its block and how many bytes it
    /// takes. A named type, not a tuple: Swift 6.3.1 at -O miscompiles
    /// `guard let (a, b) = optionalTuple` for a tuple holding a `Block`
    /// (scripts/lint.sh keeps that shape out of the code).
    struct DecodedRecord {
        var block: Block
        var length: Int
    }

    /// The record at `offset`: nil when it is cut short (a torn tail), an
    /// error when it is complete but wrong. The checksum is checked in place;
    /// without `payload` only the block's header is decoded (recovery keeps
    /// metadata and reads payloads back when their batch runs).
    static func decodeRecord(_ bytes: [UInt8], at offset: Int, payload: Bool = true) throws(BlockError) -> DecodedRecord? {
        guard bytes.count - offset >= headerSize else { return nil }
        guard get32(bytes, offset) == magic else { throw BlockError.corrupt("bad record marker") }
        let length = Int(get32(bytes, offset + 4))
        guard length <= 1 << 30 else { throw BlockError.corrupt("implausible record length \(length)") }
        guard bytes.count - offset - headerSize >= length else { return nil }
        let start = offset + headerSize
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
        guard crc == get32(bytes, offset + 8) else {
            throw BlockError.corrupt("checksum mismatch")
        }
        if payload {
            return DecodedRecord(block: try decode(Array(bytes[start..<(start + length)])), length: headerSize + length)
        }
        // Header only: decode a prefix, then forget the payload but keep its size.
        let prefix = Array(bytes[start..<min(start + length, start + 1024)])
        var block = try decode(prefix, headerOnly: true)
        block.payloadBytes = length - block.payloadBytes
        return DecodedRecord(block: block, length: headerSize + length)
    }
}
