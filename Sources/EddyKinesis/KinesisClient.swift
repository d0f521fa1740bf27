import AsyncHTTPClient
import EddyCore
import Glibc
// FoundationEssentials, not Foundation: the release binary then carries no ICU data.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import NIOCore
import NIOHTTP1

/// Where a stream lives: a region, and the endpoint to talk to (AWS's own,
/// or a local Kinesis-compatible server).
public struct KinesisEndpoint: Sendable, Equatable {
    public var region: String
    /// `scheme://host[:port]`.
    public var url: String

    public init(region: String, endpoint: String?) {
        self.region = region
        var url = endpoint ?? "https://kinesis.\(region).amazonaws.com"
        while url.hasSuffix("/") { url.removeLast() }
        self.url = url
    }

    /// AWS's standard variables for a different endpoint (a local server).
    public static func fromEnvironment(_ env: [String: String]) -> String? {
        for key in ["AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL"] {
            if let v = env[key], !v.isEmpty { return v }
        }
        return nil
    }

    /// The Host header as sent (and signed): with its port when one is given.
    var host: String { AWSJSONRequest.host(of: url) }
}

/// A synchronous client for Kinesis's JSON API, for receiver threads and
/// sinks. Requests are signed with SigV4 and sent over AsyncHTTPClient's
/// shared client; every call blocks until it is answered or times out.
public final class KinesisClient: Sendable {
    public let endpoint: KinesisEndpoint
    public let credentials: AWSCredentials
    public let timeoutSeconds: Int64

    public init(endpoint: KinesisEndpoint, credentials: AWSCredentials, timeoutSeconds: Int64 = 30) {
        self.endpoint = endpoint
        self.credentials = credentials
        self.timeoutSeconds = timeoutSeconds
    }

    /// One API call. Errors come back classified (see KinesisError).
    func call<Input: Encodable, Output: Decodable>(_ operation: String, _ input: Input,
                                                   as output: Output.Type) throws(KinesisError) -> Output {
        let body: [UInt8]
        do {
            body = Array(try KinesisCoding.encoder.encode(input))
        } catch {
            throw .invalidRequest("cannot encode \(operation): \(error)")
        }
        return try Self.decode(operation, try send(operation, body), as: Output.self)
    }

    /// A 200 answer's body as `operation`'s output.
    public static func decode<Output: Decodable>(_ operation: String, _ bytes: [UInt8],
                                                 as output: Output.Type) throws(KinesisError) -> Output {
        do {
            return try KinesisCoding.decoder().decode(Output.self, from: Data(bytes))
        } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
            // Valid JSON with a value eddy refuses: say which.
            throw .malformedResponse("\(operation) answered with \(context.debugDescription): \(preview(bytes))")
        } catch {
            throw .malformedResponse("\(operation) answered with \(bytes.count) bytes that are not its JSON: \(preview(bytes))")
        }
    }

    /// Sends a signed request and returns the body of a 200 answer.
    func send(_ operation: String, _ body: [UInt8]) throws(KinesisError) -> [UInt8] {
        let request = AWSJSONRequest(url: endpoint.url, region: endpoint.region, service: "kinesis",
                                     targetPrefix: "Kinesis_20131202", jsonVersion: "1.1",
                                     credentials: credentials, timeoutSeconds: timeoutSeconds)
        let answer: AWSJSONRequest.Answer
        do {
            answer = try request.post(operation, body)
        } catch {
            throw .transport(error.message)
        }
        if answer.status == 200 { return answer.body }
        throw Self.failure(operation, status: answer.status, body: answer.body, errorType: answer.errorType)
    }

    /// What an answer other than 200 means: the error its JSON body or its
    /// `x-amzn-ErrorType` header names, else what its status says.
    public static func failure(_ operation: String, status: Int, body bytes: [UInt8], errorType: String?) -> KinesisError {
        if let e = try? JSONDecoder().decode(ErrorBody.self, from: Data(bytes)), let type = e.type {
            return KinesisError.from(type: type, message: e.message ?? e.messageUpper ?? "", status: status)
        }
        if let type = errorType {
            return KinesisError.from(type: type, message: "", status: status)
        }
        if status == 403 { return .credentials("AWS refused the credentials (HTTP 403 to \(operation))") }
        if status >= 500 { return .server("HTTP \(status) to \(operation)") }
        return .malformedResponse("HTTP \(status) to \(operation): \(preview(bytes))")
    }

    static func preview(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(160), as: UTF8.self)
        return "'" + text.replacing("\n", with: " ") + (bytes.count > 160 ? "…'" : "'")
    }

    // MARK: operations

    /// Every shard of the stream, following NextToken pages (sent alone, as
    /// AWS requires).
    public func listShards(stream: String) throws(KinesisError) -> [Shard] {
        var shards: [Shard] = []
        var token: String?
        repeat {
            let input = token == nil ? ListShardsInput(streamName: stream, nextToken: nil, maxResults: 1000)
                                      : ListShardsInput(streamName: nil, nextToken: token, maxResults: 1000)
            let page = try call("ListShards", input, as: ListShardsOutput.self)
            shards += page.shards
            token = page.nextToken
        } while token != nil
        return shards
    }

    public enum IteratorStart: Sendable, Equatable {
        case trimHorizon
        case latest
        case atTimestamp(Double)
        case atSequence(String)
        case afterSequence(String)
    }

    public func shardIterator(stream: String, shard: String, from start: IteratorStart) throws(KinesisError) -> String {
        var input = GetShardIteratorInput(streamName: stream, shardId: shard, shardIteratorType: "TRIM_HORIZON")
        switch start {
        case .trimHorizon: break
        case .latest: input.shardIteratorType = "LATEST"
        case .atTimestamp(let t):
            input.shardIteratorType = "AT_TIMESTAMP"
            input.timestamp = t
        case .atSequence(let s):
            input.shardIteratorType = "AT_SEQUENCE_NUMBER"
            input.startingSequenceNumber = s
        case .afterSequence(let s):
            input.shardIteratorType = "AFTER_SEQUENCE_NUMBER"
            input.startingSequenceNumber = s
        }
        return try call("GetShardIterator", input, as: GetShardIteratorOutput.self).shardIterator
    }

    public func getRecords(iterator: String, limit: Int) throws(KinesisError) -> GetRecordsOutput {
        try call("GetRecords", GetRecordsInput(shardIterator: iterator, limit: limit), as: GetRecordsOutput.self)
    }

    public func putRecords(stream: String, records: [PutRecordsEntry]) throws(KinesisError) -> PutRecordsOutput {
        let out = try call("PutRecords", PutRecordsInput(streamName: stream, records: records), as: PutRecordsOutput.self)
        guard out.records.count == records.count else {
            throw .malformedResponse("PutRecords answered for \(out.records.count) of \(records.count) records")
        }
        return out
    }

    public func splitShard(stream: String, shard: String, newStartingHashKey: String) throws(KinesisError) {
        _ = try send("SplitShard", Self.json(["StreamName": stream, "ShardToSplit": shard, "NewStartingHashKey": newStartingHashKey]))
    }

    public func mergeShards(stream: String, shard: String, adjacent: String) throws(KinesisError) {
        _ = try send("MergeShards", Self.json(["StreamName": stream, "ShardToMerge": shard, "AdjacentShardToMerge": adjacent]))
    }

    public func deleteStream(_ name: String) throws(KinesisError) {
        _ = try send("DeleteStream", Self.json(["StreamName": name]))
    }

    static func json(_ fields: [String: String]) -> [UInt8] {
        Array((try? JSONEncoder().encode(fields)) ?? Data("{}".utf8))
    }

    public func createStream(_ name: String, shards: Int) throws(KinesisError) {
        _ = try send("CreateStream", Array((try? KinesisCoding.encoder.encode(CreateStreamInput(streamName: name, shardCount: shards))) ?? Data()))
    }

    /// Seconds to wait before retry `attempt` (0-based): the cap doubles from
    /// 100 ms up to 5 s, and the wait is random between half the cap and the
    /// cap ("equal jitter"), so throttled shards do not retry in step.
    public static func backoff(attempt: Int) -> Double {
        let cap = min(5.0, 0.1 * pow(2.0, Double(min(attempt, 10))))
        return Double.random(in: cap / 2...cap)
    }
}
