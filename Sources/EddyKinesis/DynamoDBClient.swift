import EddyCore
// FoundationEssentials, not Foundation: the release binary then carries no ICU data.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Logging

/// A DynamoDB attribute value, of the kinds a lease table holds.
public enum DynamoValue: Sendable, Equatable {
    case string(String)
    /// DynamoDB sends numbers as decimal text.
    case number(String)
    case stringSet([String])
    case bool(Bool)
    case null

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var int64: Int64? { if case .number(let n) = self { return Int64(n) } else { return nil } }
    public var strings: [String]? { if case .stringSet(let s) = self { return s } else { return nil } }

    public static func integer(_ n: Int64) -> DynamoValue { .number(String(n)) }

}

/// DynamoDB's wire form of a value: an object with one member named for its
/// kind (`{"S": "…"}`, `{"N": "12"}`, …).
extension DynamoValue: Codable {
    private enum Kind: String, CodingKey { case S, N, SS, BOOL, NULL }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Kind.self)
        switch self {
        case .string(let s): try c.encode(s, forKey: .S)
        case .number(let n): try c.encode(n, forKey: .N)
        case .stringSet(let s): try c.encode(s, forKey: .SS)
        case .bool(let b): try c.encode(b, forKey: .BOOL)
        case .null: try c.encode(true, forKey: .NULL)
        }
    }

    /// Kinds eddy does not use (binary, lists, maps) fail to decode; `Item`
    /// leaves such attributes out rather than failing the read.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Kind.self)
        if let s = try c.decodeIfPresent(String.self, forKey: .S) { self = .string(s) }
        else if let n = try c.decodeIfPresent(String.self, forKey: .N) { self = .number(n) }
        else if let s = try c.decodeIfPresent([String].self, forKey: .SS) { self = .stringSet(s) }
        else if let b = try c.decodeIfPresent(Bool.self, forKey: .BOOL) { self = .bool(b) }
        else if c.contains(.NULL) { self = .null }
        else { throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "an attribute kind eddy does not use")) }
    }
}

public typealias DynamoItem = [String: DynamoValue]

/// A synchronous client for the few DynamoDB calls a lease table needs,
/// signed and sent like KinesisClient's (see AWSJSONRequest). Throttling,
/// 5xx answers and dropped connections are retried with backoff, up to
/// `maxAttempts` calls; a lost conditional write is never retried: it is the
/// answer.
public final class DynamoDBClient: Sendable {
    public let request: AWSJSONRequest
    public let maxAttempts: Int
    private let logger = Logger(label: "eddy.dynamodb")

    public init(region: String, endpoint: String?, credentials: AWSCredentials, timeoutSeconds: Int64 = 10, maxAttempts: Int = 5) {
        var url = endpoint ?? "https://dynamodb.\(region).amazonaws.com"
        while url.hasSuffix("/") { url.removeLast() }
        request = AWSJSONRequest(url: url, region: region, service: "dynamodb", targetPrefix: "DynamoDB_20120810",
                                 jsonVersion: "1.0", credentials: credentials, timeoutSeconds: timeoutSeconds)
        self.maxAttempts = max(1, maxAttempts)
    }

    public var url: String { request.url }

    /// AWS's standard variables for a different endpoint (a local server).
    public static func endpointFromEnvironment(_ env: [String: String]) -> String? {
        for key in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"] {
            if let v = env[key], !v.isEmpty { return v }
        }
        return nil
    }

    /// One call, retried while DynamoDB throttles or fails transiently.
    func call<Output: Decodable>(_ operation: String, _ input: some Encodable, answer: Output.Type) throws(DynamoDBError) -> Output {
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(input))
        } catch {
            throw .invalidRequest("cannot encode \(operation): \(error)")
        }
        var attempt = 0
        while true {
            do {
                return try once(operation, body, answer: Output.self)
            } catch where error.isRetryable && attempt + 1 < maxAttempts {
                attempt += 1
                if attempt == 1 { logger.warning("\(operation): \(error); retrying with backoff") }
                usleep(UInt32(KinesisClient.backoff(attempt: attempt - 1) * 1_000_000))
            }
        }
    }

    private func once<Output: Decodable>(_ operation: String, _ body: [UInt8], answer _: Output.Type) throws(DynamoDBError) -> Output {
        let answer: AWSJSONRequest.Answer
        do {
            answer = try request.post(operation, body)
        } catch {
            throw .transport(error.message)
        }
        if answer.status == 200 {
            do {
                return try JSONDecoder().decode(Output.self, from: Data(answer.body))
            } catch {
                throw .malformedResponse("\(operation) answered with \(answer.body.count) bytes that are not its JSON: \(KinesisClient.preview(answer.body))")
            }
        }
        if let wire = try? JSONDecoder().decode(Wire.ErrorBody.self, from: Data(answer.body)), let type = wire.type {
            throw DynamoDBError.from(type: type, message: wire.message ?? wire.messageUpper ?? "", status: answer.status)
        }
        if let type = answer.errorType { throw DynamoDBError.from(type: type, message: "", status: answer.status) }
        if answer.status == 403 { throw .credentials("AWS refused the credentials (HTTP 403 to \(operation))") }
        if answer.status >= 500 { throw .server("HTTP \(answer.status) to \(operation)") }
        throw .malformedResponse("HTTP \(answer.status) to \(operation): \(KinesisClient.preview(answer.body))")
    }

    // MARK: operations

    /// The table's status (CREATING, ACTIVE, …), or nil when there is no such table.
    public func tableStatus(_ table: String) throws(DynamoDBError) -> String? {
        do throws(DynamoDBError) {
            let out = try call("DescribeTable", Wire.TableName(tableName: table), answer: Wire.DescribeTableOutput.self)
            guard let status = out.table?.tableStatus else {
                throw DynamoDBError.malformedResponse("DescribeTable of \(table) answered without Table.TableStatus")
            }
            return status
        } catch {
            guard case .notFound = error else { throw error }
            return nil
        }
    }

    /// Creates a table keyed by one string attribute, billed on demand.
    /// One that exists already (another worker made it first) is fine.
    public func createTable(_ table: String, hashKey: String) throws(DynamoDBError) {
        do throws(DynamoDBError) {
            _ = try call("CreateTable", Wire.CreateTableInput(table: table, hashKey: hashKey), answer: Wire.Ignored.self)
        } catch {
            guard case .resourceInUse = error else { throw error }
        }
    }

    /// Creates the table when it is missing and waits until it is ACTIVE.
    public func ensureTable(_ table: String, hashKey: String, timeoutMs: Int64 = 120_000) throws(DynamoDBError) {
        let deadline = MonotonicTime.now() / 1_000_000 + timeoutMs
        var status = try tableStatus(table)
        if status == nil {
            logger.info("creating lease table \(table) (on-demand billing)")
            try createTable(table, hashKey: hashKey)
            status = try tableStatus(table)
        }
        while status != "ACTIVE" {
            guard MonotonicTime.now() / 1_000_000 < deadline else {
                throw .server("table \(table) is still \(status ?? "missing") after \(timeoutMs / 1000) s")
            }
            usleep(500_000)
            status = try tableStatus(table)
        }
    }

    /// A strongly consistent read of one item.
    public func getItem(_ table: String, key: DynamoItem) throws(DynamoDBError) -> DynamoItem? {
        try call("GetItem", Wire.GetItemInput(tableName: table, key: key), answer: Wire.GetItemOutput.self).item?.attributes
    }

    /// A condition or update expression with its `#name` and `:value` placeholders.
    public struct Expression: Sendable {
        public var text: String
        public var names: [String: String]
        public var values: DynamoItem
        public init(_ text: String, names: [String: String] = [:], values: DynamoItem = [:]) {
            self.text = text
            self.names = names
            self.values = values
        }
    }

    /// Writes the item if `condition` holds (throws `.conditionFailed` if not).
    public func putItem(_ table: String, item: DynamoItem, condition: Expression? = nil) throws(DynamoDBError) {
        var input = Wire.WriteInput(tableName: table)
        input.item = item
        input.conditionExpression = condition?.text
        input.add(condition.map { [$0] } ?? [])
        _ = try call("PutItem", input, answer: Wire.Ignored.self)
    }

    /// Applies `update` if `condition` holds (throws `.conditionFailed` if not).
    public func updateItem(_ table: String, key: DynamoItem, update: Expression, condition: Expression? = nil) throws(DynamoDBError) {
        var input = Wire.WriteInput(tableName: table)
        input.key = key
        input.updateExpression = update.text
        input.conditionExpression = condition?.text
        input.add([update] + (condition.map { [$0] } ?? []))
        _ = try call("UpdateItem", input, answer: Wire.Ignored.self)
    }

    /// Every item, following LastEvaluatedKey pages, read consistently.
    public func scan(_ table: String) throws(DynamoDBError) -> [DynamoItem] {
        var items: [DynamoItem] = []
        var start: DynamoItem?
        repeat {
            let out = try call("Scan", Wire.ScanInput(tableName: table, exclusiveStartKey: start), answer: Wire.ScanOutput.self)
            items += (out.items ?? []).map(\.attributes)
            start = out.lastEvaluatedKey?.attributes
        } while start != nil
        return items
    }

    public func deleteTable(_ table: String) throws(DynamoDBError) {
        _ = try call("DeleteTable", Wire.TableName(tableName: table), answer: Wire.Ignored.self)
    }
}
