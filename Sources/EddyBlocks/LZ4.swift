import CLZ4

/// liblz4's block format: fast enough to compress on the receiver thread and
/// decompress on the engine thread at memory speed.
public enum LZ4 {
    /// The liblz4 linked in (`eddy --version` reports it: the release binary
    /// carries its own copy, so the box's liblz4 says nothing).
    public static var libraryVersion: String { String(cString: LZ4_versionString()) }

    public static func compress(_ input: [UInt8]) -> [UInt8] {
        if input.isEmpty { return [] }
        let bound = Int(LZ4_compressBound(Int32(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let written = input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                LZ4_compress_default(
                    UnsafeRawPointer(src.baseAddress!).assumingMemoryBound(to: CChar.self),
                    UnsafeMutableRawPointer(dst.baseAddress!).assumingMemoryBound(to: CChar.self),
                    Int32(src.count), Int32(dst.count))
            }
        }
        output.removeSubrange(Int(max(written, 0))...)
        return output
    }

    /// Decompresses into `output`, which is resized to exactly `rawBytes`.
    /// Corrupt input is reported, never read past.
    public static func decompress(_ input: [UInt8], rawBytes: Int, into output: inout [UInt8]) throws(BlockError) {
        if rawBytes == 0 {
            output.removeAll(keepingCapacity: true)
            return
        }
        // LZ4 cannot expand a byte to more than 255: a larger raw size is
        // damage, and must not allocate up to 2 GB before it is found out.
        guard !input.isEmpty, rawBytes > 0, rawBytes < Int(Int32.max), rawBytes / 255 <= input.count + 1 else {
            throw BlockError.corrupt("bad block sizes: \(input.count) compressed, \(rawBytes) raw")
        }
        if output.count != rawBytes {
            if output.count < rawBytes {
                output.append(contentsOf: repeatElement(0, count: rawBytes - output.count))
            } else {
                output.removeSubrange(rawBytes...)
            }
        }
        let n = input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                LZ4_decompress_safe(
                    UnsafeRawPointer(src.baseAddress!).assumingMemoryBound(to: CChar.self),
                    UnsafeMutableRawPointer(dst.baseAddress!).assumingMemoryBound(to: CChar.self),
                    Int32(src.count), Int32(rawBytes))
            }
        }
        guard n == Int32(rawBytes) else {
            throw BlockError.corrupt("LZ4 data does not decode to \(rawBytes) bytes (got \(n))")
        }
    }
}

public enum BlockError: Error, Sendable, CustomStringConvertible, Equatable {
    case corrupt(String)
    case io(String)

    public var description: String {
        switch self {
        case .corrupt(let m): return "corrupt block: \(m)"
        case .io(let m): return m
        }
    }
}
