import Foundation

/// The parts of the Kinesis JSON API (2013-12-02) eddy uses. Field names are
/// the API's; the coders map them from and to Swift's lower camel case.
public struct Shard: Codable, Sendable, Equatable {
    public struct HashKeyRange: Codable, Sendable, Equatable {
        public var startingHashKey: String
        public var endingHashKey: String
    }
    public struct SequenceNumberRange: Codable, Sendable, Equatable {
        public var startingSequenceNumber: String
        public var endingSequenceNumber: String?
    }
    public var shardId: String
    public var parentShardId: String?
    public var adjacentParentShardId: String?
    public var hashKeyRange: HashKeyRange?
    public var sequenceNumberRange: SequenceNumberRange?

    public var parents: [String] { [parentShardId, adjacentParentShardId].compactMap { $0 } }
}

struct ListShardsInput: Encodable {
    var streamName: String?
    var nextToken: String?
    var maxResults: Int?
}

struct ListShardsOutput: Decodable {
    var shards: [Shard]
    var nextToken: String?
}

struct GetShardIteratorInput: Encodable {
    var streamName: String
    var shardId: String
    var shardIteratorType: String
    var startingSequenceNumber: String?
    var timestamp: Double?
}

struct GetShardIteratorOutput: Decodable {
    var shardIterator: String
}

public struct KinesisRecord: Codable, Sendable {
    public var sequenceNumber: String
    public var approximateArrivalTimestamp: Double?
    public var data: Data
    public var partitionKey: String
}

public struct ChildShard: Codable, Sendable {
    public var shardId: String
    public var parentShards: [String]
}

struct GetRecordsInput: Encodable {
    var shardIterator: String
    var limit: Int?
}

public struct GetRecordsOutput: Decodable, Sendable {
    public var records: [KinesisRecord]
    public var nextShardIterator: String?
    public var millisBehindLatest: Int64?
    public var childShards: [ChildShard]?
}

public struct PutRecordsEntry: Codable, Sendable {
    public var data: Data
    public var partitionKey: String
    public var explicitHashKey: String?

    public init(data: Data, partitionKey: String, explicitHashKey: String? = nil) {
        self.data = data
        self.partitionKey = partitionKey
        self.explicitHashKey = explicitHashKey
    }
}

struct PutRecordsInput: Encodable {
    var streamName: String
    var records: [PutRecordsEntry]
}

public struct PutRecordsResult: Decodable, Sendable {
    public var sequenceNumber: String?
    public var shardId: String?
    public var errorCode: String?
    public var errorMessage: String?
}

public struct PutRecordsOutput: Decodable, Sendable {
    public var failedRecordCount: Int?
    public var records: [PutRecordsResult]
}

struct StreamNameInput: Encodable {
    var streamName: String
}

struct CreateStreamInput: Encodable {
    var streamName: String
    var shardCount: Int
}

struct ErrorBody: Decodable {
    var type: String?
    var message: String?
    var messageUpper: String?

    enum CodingKeys: String, CodingKey {
        case type = "__type"
        case message
        case messageUpper = "Message"
    }
}

/// The API's PascalCase field names ⇄ Swift's camelCase.
enum KinesisCoding {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .custom { path in
            let key = path.last?.stringValue ?? ""
            return AnyKey(key.prefix(1).uppercased() + key.dropFirst())
        }
        return e
    }()

    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .custom { path in
            let key = path.last?.stringValue ?? ""
            if key.hasPrefix("__") { return AnyKey(key) }
            return AnyKey(key.prefix(1).lowercased() + key.dropFirst())
        }
        return d
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }
}
