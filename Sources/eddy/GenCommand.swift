import ArgumentParser
import EddyCore
import EddyEngine
import EddyIngest
import EddyKinesis

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

    @Option(help: ArgumentHelp("Put the lines into this Kinesis stream (credentials from the usual AWS places).", valueName: "STREAM"))
    var kinesis: String?

    @Option(help: ArgumentHelp("Kinesis endpoint, e.g. http://127.0.0.1:4567 for a local server.", valueName: "URL"))
    var endpoint: String?

    @Option(help: "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or us-east-1).")
    var region: String?

    func execute() -> ExitStatus {
        EddyLog.bootstrap(quiet: false)
        guard rate >= 0 else { return report(UsageError("--rate must be >= 0")) }
        guard words >= 1 else { return report(UsageError("--words must be at least 1")) }
        guard vocab >= 1 else { return report(UsageError("--vocab must be at least 1")) }
        let generator = LoadGenerator(rate: rate, words: words, vocab: vocab, seed: seed, count: count)
        if endpoint != nil && kinesis == nil { return report(UsageError("--endpoint goes with --kinesis STREAM")) }
        if region != nil && kinesis == nil { return report(UsageError("--region goes with --kinesis STREAM")) }
        if let stream = kinesis {
            if listen != nil { return report(UsageError("--kinesis and --listen cannot be used together")) }
            var options = KinesisOptions(stream: stream)
            options.region = region
            options.endpoint = endpoint
            do {
                let client = KinesisClient(endpoint: KinesisEndpoint(region: options.resolvedRegion(), endpoint: options.resolvedEndpoint()),
                                           credentials: try AWSCredentials.resolve())
                let sent = try generator.toKinesis(client: client, stream: stream, stop: Signals.stop)
                StandardError.write("eddy: gen: put \(sent) records into kinesis stream \(stream)\n")
            } catch {
                return report(error)
            }
            return .ok
        }
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
        abstract: "Show what a checkpoint holds (last batch, offsets per shard, state sizes), or a Kinesis lease table.",
        discussion: """
            eddy status --checkpoint DIR
            eddy status --leases --kinesis-stream NAME --lease-table T
              Each lease of T: owner, counter, checkpoint, and how long ago it was
              last written; shards of NAME with no lease yet are listed too.
              AWS_REGION and AWS_ENDPOINT_URL apply as for the job.
            """)

    @Option(help: ArgumentHelp("The checkpoint directory.", valueName: "DIR"))
    var checkpoint: String?

    @Flag(help: "Show a KCL lease table (coordination = 'dynamodb').")
    var leases = false

    @Option(name: .customLong("kinesis-stream"), help: ArgumentHelp("The stream the leases are for.", valueName: "NAME"))
    var kinesisStream: String?

    @Option(name: .customLong("lease-table"), help: ArgumentHelp("The lease table.", valueName: "T"))
    var leaseTable: String?

    func execute() -> ExitStatus {
        do {
            if leases {
                guard let stream = kinesisStream, let table = leaseTable, checkpoint == nil else {
                    throw UsageError("status --leases needs --kinesis-stream NAME and --lease-table T (and no --checkpoint)")
                }
                print(try LeaseStatus.describe(stream: stream, table: table), terminator: "")
                return .ok
            }
            guard let checkpoint else { throw UsageError("status needs --checkpoint DIR, or --leases") }
            print(try CheckpointStatus.describe(directory: checkpoint), terminator: "")
            return .ok
        } catch {
            return report(error)
        }
    }
}

/// `eddy status --leases`: the stream's shards and the lease table, read with
/// the job's credentials and endpoints.
enum LeaseStatus {
    static func describe(stream: String, table: String) throws -> String {
        let env = ProcessEnvironment.all()
        let credentials = try AWSCredentials.resolve(environment: env)
        let region = env["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? env["AWS_DEFAULT_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1"
        let kinesis = KinesisClient(endpoint: KinesisEndpoint(region: region, endpoint: KinesisEndpoint.fromEnvironment(env)), credentials: credentials)
        let shards = try kinesis.listShards(stream: stream).map(\.shardId)
        let dynamo = DynamoDBClient(region: region, endpoint: DynamoDBClient.endpointFromEnvironment(env), credentials: credentials)
        guard try dynamo.tableStatus(table) != nil else {
            throw RuntimeError("no lease table '\(table)' at \(dynamo.url)")
        }
        return try LeaseTable(client: dynamo, name: table).describe(shards: shards)
    }
}
