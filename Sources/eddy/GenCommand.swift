import ArgumentParser
import EddyCore
import EddyEngine
import EddyIngest

struct GenCommand: ParsableCommand, EddySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "gen",
        abstract: "Load generator: lines of random words on stdout, or served to every client of --listen.")

    @Option(help: "Lines per second (0 = as fast as possible).")
    var rate: Int64 = 1000

    @Option(help: "Words per line.")
    var words: Int = 8

    @Option(help: "Vocabulary size.")
    var vocab: Int = 1000

    @Option(help: "Random seed; the same seed gives the same lines.")
    var seed: UInt64 = 0

    @Option(help: "Stop after N lines.")
    var count: Int64?

    @Option(help: ArgumentHelp("Serve lines to every client that connects to HOST:PORT.", valueName: "HOST:PORT"))
    var listen: String?

    func execute() -> ExitStatus {
        EddyLog.bootstrap(quiet: false)
        guard rate >= 0 else { return report(UsageError("--rate must be >= 0")) }
        guard words >= 1 else { return report(UsageError("--words must be at least 1")) }
        guard vocab >= 1 else { return report(UsageError("--vocab must be at least 1")) }
        let generator = LoadGenerator(rate: rate, words: words, vocab: vocab, seed: seed, count: count)
        if let listen {
            switch HostPort.parse(listen) {
            case .failure(let e): return report(UsageError("--listen \(listen): \(e.message)"))
            case .success(let address):
                do {
                    try generator.serve(on: address, stop: Signals.stop)
                } catch {
                    return report(error)
                }
            }
        } else {
            _ = generator.toStdout(stop: Signals.stop)
        }
        return .ok
    }
}

struct StatusCommand: ParsableCommand, EddySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what a checkpoint holds: last batch, offsets per shard, state sizes.")

    @Option(help: ArgumentHelp("The checkpoint directory.", valueName: "DIR"))
    var checkpoint: String

    func execute() -> ExitStatus {
        do {
            print(try CheckpointStatus.describe(directory: checkpoint), terminator: "")
            return .ok
        } catch {
            return report(error)
        }
    }
}
