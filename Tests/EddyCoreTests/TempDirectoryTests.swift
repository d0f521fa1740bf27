import EddyCore
import Glibc
import Testing

/// Private temp directories (the spill dir of a job without a checkpoint):
/// an unpredictable name, mode 0700, and an error when none can be made,
/// never a fallback path.
@Suite struct TempDirectoryTests {
    @Test func aTempDirectoryIsPrivateAndUnpredictable() throws {
        let a = try Files.makeTempDirectory(prefix: "eddy-test-private")
        let b = try Files.makeTempDirectory(prefix: "eddy-test-private")
        defer { Files.removeTree(a); Files.removeTree(b) }
        #expect(a != b)
        #expect(!a.hasSuffix("-\(getpid())"))
        var st = stat()
        #expect(stat(a, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o700)
    }

    @Test func noTempDirectoryIsAnErrorNamingWhere() throws {
        do {
            let made = try Files.makeTempDirectory(prefix: "eddy-spill", in: "/nonexistent-eddy-tmp")
            Files.removeTree(made)
            Issue.record("made \(made) in a directory that does not exist")
        } catch {
            #expect(error.code == ENOENT)
            #expect(error.description == "cannot create a temp directory in /nonexistent-eddy-tmp: No such file or directory")
        }
    }
}
