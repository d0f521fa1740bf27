import Foundation
import Glibc

/// Runs the built `eddy` binary the way a user does, with stdout and stderr
/// captured in files (no pipe can fill up and stall the child).
struct EddyProcess {
    /// The repository root, found from this file's path.
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The binary under test. `scripts/test.sh` builds the release binary
    /// (`-c release`, what users run: some bugs exist only at -O) and names it
    /// in `EDDY_BINARY`. Without it, `eddy` next to the test bundle, from the
    /// same (debug) build.
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["EDDY_BINARY"], !path.isEmpty {
            return path.hasPrefix("/") ? path : repoRoot + "/" + path
        }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test runner may sit inside a bundle directory.
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("eddy").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return repoRoot + "/.build/debug/eddy"
    }()

    struct Result {
        /// The exit status, or the signal number when a signal ended it.
        var status: Int32
        /// A signal ended the process (SIGKILL from a test, or a crash).
        var signaled = false
        var stdout: String
        var stderr: String
        var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty } }
    }

    let process = Process()
    let outPath: String
    let errPath: String
    let dir: TempDir

    /// Starts `eddy args...` in `cwd` (the repo root by default).
    init(_ args: [String], cwd: String? = nil, stdinPath: String? = nil, env: [String: String] = [:]) throws {
        dir = try TempDir()
        outPath = dir.path + "/stdout"
        errPath = dir.path + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: cwd ?? Self.repoRoot)
        var environment = ProcessInfo.processInfo.environment
        // What a killed eddy leaves in $TMPDIR (its private spill dir) stays
        // inside the test's own directory, removed when the tests end.
        environment["TMPDIR"] = dir.path
        for (k, v) in env { environment[k] = v }
        process.environment = environment
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        if let stdinPath {
            process.standardInput = FileHandle(forReadingAtPath: stdinPath)
        } else {
            process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func signal(_ signo: Int32) { kill(process.processIdentifier, signo) }

    /// Waits for exit; kills the process and fails after `timeout` seconds.
    func wait(timeout: Double = 60) throws -> Result {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw TestFailure("eddy did not exit within \(timeout)s; stderr: \(read(errPath).suffix(2000))")
            }
            usleep(20_000)
        }
        process.waitUntilExit()
        return Result(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                      stdout: read(outPath), stderr: read(errPath))
    }

    /// What the process printed so far.
    var currentStdout: String { read(outPath) }
    var currentStderr: String { read(errPath) }

    private func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }

    /// Runs eddy to completion.
    static func run(_ args: [String], cwd: String? = nil, stdin: String? = nil, stdinBytes: [UInt8]? = nil,
                    env: [String: String] = [:], timeout: Double = 60) throws -> Result {
        var stdinPath: String?
        let holder = try TempDir()
        if let stdin {
            stdinPath = holder.path + "/stdin"
            try stdin.write(toFile: stdinPath!, atomically: true, encoding: .utf8)
        } else if let stdinBytes {
            stdinPath = holder.path + "/stdin"
            _ = FileManager.default.createFile(atPath: stdinPath!, contents: Data(stdinBytes))
        }
        let p = try EddyProcess(args, cwd: cwd, stdinPath: stdinPath, env: env)
        return try withExtendedLifetime(holder) { try p.wait(timeout: timeout) }
    }

    /// Runs a shell pipeline in which `$EDDY` is the binary.
    static func shell(_ script: String, cwd: String? = nil, timeout: Double = 60) throws -> Result {
        let p = Process()
        let dir = try TempDir()
        let out = dir.path + "/out", err = dir.path + "/err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", script]
        p.currentDirectoryURL = URL(fileURLWithPath: cwd ?? repoRoot)
        var env = ProcessInfo.processInfo.environment
        env["EDDY"] = binary
        env["TMPDIR"] = dir.path
        p.environment = env
        p.standardOutput = FileHandle(forWritingAtPath: out)
        p.standardError = FileHandle(forWritingAtPath: err)
        p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning {
            if Date() > deadline {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                throw TestFailure("shell pipeline did not finish within \(timeout)s: \(script)")
            }
            usleep(20_000)
        }
        p.waitUntilExit()
        func read(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return Result(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
                      stdout: read(out), stderr: read(err))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A temporary directory for one test. All of them live under one root per
/// test process, removed when the process exits, so a directory can never
/// vanish while a child process still reads from it.
final class TempDir: Sendable {
    let path: String

    private static let root: String = {
        let root = NSTemporaryDirectory() + "eddy-e2e-\(getpid())"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        atexit {
            try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "eddy-e2e-\(getpid())")
        }
        return root
    }()

    init() throws {
        var template = Array((TempDir.root + "/t-XXXXXX").utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestFailure("mkdtemp failed")
        }
        path = String(cString: p)
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let full = path + "/" + name
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
        return full
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let full = path + "/" + name
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: full, contents: Data(bytes))
        return full
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass.
func eventually(timeout: Double = 20, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// Parses the `key=value` metrics lines eddy writes on stderr.
func metricsLines(_ stderr: String) -> [[String: String]] {
    stderr.split(separator: "\n").filter { $0.hasPrefix("eddy: batch=") }.map { line in
        var fields: [String: String] = [:]
        for part in line.dropFirst("eddy: ".count).split(separator: " ") {
            if let eq = part.firstIndex(of: "=") { fields[String(part[..<eq])] = String(part[part.index(after: eq)...]) }
        }
        return fields
    }
}

/// Counts words like the word-count jobs do: split on single spaces, drop empty pieces.
func wordCounts(_ text: String) -> [String: Int] {
    var counts: [String: Int] = [:]
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        for w in line.split(separator: " ", omittingEmptySubsequences: true) { counts[String(w), default: 0] += 1 }
    }
    return counts
}
