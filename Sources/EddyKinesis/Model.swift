// FoundationEssentials, not Foundation: the release binary then carries no ICU data.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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

public struct ListShardsOutput: Decodable, Sendable {
    public var shards: [Shard]
    public var nextToken: String?
}

struct GetShardIteratorInput: Encodable {
    var streamName: String
    var shardId: String
    var shardIteratorType: String
    var startingSequenceNumber: String?
    var timestamp: Double?
}

public struct GetShardIteratorOutput: Decodable, Sendable {
    public var shardIterator: String
}

public struct KinesisRecord: Codable, Sendable {
    public var sequenceNumber: String
    public var approximateArrivalTimestamp: Double?
    public var data: Data
    public var partitionKey: String

    /// A record whose sequence number is not one would be logged as a
    /// position that reads back as another (`1:2` and `:0` make `1:2:0`), and
    /// a restart would resume from the wrong place: the answer is refused.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sequenceNumber = try c.decode(String.self, forKey: .sequenceNumber)
        guard SequenceNumber.isValid(sequenceNumber) else {
            throw DecodingError.dataCorruptedError(forKey: .sequenceNumber, in: c,
                debugDescription: "SequenceNumber '\(sequenceNumber.prefix(140))' is not a decimal number")
        }
        approximateArrivalTimestamp = try c.decodeIfPresent(Double.self, forKey: .approximateArrivalTimestamp)
        data = try c.decode(Data.self, forKey: .data)
        partitionKey = try c.decode(String.self, forKey: .partitionKey)
    }

    /// When the record reached Kinesis, in milliseconds since the epoch
    /// (`_arrival_ms`), or `now` when the answer does not say or says
    /// something no clock reads (negative, past the year 275,000, not finite).
    public func arrivalMs(now: Int64) -> Int64 {
        guard let seconds = approximateArrivalTimestamp else { return now }
        let ms = (seconds * 1000).rounded(.down)
        guard ms.isFinite, ms >= 0, ms < 9_007_199_254_740_992 else { return now }
        return Int64(ms)
    }
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
