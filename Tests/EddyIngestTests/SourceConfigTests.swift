@testable import EddyIngest
import Testing

private func parse(_ options: [String: String], columns declared: [ColumnSpec] = []) -> Result<SourceConfig, OptionError> {
    SourceConfig.parse(columns: declared, options: options)
}

private func config(_ options: [String: String], columns declared: [ColumnSpec] = []) -> SourceConfig? {
    if case .success(let c) = parse(options, columns: declared) { return c }
    Issue.record("expected \(options) to parse")
    return nil
}

private func optionError(_ options: [String: String], columns declared: [ColumnSpec] = []) -> OptionError? {
    if case .failure(let e) = parse(options, columns: declared) { return e }
    Issue.record("expected \(options) to fail")
    return nil
}

@Suite("SourceConfig.parse")
struct SourceConfigTests {
    @Test func missingConnector() {
        let e = optionError(["format": "csv"])
        #expect(e?.key == nil)
        #expect(e?.message == "missing option 'connector' (one of: generator, socket, listen, stdin, file, kinesis)")
    }

    @Test func unknownConnector() {
        let e = optionError(["connector": "kafka"])
        #expect(e?.key == "connector")
        #expect(e?.message == "unknown connector 'kafka' (known: generator, socket, listen, stdin, file, kinesis)")
    }

    @Test func unknownOptionsNameTheKey() {
        let cases: [(String, String)] = [("generator", "address"), ("socket", "rate"), ("listen", "path"),
                                         ("stdin", "path"), ("file", "address"), ("kinesis", "rate")]
        for (connector, key) in cases {
            let e = optionError(["connector": connector, key: "x"])
            #expect(e?.key == key, "\(connector) with \(key)")
            #expect(e?.message.hasPrefix("unknown option '\(key)' for connector '\(connector)' (known: ") == true)
        }
        #expect(optionError(["connector": "stdin", "errors_to": "x"])?.message
                == "unknown option 'errors_to' for connector 'stdin' (known: connector, errors, format, header, max_rate)")
    }

    @Test func generatorDefaults() throws {
        let c = try #require(config(["connector": "generator"]))
        #expect(c.connector == .generator(GeneratorOptions()))
        #expect(c.schema == SourceSchema(columns: [ColumnSpec(name: "line", type: "TEXT")], format: .lines, header: false))
        #expect(c.errorsPath == nil)
        #expect(c.maxRate == nil)
        let g = GeneratorOptions()
        #expect(g.rate == 1000 && g.words == 8 && g.vocab == 1000 && g.seed == 0 && g.shards == 1)
        #expect(c.connector.hasReceivers && !c.connector.isFinite)
    }

    @Test func generatorOptions() throws {
        let c = try #require(config(["connector": "Generator", "rate": "0", "words": "3", "vocab": "50", "seed": "18446744073709551615",
                                     "shards": "4", "max_rate": "10", "errors": "/tmp/bad.log"]))
        guard case .generator(let g) = c.connector else { Issue.record("not a generator"); return }
        #expect(g.rate == 0 && g.words == 3 && g.vocab == 50 && g.seed == UInt64.max && g.shards == 4)
        #expect(c.maxRate == 10)
        #expect(c.errorsPath == "/tmp/bad.log")
    }

    @Test func generatorBadValuesNameTheKey() {
        let bad: [(String, String, String)] = [
            ("rate", "-1", "rate must be a whole number from 0 up, not '-1'"),
            ("words", "0", "words must be a whole number from 1 to 10000, not '0'"),
            ("vocab", "many", "vocab must be a whole number from 1 to 10000000, not 'many'"),
            ("shards", "300", "shards must be a whole number from 1 to 256, not '300'"),
            ("seed", "-2", "seed must be a whole number >= 0, not '-2'"),
        ]
        for (key, value, message) in bad {
            let e = optionError(["connector": "generator", key: value])
            #expect(e?.key == key)
            #expect(e?.message == message)
        }
        let csv = optionError(["connector": "generator", "format": "csv"], columns: columns("a"))
        #expect(csv?.key == "format")
        #expect(csv?.message == "the generator makes lines; use format 'lines'")
    }

    @Test func socket() throws {
        let c = try #require(config(["connector": "socket", "address": "a:1,[::1]:2, :3"]))
        #expect(c.connector == .socket([HostPort(host: "a", port: 1), HostPort(host: "::1", port: 2), HostPort(host: "0.0.0.0", port: 3)], ack: nil))
        let missing = optionError(["connector": "socket"])
        #expect(missing?.key == nil)
        #expect(missing?.message == "connector 'socket' needs option 'address' (host:port, comma-separated for several)")
        let bad = optionError(["connector": "socket", "address": "a:1,nope"])
        #expect(bad?.key == "address")
        #expect(bad?.message == "bad address 'nope': expected host:port, like 'localhost:9999'")
        #expect(optionError(["connector": "socket", "address": ","])?.key == "address")
    }

    /// `ack = on` comes with `ack_timeout` (30s unless set); the timeout
    /// alone, or outside its bounds, is an error naming it.
    @Test func ackAndAckTimeout() throws {
        let a = HostPort(host: "127.0.0.1", port: 1)
        #expect(config(["connector": "socket", "address": "127.0.0.1:1", "ack": "on"])?.connector
                == .socket([a], ack: AckPolicy(timeoutMs: 30_000)))
        #expect(config(["connector": "listen", "address": "127.0.0.1:1", "ack": "on", "ack_timeout": "2s"])?.connector
                == .listen(a, maxConnections: 64, ack: AckPolicy(timeoutMs: 2000)))
        #expect(config(["connector": "socket", "address": "127.0.0.1:1", "ack": "off"])?.connector == .socket([a], ack: nil))
        let alone = optionError(["connector": "socket", "address": "127.0.0.1:1", "ack_timeout": "5s"])
        #expect(alone?.key == "ack_timeout")
        #expect(alone?.message == "ack_timeout applies with ack = on")
        let tiny = optionError(["connector": "listen", "address": ":1", "ack": "on", "ack_timeout": "10ms"])
        #expect(tiny?.key == "ack_timeout")
        #expect(tiny?.message == "ack_timeout must be from 100ms to 1d, not '10ms'")
        let bad = optionError(["connector": "listen", "address": ":1", "ack": "on", "ack_timeout": "soon"])
        #expect(bad?.key == "ack_timeout")
        #expect(bad?.message.hasPrefix("ack_timeout: bad duration 'soon'") == true)
        #expect(optionError(["connector": "stdin", "ack_timeout": "1s"])?.key == "ack_timeout")
    }

    @Test func listen() throws {
        #expect(config(["connector": "listen", "address": ":9999"])?.connector == .listen(HostPort(host: "0.0.0.0", port: 9999), maxConnections: 64, ack: nil))
        #expect(config(["connector": "listen", "address": "127.0.0.1:1", "max_connections": "2"])?.connector
                == .listen(HostPort(host: "127.0.0.1", port: 1), maxConnections: 2, ack: nil))
        #expect(optionError(["connector": "listen"])?.key == nil)
        #expect(optionError(["connector": "listen", "address": "x"])?.key == "address")
        let e = optionError(["connector": "listen", "address": ":1", "max_connections": "0"])
        #expect(e?.key == "max_connections")
        #expect(e?.message == "max_connections must be a whole number from 1 to 10000")
    }

    @Test func stdinAndFile() throws {
        let stdin = try #require(config(["connector": "stdin", "format": "tsv", "header": "on"], columns: columns("a", "b")))
        #expect(stdin.connector == .stdin)
        #expect(stdin.connector.isFinite)
        #expect(stdin.schema.header)
        #expect(stdin.schema.format == .tsv)

        let file = try #require(config(["connector": "file", "path": "/data/in", "pattern": "*.csv", "format": "csv"], columns: columns("x")))
        guard case .file(let options) = file.connector else { Issue.record("not a file source"); return }
        #expect(options.path == "/data/in")
        #expect(options.pattern == "*.csv")
        #expect(!file.connector.hasReceivers)
        let missing = optionError(["connector": "file"])
        #expect(missing?.key == nil)
        #expect(missing?.message == "connector 'file' needs option 'path' (a directory or a glob)")
        #expect(optionError(["connector": "file", "path": ""])?.key == nil)
    }

    @Test func kinesisOptions() throws {
        let c = try #require(config(["connector": "kinesis", "stream": "s", "region": "eu-west-1", "format": "jsonl",
                                     "initial_position": "trim_horizon", "poll_interval": "250ms", "max_records": "500"],
                                    columns: columns("a")))
        var expected = KinesisOptions(stream: "s")
        expected.region = "eu-west-1"
        expected.initialPosition = .trimHorizon
        expected.pollInterval = 250
        expected.maxRecords = 500
        #expect(c.connector == .kinesis(expected))
        #expect(optionError(["connector": "kinesis"])?.message == "connector 'kinesis' needs option 'stream'")
        #expect(optionError(["connector": "kinesis", "stream": "s", "initial_position": "oldest"])?.key == "initial_position")
        #expect(optionError(["connector": "kinesis", "stream": "s", "initial_position": "at_timestamp"])?.key == "initial_position")
        #expect(optionError(["connector": "kinesis", "stream": "s", "poll_interval": "10ms"])?.key == "poll_interval")
        #expect(optionError(["connector": "kinesis", "stream": "s", "endpoint": "localhost:4567"])?.key == "endpoint")
        let t = try #require(config(["connector": "kinesis", "stream": "s", "initial_position": "at_timestamp",
                                     "at_timestamp": "2026-11-22T10:00:00Z"]))
        #expect(t.connector == .kinesis({ var k = KinesisOptions(stream: "s"); k.initialPosition = .atTimestamp(1_795_341_600); return k }()))
    }

    @Test func kinesisLeaseOptions() throws {
        let base = ["connector": "kinesis", "stream": "s"]
        #expect(try #require(config(base)).connector == .kinesis(KinesisOptions(stream: "s")), "coordination is local by default")
        let c = try #require(config(base.merging(["coordination": "dynamodb", "lease_table": "orders-app", "worker_id": "box1",
                                                   "failover_time": "3s", "max_leases_per_worker": "4"]) { $1 }))
        var lease = KinesisOptions.LeaseOptions()
        lease.table = "orders-app"
        lease.workerID = "box1"
        lease.failoverTime = 3000
        lease.maxLeasesPerWorker = 4
        var expected = KinesisOptions(stream: "s")
        expected.coordination = .dynamodb(lease)
        #expect(c.connector == .kinesis(expected))
        let defaults = try #require(config(base.merging(["coordination": "DynamoDB"]) { $1 }))
        #expect(defaults.connector == .kinesis({ var k = KinesisOptions(stream: "s"); k.coordination = .dynamodb(.init()); return k }()))
        #expect(optionError(base.merging(["coordination": "zookeeper"]) { $1 })?.message
                == "coordination must be 'local' or 'dynamodb', not 'zookeeper'")
        #expect(optionError(base.merging(["lease_table": "t1t"]) { $1 })?.message == "lease_table needs coordination = 'dynamodb'")
        let d = base.merging(["coordination": "dynamodb"]) { $1 }
        #expect(optionError(d.merging(["lease_table": "a b"]) { $1 })?.key == "lease_table")
        #expect(optionError(d.merging(["lease_table": "ab"]) { $1 })?.key == "lease_table")
        #expect(optionError(d.merging(["worker_id": ""]) { $1 })?.key == "worker_id")
        #expect(optionError(d.merging(["failover_time": "500ms"]) { $1 })?.message == "failover_time must be at least 1s")
        #expect(optionError(d.merging(["failover_time": "soon"]) { $1 })?.key == "failover_time")
        #expect(optionError(d.merging(["max_leases_per_worker": "0"]) { $1 })?.key == "max_leases_per_worker")
    }

    @Test func formats() throws {
        let e = optionError(["connector": "stdin", "format": "xml"])
        #expect(e?.key == "format")
        #expect(e?.message == "unknown format 'xml' (known: lines, csv, tsv, jsonl)")
        #expect(config(["connector": "stdin", "format": "JSONL"], columns: columns("a"))?.schema.format == .jsonl)
        #expect(config(["connector": "stdin"], columns: [ColumnSpec(name: "text", type: "TEXT")])?.schema.columns.map(\.name) == ["text"],
                "lines may name its one column")
    }

    @Test func linesWithTwoColumnsIsAnError() {
        let e = optionError(["connector": "stdin"], columns: columns("a", "b"))
        #expect(e?.key == "format")
        #expect(e?.message == "format 'lines' gives one TEXT column, but 2 columns are declared")
    }

    @Test func csvWithoutColumnsIsAnError() {
        for format in ["csv", "tsv", "jsonl"] {
            let e = optionError(["connector": "stdin", "format": format])
            #expect(e?.key == "format")
            #expect(e?.message == "format '\(format)' needs declared columns, like (id INTEGER, name TEXT)")
        }
    }

    @Test func headerAndMaxRate() {
        #expect(optionError(["connector": "stdin", "header": "maybe"], columns: columns("a"))?.key == "header")
        let jsonHeader = optionError(["connector": "stdin", "format": "jsonl", "header": "on"], columns: columns("a"))
        #expect(jsonHeader?.key == "header")
        #expect(jsonHeader?.message == "header applies to csv and tsv only")
        #expect(config(["connector": "stdin", "format": "jsonl", "header": "off"], columns: columns("a"))?.schema.header == false)
        let rate = optionError(["connector": "stdin", "max_rate": "-5"])
        #expect(rate?.key == "max_rate")
        #expect(rate?.message == "max_rate must be a whole number >= 0")
    }

    @Test func schemaTableColumns() throws {
        let jsonl = SourceSchema(columns: [ColumnSpec(name: "id", type: "INTEGER")], format: .jsonl)
        #expect(jsonl.valueCount == 2)
        #expect(jsonl.tableColumns.map(\.name) == ["id", "_raw", "_shard", "_seq", "_arrival_ms"])
        let csv = SourceSchema(columns: columns("a", "b"), format: .csv)
        #expect(csv.valueCount == 2)
        #expect(csv.tableColumns.map(\.name) == ["a", "b", "_shard", "_seq", "_arrival_ms"])
    }
}
