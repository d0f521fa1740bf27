import Glibc

/// The few file operations eddy needs, on POSIX calls, with errors that name
/// the path and the system's reason. Spill files, the write-ahead log, sink
/// files and the file source all go through here.
public enum Files {
    public struct IOError: EddyError {
        public var path: String
        public var operation: String
        public var code: Int32
        public init(path: String, operation: String, code: Int32) {
            self.path = path
            self.operation = operation
            self.code = code
        }
        public var exitStatus: ExitStatus { .runtime }
        public var description: String { "cannot \(operation) \(path): \(String(cString: strerror(code)))" }
        public var isDiskFull: Bool { code == ENOSPC || code == EDQUOT }
    }

    public static func readAll(_ path: String) throws(IOError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IOError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw IOError(path: path, operation: "stat", code: errno) }
        var out = [UInt8]()
        out.reserveCapacity(Int(st.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError(path: path, operation: "read", code: errno)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Reads `count` bytes at `offset`; fewer when the file is shorter.
    public static func read(_ path: String, offset: Int64, count: Int) throws(IOError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IOError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError(path: path, operation: "read", code: errno)
            }
            if n == 0 { break }
            done += n
        }
        if done < count { out.removeSubrange(done...) }
        return out
    }

    /// Writes the whole file and, when `sync`, fsyncs it before returning.
    public static func write(_ path: String, _ bytes: [UInt8], sync: Bool = false) throws(IOError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOError(path: path, operation: "create", code: errno) }
        do throws(IOError) {
            try writeAll(fd: fd, bytes, path: path)
            if sync && fsync(fd) != 0 { throw IOError(path: path, operation: "fsync", code: errno) }
        } catch {
            close(fd)
            throw error
        }
        if close(fd) != 0 { throw IOError(path: path, operation: "close", code: errno) }
    }

    /// Writes to a temporary name next to `path`, then renames it into place,
    /// so readers only ever see a whole file.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], sync: Bool = false) throws(IOError) {
        let temp = path + ".tmp-\(getpid())"
        try write(temp, bytes, sync: sync)
        guard rename(temp, path) == 0 else {
            let code = errno
            unlink(temp)
            throw IOError(path: path, operation: "rename into", code: code)
        }
        if sync { syncDirectory(of: path) }
    }

    public static func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws(IOError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(IOError) in try writeAll(fd: fd, raw, path: path) }
        }
        try result.get()
    }

    public static func writeAll(fd: Int32, _ raw: UnsafeRawBufferPointer, path: String) throws(IOError) {
        guard let base = raw.baseAddress else { return }
        var offset = 0
        while offset < raw.count {
            let n = Glibc.write(fd, base + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError(path: path, operation: "write", code: errno)
            }
            offset += n
        }
    }

    /// fsyncs the directory holding `path`, so a rename survives power loss.
    public static func syncDirectory(of path: String) {
        let dir = parent(of: path)
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates the directory and its parents, like `mkdir -p`.
    public static func makeDirectories(_ path: String) throws(IOError) {
        if isDirectory(path) { return }
        let parentDir = parent(of: path)
        if parentDir != path && parentDir != "." && parentDir != "/" && !isDirectory(parentDir) {
            try makeDirectories(parentDir)
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw IOError(path: path, operation: "create directory", code: errno)
        }
    }

    /// A fresh private directory (mode 0700, an unpredictable name) under
    /// `base`, by default `$TMPDIR` or /tmp.
    public static func makeTempDirectory(prefix: String, in base: String? = nil) throws(IOError) -> String {
        let base = base ?? getenv("TMPDIR").flatMap { $0.pointee == 0 ? nil : String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        let ok = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard ok else { throw IOError(path: base, operation: "create a temp directory in", code: errno) }
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    public static func remove(_ path: String) { unlink(path) }

    /// Removes a directory and everything in it (spill and temp dirs at exit).
    public static func removeTree(_ path: String) {
        for name in (try? list(path)) ?? [] {
            let child = path + "/" + name
            if isDirectory(child) { removeTree(child) } else { unlink(child) }
        }
        rmdir(path)
    }

    /// Names in a directory, without `.` and `..`.
    public static func list(_ path: String) throws(IOError) -> [String] {
        guard let dir = opendir(path) else { throw IOError(path: path, operation: "list", code: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public struct Status: Sendable {
        public var size: Int64
        public var mtimeMs: Int64
        public var isRegular: Bool
        public var inode: UInt64
    }

    public static func status(_ path: String) -> Status? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let mtime = Int64(st.st_mtim.tv_sec) * 1000 + Int64(st.st_mtim.tv_nsec) / 1_000_000
        return Status(size: Int64(st.st_size), mtimeMs: mtime, isRegular: (st.st_mode & S_IFMT) == S_IFREG,
                      inode: UInt64(st.st_ino))
    }
}
