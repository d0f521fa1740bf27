// FoundationEssentials, not Foundation: the release binary then carries no ICU data.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The bodies of the DynamoDB calls DynamoDBClient makes, in the API's JSON
/// 1.0 shape. Keys are spelled out, not derived by a key strategy, because a
/// strategy would also rename the attribute names inside items.
enum Wire {
    struct TableName: Encodable {
        var tableName: String
        enum CodingKeys: String, CodingKey { case tableName = "TableName" }
    }

    struct CreateTableInput: Encodable {
        var table: String
        var hashKey: String

        private enum Keys: String, CodingKey {
            case TableName, AttributeDefinitions, KeySchema, BillingMode, AttributeName, AttributeType, KeyType
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(table, forKey: .TableName)
            var definitions = c.nestedUnkeyedContainer(forKey: .AttributeDefinitions)
            var definition = definitions.nestedContainer(keyedBy: Keys.self)
            try definition.encode(hashKey, forKey: .AttributeName)
            try definition.encode("S", forKey: .AttributeType)
            var schema = c.nestedUnkeyedContainer(forKey: .KeySchema)
            var element = schema.nestedContainer(keyedBy: Keys.self)
            try element.encode(hashKey, forKey: .AttributeName)
            try element.encode("HASH", forKey: .KeyType)
            try c.encode("PAY_PER_REQUEST", forKey: .BillingMode)
        }
    }

    struct DescribeTableOutput: Decodable {
        struct Table: Decodable {
            var tableStatus: String?
            enum CodingKeys: String, CodingKey { case tableStatus = "TableStatus" }
        }
        var table: Table?
        enum CodingKeys: String, CodingKey { case table = "Table" }
    }

    struct GetItemInput: Encodable {
        var tableName: String
        var key: DynamoItem
        var consistentRead = true
        enum CodingKeys: String, CodingKey {
            case tableName = "TableName", key = "Key", consistentRead = "ConsistentRead"
        }
    }

    struct GetItemOutput: Decodable {
        var item: Item?
        enum CodingKeys: String, CodingKey { case item = "Item" }
    }

    /// PutItem's and UpdateItem's input: the members each call leaves nil are
    /// not sent.
    struct WriteInput: Encodable {
        var tableName: String
        var item: DynamoItem?
        var key: DynamoItem?
        var updateExpression: String?
        var conditionExpression: String?
        var expressionAttributeNames: [String: String]?
        var expressionAttributeValues: DynamoItem?

        init(tableName: String) { self.tableName = tableName }

        /// The placeholders of every expression of the call, merged.
        mutating func add(_ expressions: [DynamoDBClient.Expression]) {
            var names: [String: String] = [:], values: DynamoItem = [:]
            for e in expressions {
                names.merge(e.names) { a, _ in a }
                values.merge(e.values) { a, _ in a }
            }
            expressionAttributeNames = names.isEmpty ? nil : names
            expressionAttributeValues = values.isEmpty ? nil : values
        }

        enum CodingKeys: String, CodingKey {
            case tableName = "TableName", item = "Item", key = "Key"
            case updateExpression = "UpdateExpression", conditionExpression = "ConditionExpression"
            case expressionAttributeNames = "ExpressionAttributeNames"
            case expressionAttributeValues = "ExpressionAttributeValues"
        }
    }

    struct ScanInput: Encodable {
        var tableName: String
        var exclusiveStartKey: DynamoItem?
        var consistentRead = true
        enum CodingKeys: String, CodingKey {
            case tableName = "TableName", exclusiveStartKey = "ExclusiveStartKey", consistentRead = "ConsistentRead"
        }
    }

    struct ScanOutput: Decodable {
        var items: [Item]?
        var lastEvaluatedKey: Item?
        enum CodingKeys: String, CodingKey { case items = "Items", lastEvaluatedKey = "LastEvaluatedKey" }
    }

    /// An item as read: attributes of kinds eddy does not use are left out
    /// rather than failing the read.
    struct Item: Decodable {
        var attributes: DynamoItem

        private struct Name: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { return nil }
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Name.self)
            var attributes: DynamoItem = [:]
            for name in c.allKeys {
                if let value = try? c.decode(DynamoValue.self, forKey: name) { attributes[name.stringValue] = value }
            }
            self.attributes = attributes
        }
    }

    /// The answer of a call whose body eddy does not read.
    struct Ignored: Decodable {}

    struct ErrorBody: Decodable {
        var type: String?
        var message: String?
        var messageUpper: String?
        enum CodingKeys: String, CodingKey { case type = "__type", message, messageUpper = "Message" }
    }
}
