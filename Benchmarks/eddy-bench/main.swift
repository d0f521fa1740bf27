import EddyBlocks
import EddyCore
import EddyEngine
import EddyIngest
import EddyJob
import EddySQL
import Glibc

// eddy-bench: prints throughput figures; it asserts nothing and times no test.
//   eddy-bench core     generator → per-batch word count: eddy vs a bare SQLite loop
//   eddy-bench blocks   block store MB/s in and out, LZ4 ratio on line data
//   eddy-bench e2e      live receivers → engine, 1/2/4 shards, and with spilling
//   eddy-bench windows  windowed and stateful word counts, and (in a child process) a long window's memory
//   eddy-bench recovery seconds to resume from a checkpoint with 1 GB of log
//   eddy-bench ui       throughput with the monitor served and polled every 500 ms vs without it
//   eddy-bench all      everything above
//   eddy-bench startup [BINARY...]   exec → --version and exec → first batch, of
//                       dist/eddy and .build/release/eddy (not part of all)

let arguments = Array(CommandLine.arguments.dropFirst())
let modes = ["core", "blocks", "e2e", "windows", "recovery", "ui", "all", "window-memory", "startup"]
if arguments.first == "startup" {
    StartupBench.run(binaries: Array(arguments.dropFirst()))
    exit(0)
}
if let unknown = arguments.first(where: { !modes.contains($0) }) {
    print("eddy-bench: unknown mode \(unknown); modes: core blocks e2e windows recovery ui all startup")
    exit(2)
}
let which = Set(arguments.isEmpty ? ["all"] : arguments)
func wants(_ name: String) -> Bool { which.contains(name) || which.contains("all") }

EddyLog.bootstrap(quiet: true)

if wants("core") { CoreBench.run() }
if wants("blocks") { BlockBench.run() }
if wants("e2e") { EndToEndBench.run() }
if wants("windows") { WindowBench.run() }
if wants("recovery") { RecoveryBench.run() }
if wants("ui") { UIBench.run() }
if which.contains("window-memory") { WindowBench.longWindow() }
