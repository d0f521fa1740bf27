import EddyCore
import Foundation
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

    var json: [String: Any] {
        switch self {
        case .string(let s): return ["S": s]
        case .number(let n): return ["N": n]
        case .stringSet(let s): return ["SS": s]
        case .bool(let b): return ["BOOL": b]
        case .null: return ["NULL": true]
        }
    }

    /// nil for kinds eddy does not use (binary, lists, maps): such attributes
    /// are left out of the item rather than failing the read.
    init?(json: Any) {
        guard let object = json as? [String: Any], let entry = object.first else { return nil }
        switch entry.key {
        case "S":
            guard let s = entry.value as? String else { return nil }
            self = .string(s)
        case "N":
            guard let s = entry.value as? String else { return nil }
            self = .number(s)
        case "SS":
            guard let s = entry.value as? [String] else { return nil }
            self = .stringSet(s)
        case "BOOL":
            guard let b = entry.value as? Bool else { return nil }
            self = .bool(b)
        case "NULL": self = .null
        default: return nil
        }
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
    func call(_ operation: String, _ input: [String: Any]) throws(DynamoDBError) -> [String: Any] {
        let body: [UInt8]
        do {
            body = Array(try JSONSerialization.data(withJSONObject: input))
        } catch {
            throw .invalidRequest("cannot encode \(operation): \(error)")
        }
        var attempt = 0
        while true {
            do {
                return try once(operation, body)
            } catch where error.isRetryable && attempt + 1 < maxAttempts {
                attempt += 1
                if attempt == 1 { logger.warning("\(operation): \(error); retrying with backoff") }
                usleep(UInt32(KinesisClient.backoff(attempt: attempt - 1) * 1_000_000))
            }
        }
    }

    private func once(_ operation: String, _ body: [UInt8]) throws(DynamoDBError) -> [String: Any] {
        let answer: AWSJSONRequest.Answer
        do {
            answer = try request.post(operation, body)
        } catch {
            throw .transport(error.message)
        }
        let parsed = try? JSONSerialization.jsonObject(with: Data(answer.body))
        if answer.status == 200 {
            guard let object = parsed as? [String: Any] else {
                throw .malformedResponse("\(operation) answered with \(answer.body.count) bytes that are not its JSON: \(KinesisClient.preview(answer.body))")
            }
            return object
        }
        if let object = parsed as? [String: Any], let type = object["__type"] as? String {
            let message = (object["message"] as? String) ?? (object["Message"] as? String) ?? ""
            throw DynamoDBError.from(type: type, message: message, status: answer.status)
        }
        if let type = answer.errorType { throw DynamoDBError.from(type: type, message: "", status: answer.status) }
        if answer.status == 403 { throw .credentials("AWS refused the credentials (HTTP 403 to \(operation))") }
        if answer.status >= 500 { throw .server("HTTP \(answer.status) to \(operation)") }
        throw .malformedResponse("HTTP \(answer.status) to \(operation): \(KinesisClient.preview(answer.body))")
    }

    static func encode(_ item: DynamoItem) -> [String: Any] { item.mapValues { $0.json } }

    static func decode(_ json: Any?) -> DynamoItem? {
        guard let object = json as? [String: Any] else { return nil }
        var item: DynamoItem = [:]
        for (name, value) in object { if let v = DynamoValue(json: value) { item[name] = v } }
        return item
    }

    // MARK: operations

    /// The table's status (CREATING, ACTIVE, …), or nil when there is no such table.
    public func tableStatus(_ table: String) throws(DynamoDBError) -> String? {
        do throws(DynamoDBError) {
            let out = try call("DescribeTable", ["TableName": table])
            guard let status = (out["Table"] as? [String: Any])?["TableStatus"] as? String else {
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
            _ = try call("CreateTable", [
                "TableName": table,
                "AttributeDefinitions": [["AttributeName": hashKey, "AttributeType": "S"]],
                "KeySchema": [["AttributeName": hashKey, "KeyType": "HASH"]],
                "BillingMode": "PAY_PER_REQUEST",
            ])
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
        let out = try call("GetItem", ["TableName": table, "Key": Self.encode(key), "ConsistentRead": true])
        return Self.decode(out["Item"])
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

    private static func add(_ expressions: [Expression], to input: inout [String: Any]) {
        var names: [String: String] = [:], values: DynamoItem = [:]
        for e in expressions {
            names.merge(e.names) { a, _ in a }
            values.merge(e.values) { a, _ in a }
        }
        if !names.isEmpty { input["ExpressionAttributeNames"] = names }
        if !values.isEmpty { input["ExpressionAttributeValues"] = encode(values) }
    }

    /// Writes the item if `condition` holds (throws `.conditionFailed` if not).
    public func putItem(_ table: String, item: DynamoItem, condition: Expression? = nil) throws(DynamoDBError) {
        var input: [String: Any] = ["TableName": table, "Item": Self.encode(item)]
        if let condition {
            input["ConditionExpression"] = condition.text
            Self.add([condition], to: &input)
        }
        _ = try call("PutItem", input)
    }

    /// Applies `update` if `condition` holds (throws `.conditionFailed` if not).
    public func updateItem(_ table: String, key: DynamoItem, update: Expression, condition: Expression? = nil) throws(DynamoDBError) {
        var input: [String: Any] = ["TableName": table, "Key": Self.encode(key), "UpdateExpression": update.text]
        if let condition { input["ConditionExpression"] = condition.text }
        Self.add([update] + (condition.map { [$0] } ?? []), to: &input)
        _ = try call("UpdateItem", input)
    }

    /// Every item, following LastEvaluatedKey pages, read consistently.
    public func scan(_ table: String) throws(DynamoDBError) -> [DynamoItem] {
        var items: [DynamoItem] = []
        var start: Any?
        repeat {
            var input: [String: Any] = ["TableName": table, "ConsistentRead": true]
            if let start { input["ExclusiveStartKey"] = start }
            let out = try call("Scan", input)
            for raw in (out["Items"] as? [Any]) ?? [] {
                if let item = Self.decode(raw) { items.append(item) }
            }
            start = out["LastEvaluatedKey"]
        } while start != nil
        return items
    }

    public func deleteTable(_ table: String) throws(DynamoDBError) {
        _ = try call("DeleteTable", ["TableName": table])
    }
}
