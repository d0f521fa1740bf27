import EddyBlocks
import EddyCore
import Glibc
import Logging

/// `file`: watches a directory (or a glob) and reads each new file once, at
/// the batch where it is first seen, like Spark's textFileStream.
///
/// - Files present when the job starts are skipped: new files only.
/// - New files are taken in modification-time order, and only once their
///   mtime is at or before the batch time.
/// - Names starting with `.` or `_`, or ending in `.tmp` or `._COPYING_`, are
///   ignored: that is where writers put files before renaming them in, so a
///   half-written file is never read.
///
/// - A directory that does not exist is watched for: eddy warns at start, and
///   again when it appears (or goes away), so a typo in `path` does not poll
///   silently forever.
///
/// Owned by the engine thread.
public final class FileSource {
    public let source: LiveSource
    public let options: FileSourceOptions
    /// The directory new files appear in: `path`, or a glob's part before the
    /// `/` that precedes its first wildcard (`.` when there is none).
    public let directory: String
    private var seen: Set<String> = []
    private var directoryPresent: Bool?
    private let logger = Logger(label: "eddy.file")

    public init(source: LiveSource, options: FileSourceOptions) {
        self.source = source
        self.options = options
        directory = Self.directory(of: options.path)
        noteDirectory()
    }

    static func directory(of path: String) -> String {
        guard let wildcard = path.firstIndex(where: { "*?[".contains($0) }) else { return path }
        guard let slash = path[..<wildcard].lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Warns when the watched directory is missing at start, and when it
    /// appears or goes away later.
    private func noteDirectory() {
        let present = Files.isDirectory(directory)
        defer { directoryPresent = present }
        switch (directoryPresent, present) {
        case (nil, false):
            logger.warning("source \(source.name): directory \(directory) does not exist; watching for it to appear")
        case (true, false):
            logger.warning("source \(source.name): directory \(directory) went away; watching for it to come back")
        case (false, true):
            logger.warning("source \(source.name): directory \(directory) appeared; reading the files in it")
        default:
            break
        }
    }

    /// Marks the files already there as seen, so only new ones are read.
    public func skipExisting() {
        for file in candidates() { seen.insert(file.path) }
    }

    /// Restores the files a checkpoint says were already read.
    public func markSeen(_ paths: [String]) { seen.formUnion(paths) }

    public var seenFiles: Set<String> { seen }

    /// New files due at `batchTime`, oldest first; they are marked as seen.
    public func takeNewFiles(batchTime: Int64) -> [String] {
        let fresh = candidates().filter { !seen.contains($0.path) && $0.mtimeMs <= batchTime }
            .sorted { ($0.mtimeMs, $0.path) < ($1.mtimeMs, $1.path) }
        for f in fresh { seen.insert(f.path) }
        return fresh.map(\.path)
    }

    /// Reads and parses one file into blocks of at most `blockMaxBytes`.
    public func readBlocks(path: String, batchTime: Int64, blockMaxBytes: Int, ids: BlockIDSource) throws -> [Block] {
        let bytes = try Files.readAll(path)
        let shard = path.split(separator: "/").last.map(String.init) ?? path
        return FileSource.blocks(from: bytes, source: source, shard: shard, firstSeq: 0, label: batchTime,
                                 arrival: batchTime, blockMaxBytes: blockMaxBytes, ids: ids)
    }

    /// Parses a whole input into blocks, cutting a new block whenever one
    /// reaches `blockMaxBytes`. Also used for replay batches.
    public static func blocks(from bytes: [UInt8], source: LiveSource, shard: String, firstSeq: Int64, label: Int64,
                              arrival: Int64, blockMaxBytes: Int, ids: BlockIDSource) -> [Block] {
        var decoder = RecordDecoder(schema: source.config.schema)
        var builder = BlockBuilder(columns: source.config.schema.valueCount)
        var blocks: [Block] = []
        var seq = firstSeq
        func cut() {
            guard !builder.isEmpty else { return }
            let n = builder.count
            blocks.append(builder.seal(id: ids.next(), source: source.index, shard: shard, firstSeq: seq, sealTime: label))
            seq += Int64(n)
        }
        var offset = 0
        let step = 1 << 20
        while offset < bytes.count {
            let end = min(bytes.count, offset + step)
            bytes.withUnsafeBytes { raw in
                _ = decoder.feed(UnsafeRawBufferPointer(rebasing: raw[offset..<end]), arrival: arrival, shard: shard,
                                 errors: source.errors, into: &builder)
            }
            if builder.byteCount >= blockMaxBytes { cut() }
            offset = end
        }
        _ = decoder.finish(arrival: arrival, shard: shard, errors: source.errors, into: &builder)
        cut()
        return blocks
    }

    private struct Candidate {
        var path: String
        var mtimeMs: Int64
    }

    private static func ignored(_ name: Substring) -> Bool {
        name.hasPrefix(".") || name.hasPrefix("_") || name.hasSuffix(".tmp") || name.hasSuffix("._COPYING_")
    }

    private func candidates() -> [Candidate] {
        noteDirectory()
        var paths: [String] = []
        if Files.isDirectory(options.path) {
            let names = (try? Files.list(options.path)) ?? []
            for name in names {
                if let pattern = options.pattern, fnmatch(pattern, name, 0) != 0 { continue }
                paths.append(options.path.hasSuffix("/") ? options.path + name : options.path + "/" + name)
            }
        } else {
            var g = glob_t()
            if glob(options.path, 0, nil, &g) == 0 {
                for i in 0..<Int(g.gl_pathc) {
                    if let p = g.gl_pathv[i] { paths.append(String(cString: p)) }
                }
            }
            globfree(&g)
        }
        var out: [Candidate] = []
        for path in paths {
            let name = path.split(separator: "/").last ?? Substring(path)
            if Self.ignored(name) { continue }
            guard let st = Files.status(path), st.isRegular else { continue }
            out.append(Candidate(path: path, mtimeMs: st.mtimeMs))
        }
        return out
    }
}
