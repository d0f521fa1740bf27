import EddyCore
import Glibc

/// A directory for targets whose input is a file (a log segment, a
/// checkpoint): the input is written there and read back through the same
/// code a restart uses. scripts/fuzz.sh points `EDDY_FUZZ_WORKDIR` into the
/// fuzz scratch path; without it, a private temp directory is made.
public enum FuzzWorkDirectory {
    /// `name` under the work directory, emptied.
    public static func fresh(_ name: String) -> String {
        let path = root + "/" + name
        Files.removeTree(path)
        do {
            try Files.makeDirectories(path)
        } catch {
            fatalError("fuzz: cannot create \(path): \(error)")
        }
        return path
    }

    /// Writes `bytes` to `path`, replacing it.
    public static func write(_ bytes: UnsafeBufferPointer<UInt8>, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { fatalError("fuzz: cannot create \(path)") }
        defer { close(fd) }
        do {
            try Files.writeAll(fd: fd, UnsafeRawBufferPointer(bytes), path: path)
        } catch {
            fatalError("fuzz: cannot write \(path): \(error)")
        }
    }

    private static let root: String = {
        if let dir = getenv("EDDY_FUZZ_WORKDIR").map({ String(cString: $0) }), !dir.isEmpty {
            let path = dir + "/" + String(getpid())
            do { try Files.makeDirectories(path) } catch { fatalError("fuzz: cannot create \(path): \(error)") }
            return path
        }
        do {
            return try Files.makeTempDirectory(prefix: "eddy-fuzz")
        } catch {
            fatalError("fuzz: cannot create a work directory: \(error)")
        }
    }()
}
