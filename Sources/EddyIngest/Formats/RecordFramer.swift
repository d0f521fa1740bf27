import Glibc

/// Cuts a byte stream into records: at newlines, or for csv at newlines that
/// are outside quotes. A record split across reads is kept until its end
/// arrives; `\r\n` endings lose the `\r`.
public struct RecordFramer: Sendable {
    public let quoteAware: Bool
    private var pending: [UInt8] = []
    /// For csv: where the scan stands within the current record, so that only
    /// a quote at the start of a field opens a quoted field. A stray quote in
    /// an unquoted field is left for the parser to report, and cannot make
    /// the framer swallow the records after it.
    private enum CSVState: Sendable { case fieldStart, unquoted, quoted, quoteInQuoted }
    private var csv: CSVState = .fieldStart
    /// Set when the pending record grew past the limit; the rest of it is skipped.
    private var overflowing = false
    public private(set) var oversizedRecords = 0

    public init(quoteAware: Bool) { self.quoteAware = quoteAware }

    /// Feeds a chunk of bytes and calls `emit` for every complete record, in order.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer) -> Void) {
        guard let base = chunk.baseAddress?.assumingMemoryBound(to: UInt8.self), chunk.count > 0 else { return }
        var start = 0
        let count = chunk.count
        while start < count {
            guard let end = findEnd(base, from: start, count: count) else {
                keep(base + start, count - start)
                return
            }
            if pending.isEmpty && !overflowing {
                emitTrimmed(UnsafeRawBufferPointer(start: base + start, count: end - start), emit)
            } else {
                keep(base + start, end - start)
                if overflowing {
                    overflowing = false
                    oversizedRecords += 1
                } else {
                    pending.withUnsafeBytes { emitTrimmed($0, emit) }
                }
                pending.removeAll(keepingCapacity: pending.count < 1 << 20)
            }
            start = end + 1
        }
    }

    /// At end of input: the last record, if it had no final newline.
    public mutating func finish(_ emit: (UnsafeRawBufferPointer) -> Void) {
        if overflowing {
            oversizedRecords += 1
        } else if !pending.isEmpty {
            pending.withUnsafeBytes { emitTrimmed($0, emit) }
        }
        pending.removeAll()
        overflowing = false
        csv = .fieldStart
    }

    /// Bytes waiting for the end of their record.
    public var pendingBytes: Int { pending.count }

    private mutating func keep(_ p: UnsafePointer<UInt8>, _ n: Int) {
        if overflowing { return }
        if pending.count + n > SourceSchema.maxRecordBytes {
            overflowing = true
            pending.removeAll()
            return
        }
        pending.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
    }

    private func emitTrimmed(_ record: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer) -> Void) {
        var n = record.count
        if n > 0, record[n - 1] == UInt8(ascii: "\r") { n -= 1 }
        emit(UnsafeRawBufferPointer(rebasing: record[0..<n]))
    }

    /// Index of the newline ending the record that continues at `from`.
    private mutating func findEnd(_ base: UnsafePointer<UInt8>, from: Int, count: Int) -> Int? {
        if !quoteAware {
            guard let hit = memchr(base + from, Int32(UInt8(ascii: "\n")), count - from) else { return nil }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
        var i = from
        while i < count {
            let c = base[i]
            switch csv {
            case .fieldStart, .unquoted:
                if c == UInt8(ascii: "\n") { csv = .fieldStart; return i }
                if c == UInt8(ascii: ",") { csv = .fieldStart }
                else if c == UInt8(ascii: "\"") && csv == .fieldStart { csv = .quoted }
                else { csv = .unquoted }
            case .quoted:
                if c == UInt8(ascii: "\"") { csv = .quoteInQuoted }
            case .quoteInQuoted:
                // "" is an escaped quote; anything else closes the field.
                if c == UInt8(ascii: "\"") { csv = .quoted }
                else if c == UInt8(ascii: "\n") { csv = .fieldStart; return i }
                else if c == UInt8(ascii: ",") { csv = .fieldStart }
                else { csv = .unquoted }
            }
            i += 1
        }
        return nil
    }
}
