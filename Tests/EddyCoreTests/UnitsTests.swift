import Testing
@testable import EddyCore

/// The message of a failed parse, or nil when it succeeded.
private func failure<T>(_ result: Result<T, UnitError>) -> String? {
    if case .failure(let e) = result { return e.message }
    return nil
}

private func value<T>(_ result: Result<T, UnitError>) -> T? {
    if case .success(let v) = result { return v }
    return nil
}

@Suite("Units.parseDuration")
struct ParseDurationTests {
    @Test("good durations", arguments: [
        ("200ms", Int64(200)), ("0ms", 0), ("1s", 1000), ("1.5s", 1500), ("2m", 120_000),
        ("1h", 3_600_000), ("1d", 86_400_000), (" 5 s ", 5000), ("250 MS", 250),
        ("3 seconds", 3000), ("10min", 600_000), ("0.25s", 250),
    ])
    func good(text: String, ms: Int64) {
        #expect(value(Units.parseDuration(text)) == ms)
    }

    @Test func missingUnit() {
        #expect(failure(Units.parseDuration("5")) == "bad duration '5': missing unit (write '5s' or '5ms')")
    }

    @Test func unknownUnit() {
        #expect(failure(Units.parseDuration("5x")) == "bad duration '5x': unknown unit 'x' (use ms, s, m, h or d)")
        #expect(failure(Units.parseDuration("1 fortnight")) == "bad duration '1 fortnight': unknown unit 'fortnight' (use ms, s, m, h or d)")
    }

    @Test func negative() {
        #expect(failure(Units.parseDuration("-5s")) == "bad duration '-5s': must not be negative")
        #expect(failure(Units.parseDuration("-1ms")) == "bad duration '-1ms': must not be negative")
    }

    @Test func noNumber() {
        let expected = "expected a number and a unit, like '200ms', '1s', '5m'"
        #expect(failure(Units.parseDuration("")) == "bad duration '': \(expected)")
        #expect(failure(Units.parseDuration("s")) == "bad duration 's': \(expected)")
        #expect(failure(Units.parseDuration("1.2.3s")) == "bad duration '1.2.3s': \(expected)")
    }

    @Test func tooLarge() {
        #expect(failure(Units.parseDuration("20000000d")) == "bad duration '20000000d': too large")
        #expect(value(Units.parseDuration("10000d")) == 864_000_000_000)
    }

    @Test func fractionalMilliseconds() {
        #expect(failure(Units.parseDuration("1.5ms")) == "bad duration '1.5ms': must be a whole number of milliseconds")
    }

    @Test func formatRoundTrips() {
        for ms: Int64 in [0, 1, 200, 1000, 1500, 60_000, 90_000, 3_600_000, 7_200_000] {
            let text = Units.formatDuration(ms)
            #expect(value(Units.parseDuration(text)) == ms, "\(ms) formatted as \(text)")
        }
        #expect(Units.formatDuration(1500) == "1500ms")
        #expect(Units.formatDuration(120_000) == "2m")
        #expect(Units.formatDuration(86_400_000) == "1d")
        #expect(Units.formatDuration(90_000_000) == "25h")
    }
}

@Suite("Units.parseByteSize")
struct ParseByteSizeTests {
    @Test("good sizes", arguments: [
        ("4MB", Int64(4 << 20)), ("256 MB", 256 << 20), ("1GiB", 1 << 30), ("512KB", 512 << 10),
        ("100", 100), ("100B", 100), ("0", 0), ("1.5KB", 1536), ("2t", 2 << 40), ("7 bytes", 7), ("3k", 3072),
    ])
    func good(text: String, bytes: Int64) {
        #expect(value(Units.parseByteSize(text)) == bytes)
    }

    @Test func missingUnitMeansBytes() {
        #expect(value(Units.parseByteSize("1024")) == 1024)
    }

    @Test func unknownUnit() {
        #expect(failure(Units.parseByteSize("4XB")) == "bad size '4XB': unknown unit 'XB' (use B, KB, MB, GB or TB)")
    }

    @Test func negative() {
        #expect(failure(Units.parseByteSize("-1MB")) == "bad size '-1MB': must not be negative")
        #expect(failure(Units.parseByteSize("-5")) == "bad size '-5': must not be negative")
    }

    @Test func noNumber() {
        #expect(failure(Units.parseByteSize("MB")) == "bad size 'MB': expected a number and a unit, like '4MB' or '1GB'")
        #expect(failure(Units.parseByteSize("")) == "bad size '': expected a number and a unit, like '4MB' or '1GB'")
    }

    @Test func tooLarge() {
        #expect(failure(Units.parseByteSize("9000000TB")) == "bad size '9000000TB': too large")
    }

    @Test func formatRoundTrips() {
        for bytes: Int64 in [0, 1, 1023, 1024, 4 << 20, 1 << 30, 3 << 40] {
            let text = Units.formatBytes(bytes)
            #expect(value(Units.parseByteSize(text)) == bytes, "\(bytes) formatted as \(text)")
        }
        #expect(Units.formatBytes(1536) == "1.5KB")
    }
}
