import EddyCore
import Glibc

/// Start-up of the binary a user runs: from exec to `--version` exiting, and
/// from exec to the first batch of a replay job (its first metrics line on
/// stderr, written unbuffered as the batch commits). Compares the static
/// release binary (dist/eddy, scripts/release.sh) with the dynamically linked
/// build (.build/release/eddy), which loads the Swift runtime's shared
/// libraries from /opt/swift. Medians of alternating rounds, with the page
/// cache warm (one untimed run of each first).
///   eddy-bench startup [BINARY...]
enum StartupBench {
    static let rounds = 30

    static func run(binaries given: [String]) {
        let binaries = given.isEmpty ? ["dist/eddy", ".build/release/eddy"].filter { access($0, X_OK) == 0 } : given
        guard !binaries.isEmpty else {
            print("startup: no binary (build dist/eddy with scripts/release.sh, or .build/release/eddy)")
            return
        }
        let version = ["--version"]
        let replay = ["run", "sql/network_wordcount.sql", "--replay", "samples/replay/network_wordcount", "--format", "csv"]
        for binary in binaries {
            _ = spawnAndTime(binary, version, until: nil)
            _ = spawnAndTime(binary, replay, until: "batch=")
        }
        var versionMs: [String: [Double]] = [:]
        var firstBatchMs: [String: [Double]] = [:]
        for _ in 0..<rounds {
            for binary in binaries {
                if let t = spawnAndTime(binary, version, until: nil) { versionMs[binary, default: []].append(t) }
                if let t = spawnAndTime(binary, replay, until: "batch=") { firstBatchMs[binary, default: []].append(t) }
            }
        }
        print("startup: median of \(rounds) runs each, warm page cache")
        for binary in binaries {
            let size = Files.status(binary)?.size ?? 0
            print("  \(binary) (\(size / 1_000_000) MB): exec → --version exit \(Bench.format1(Bench.median(versionMs[binary] ?? []))) ms, "
                  + "exec → first batch of a replay job \(Bench.format1(Bench.median(firstBatchMs[binary] ?? []))) ms")
        }
    }

    /// Milliseconds from posix_spawn to `marker` on the child's stderr (or,
    /// without one, to its exit); nil when it never shows.
    static func spawnAndTime(_ binary: String, _ args: [String], until marker: String?) -> Double? {
        var pipeFds: [Int32] = [0, 0]
        guard pipe(&pipeFds) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeFds[0])
        let argv = ([binary] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let t0 = MonotonicTime.now()
        let spawned = posix_spawn(&pid, binary, &actions, nil, argv, environ)
        close(pipeFds[1])
        defer { close(pipeFds[0]) }
        guard spawned == 0 else { return nil }
        var elapsed: Double?
        if let marker {
            var seen: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while elapsed == nil {
                let n = buffer.withUnsafeMutableBytes { read(pipeFds[0], $0.baseAddress, $0.count) }
                if n <= 0 { break }
                seen += buffer[0..<n]
                if String(decoding: seen, as: UTF8.self).contains(marker) {
                    elapsed = Double(MonotonicTime.now() - t0) / 1e6
                }
            }
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        if marker == nil && status == 0 { elapsed = Double(MonotonicTime.now() - t0) / 1e6 }
        return elapsed
    }
}
