import EddyCore
import EddyEngine
import EddyJob
import EddyMonitor
import Foundation
import Glibc

/// A job run over in-memory replay input on the virtual clock, with its
/// stdout captured.
struct Replay {
    var output: String
    var history: [BatchMetrics]
    var table: Table { Table(output) }

    /// `inputs[source][k]` is the text of batch k of that source.
    static func run(_ sql: String, inputs: [String: [Int: String]] = [:], settings: [(String, String)] = [],
                    format: String = "table", batches: Int? = nil) throws -> Replay {
        let dir = try Scratch()
        for (source, files) in inputs {
            for (k, text) in files {
                let name = String(repeating: "0", count: max(0, 6 - String(k).count)) + "\(k).txt"
                try dir.write("replay/\(source)/\(name)", text)
            }
        }
        try FileManager.default.createDirectory(atPath: dir.path + "/replay", withIntermediateDirectories: true)
        let job = try JobParser.parse(path: "job.sql", text: sql)
        var planOptions = PlanOptions()
        planOptions.overrides = settings
        let outPath = dir.path + "/out"
        let fd = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd) }
        var options = RunOptions()
        options.replayDir = dir.path + "/replay"
        options.outputFD = fd
        options.quiet = true
        options.batches = batches
        options.format = EddySinksFormat.parse(format)
        let engine = Engine(job: job, planOptions: planOptions, options: options, stop: StopSignal())
        _ = try engine.run()
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        return Replay(output: output, history: engine.history)
    }

    /// Plans a job and returns its errors' text, or nil when it plans.
    static func planErrors(_ sql: String) -> String? {
        do {
            _ = try Planner.prepare(try JobParser.parse(path: "job.sql", text: sql))
            return nil
        } catch {
            return "\(error)"
        }
    }

    static func plan(_ sql: String, settings: [(String, String)] = []) throws -> Plan {
        var options = PlanOptions()
        options.overrides = settings
        return try Planner.prepare(try JobParser.parse(path: "job.sql", text: sql), options: options).plan
    }
}

import EddySinks
enum EddySinksFormat {
    static func parse(_ s: String) -> OutputFormat { OutputFormat(rawValue: s) ?? .table }
}

/// Table output read back per batch: each statement's rows, in order.
struct Table {
    struct Batch {
        var time: Int64
        var tables: [[[String]]]
        var rows: [[String]] { tables.flatMap { $0 } }
    }

    var batches: [Batch] = []

    init(_ text: String) {
        var current: Batch?
        var table: [[String]]?
        var header = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("--- batch ") && line.hasSuffix(" ---") {
                if let t = table { current?.tables.append(t) }
                if let c = current { batches.append(c) }
                current = Batch(time: Int64(line.dropFirst(10).dropLast(4)) ?? -1, tables: [])
                table = []
                header = 2
                continue
            }
            if line.isEmpty {
                if let t = table { current?.tables.append(t) }
                table = []
                header = 2
                continue
            }
            if header > 0 { header -= 1; continue }
            if line == "(no rows)" { continue }
            table?.append(line.split(separator: " ", omittingEmptySubsequences: true).map(String.init))
        }
        if let t = table, current != nil { current?.tables.append(t) }
        if let c = current { batches.append(c) }
    }

    var times: [Int64] { batches.map(\.time) }

    /// Rows each batch emitted, sorted, so emissions compare as multisets.
    var emissions: [Int64: [[String]]] {
        var out: [Int64: [[String]]] = [:]
        for b in batches { out[b.time] = b.rows.sorted { $0.joined(separator: "\u{1}") < $1.joined(separator: "\u{1}") } }
        return out
    }
}

/// A scratch directory removed at process exit.
final class Scratch: Sendable {
    let path: String
    private static let root: String = {
        let root = NSTemporaryDirectory() + "eddy-engine-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "eddy-engine-tests-\(getpid())") }
        return root
    }()

    init() throws {
        var template = Array((Scratch.root + "/t-XXXXXX").utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw RuntimeError("mkdtemp failed")
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
}

/// Sorts rows so two emissions compare as multisets.
func multiset(_ rows: [[String]]) -> [[String]] {
    rows.sorted { $0.joined(separator: "\u{1}") < $1.joined(separator: "\u{1}") }
}
