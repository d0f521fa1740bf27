import EddyBlocks
import EddyCore
import EddyFuzzSupport

/// A write-ahead log segment from any bytes, read the way a restart reads it:
/// `recover()` scans it, then every block it found is read back by location,
/// decompressed and walked record by record, as a batch loads it.
///
/// Byte 0, bit 0: give every framed record a correct checksum first, so the
/// block decoder and LZ4 see damaged payloads that passed the CRC (a bug in
/// a writer, or a collision), not only torn and flipped records.
@_cdecl("fuzz_wal_main")
public func fuzzWALMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzWAL(UnsafeBufferPointer(start: data, count: size)) }
}

func fuzzWAL(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    guard input.count >= 1 else { return 0 }
    var segment = Array(input[1...])
    if input[0] & 1 != 0 { resealChecksums(&segment) }
    let directory = FuzzWorkDirectory.fresh("wal")
    segment.withUnsafeBufferPointer { FuzzWorkDirectory.write($0, to: directory + "/" + WriteAheadLog.name(1)) }

    let log: WriteAheadLog
    do {
        log = try WriteAheadLog(directory: directory, sync: .off)
    } catch {
        fatalError("cannot open the log: \(error)")
    }
    let recovery = log.recover()
    var offsets: [String: Int64] = [:]
    var raw: [UInt8] = []
    for (header, location) in recovery.blocks {
        // What the engine does with a recovered block before any batch runs.
        offsets[header.shard] = max(offsets[header.shard] ?? 0, header.nextSeq)
        let block: Block
        do {
            block = try log.read(location)
        } catch {
            continue
        }
        guard block.id == header.id, block.count == header.count, block.columns == header.columns,
              block.payloadBytes == header.payloadBytes else {
            fatalError("block \(header.id) reads back different from what recovery saw")
        }
        // As BatchLoader loads it (without SQLite).
        do {
            try LZ4.decompress(block.payload, rawBytes: block.rawBytes, into: &raw)
            try raw.withUnsafeBufferPointer { bytes throws(BlockError) in
                var cursor = RecordCursor(bytes, baseArrival: block.baseArrival)
                for _ in 0..<block.count {
                    _ = try cursor.nextArrival()
                    for _ in 0..<block.columns { _ = try cursor.nextValue() }
                }
            }
        } catch {
            continue
        }
    }
    _ = WriteAheadLog.summary(directory: directory)
    log.close()

    // Recovery cut the damaged tail off: a second one finds the same blocks and nothing wrong.
    do {
        let again = try WriteAheadLog(directory: directory, sync: .off).recover()
        guard again.problems.isEmpty, again.blocks.map(\.0.id) == recovery.blocks.map(\.0.id) else {
            fatalError("a second recovery differs: \(again.problems)")
        }
    } catch {
        fatalError("cannot open the log again: \(error)")
    }
    return 0
}

/// Walks the records' frames (`magic | length | crc32c | payload`) and
/// writes each one's correct checksum, up to the first frame that does not fit.
func resealChecksums(_ segment: inout [UInt8]) {
    func get32(_ i: Int) -> UInt32 {
        UInt32(segment[i]) | UInt32(segment[i + 1]) << 8 | UInt32(segment[i + 2]) << 16 | UInt32(segment[i + 3]) << 24
    }
    var offset = 0
    while segment.count - offset >= 12, get32(offset) == 0xEDD1_B10C {
        let length = Int(get32(offset + 4))
        guard segment.count - offset - 12 >= length else { return }
        let start = offset + 12
        let crc = segment.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
        for k in 0..<4 { segment[offset + 8 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
        offset = start + length
    }
}
