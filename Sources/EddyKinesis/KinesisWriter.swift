import EddyCore
// FoundationEssentials, not Foundation: the release binary then carries no ICU data.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Logging

/// Writes records to a stream with PutRecords: at most 500 records and 5 MB
/// per request, and only the entries that failed (throttled, internal
/// failure) are sent again, with backoff. Used by the kinesis sink and by
/// `eddy gen --kinesis`.
public final class KinesisWriter {
    public static let maxRecords = 500
    public static let maxBytes = 5 << 20

    let client: KinesisClient
    let stream: String
    let maxAttempts: Int
    private var pending: [PutRecordsEntry] = []
    private var pendingBytes = 0
    private let logger = Logger(label: "eddy.kinesis")
    /// Entries that were sent again after a partial failure (for tests and metrics).
    public private(set) var retriedEntries = 0
    public private(set) var requests = 0

    public init(client: KinesisClient, stream: String, maxAttempts: Int = 30) {
        self.client = client
        self.stream = stream
        self.maxAttempts = maxAttempts
    }

    /// Queues a record; sends a request when one is full.
    public func add(data: [UInt8], partitionKey: String) throws(KinesisError) {
        let size = data.count + partitionKey.utf8.count
        guard size <= 1 << 20 else { throw .invalidRequest("a record of \(size) bytes is over Kinesis' 1 MB limit") }
        if pending.count == Self.maxRecords || pendingBytes + size > Self.maxBytes { try flush() }
        pending.append(PutRecordsEntry(data: Data(data), partitionKey: partitionKey))
        pendingBytes += size
    }

    /// Sends what is queued, until every entry is accepted.
    public func flush() throws(KinesisError) {
        var entries = pending
        pending = []
        pendingBytes = 0
        var attempt = 0
        var partialFailures = 0
        while !entries.isEmpty {
            let out: PutRecordsOutput
            do {
                requests += 1
                out = try client.putRecords(stream: stream, records: entries)
            } catch where error.isRetryable && attempt < maxAttempts {
                attempt += 1
                usleep(UInt32(KinesisClient.backoff(attempt: attempt - 1) * 1_000_000))
                continue
            }
            let failed = zip(entries, out.records).filter { $0.1.errorCode != nil }.map(\.0)
            if failed.isEmpty { return }
            attempt += 1
            guard attempt <= maxAttempts else {
                let code = out.records.first { $0.errorCode != nil }?.errorCode ?? "?"
                throw .throttled("\(failed.count) records still failing after \(maxAttempts) attempts (\(code))")
            }
            partialFailures += 1
            if partialFailures == 1 || partialFailures % 10 == 0 {
                logger.warning("kinesis \(stream): \(failed.count) of \(entries.count) records failed; sending those again")
            }
            retriedEntries += failed.count
            entries = failed
            usleep(UInt32(KinesisClient.backoff(attempt: attempt - 1) * 1_000_000))
        }
    }
}
