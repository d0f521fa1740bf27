import EddyBlocks
import EddySQL

/// What `eddy --version` prints. A user reporting a problem from an edge box
/// has only the binary: it names the commit it was built from and the SQLite
/// and LZ4 it carries (the release binary links both in, so the box's own
/// libraries say nothing about it).
enum VersionInfo {
    static let version = "0.1.0"

    static var text: String {
        let commit = ReleaseStamp.commit.map { "commit \($0)" } ?? "unknown commit"
        return """
            eddy \(version) (\(commit))
            SQLite \(Database.libraryVersion)
            LZ4 \(LZ4.libraryVersion)
            """
    }
}

#if !EDDY_RELEASE_STAMP
/// A development build does not know its commit: scripts/release.sh writes
/// ReleaseStamp.generated.swift with it and builds with -DEDDY_RELEASE_STAMP,
/// and removes the file afterwards, so `swift build` never sees a stale one.
enum ReleaseStamp {
    static let commit: String? = nil
}
#endif
