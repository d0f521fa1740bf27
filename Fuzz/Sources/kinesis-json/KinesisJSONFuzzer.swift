import EddyKinesis
import EddyFuzzSupport

/// Kinesis answers from any bytes: byte 0 picks the operation whose answer
/// the rest is (GetRecords, ListShards, GetShardIterator, PutRecords, or an
/// error answer with the HTTP status from byte 1). A decoded answer is used
/// as the shard reader and the sink use it: arrival times, KPL records,
/// positions, child shards.
@_cdecl("fuzz_kinesis_json_main")
public func fuzzKinesisJSONMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzKinesisJSON(UnsafeBufferPointer(start: data, count: size)) }
}

func fuzzKinesisJSON(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    guard input.count >= 2 else { return 0 }
    let body = Array(input[2...])
    do {
        switch input[0] % 5 {
        case 0:
            let answer = try KinesisClient.decode("GetRecords", body, as: GetRecordsOutput.self)
            var last: ShardPosition?
            for record in answer.records {
                _ = record.arrivalMs(now: 1_763_800_000_000)
                for user in KPL.deaggregate(Array(record.data), partitionKey: record.partitionKey) {
                    let position = ShardPosition.record(sequence: record.sequenceNumber, subSequence: user.subSequence)
                    // A position is logged as text and read back after a restart.
                    if let back = ShardPosition(position.description), back != position {
                        fatalError("position \(position) reads back as \(back)")
                    }
                    if case .record(let previous, _)? = last { _ = SequenceNumber.less(previous, record.sequenceNumber) }
                    last = position
                }
            }
            for child in answer.childShards ?? [] { _ = child.parentShards.count }
            _ = answer.millisBehindLatest ?? 0
        case 1:
            let answer = try KinesisClient.decode("ListShards", body, as: ListShardsOutput.self)
            for shard in answer.shards { _ = shard.parents }
        case 2:
            _ = try KinesisClient.decode("GetShardIterator", body, as: GetShardIteratorOutput.self)
        case 3:
            let answer = try KinesisClient.decode("PutRecords", body, as: PutRecordsOutput.self)
            _ = answer.records.filter { $0.errorCode != nil }.count
        default:
            let error = KinesisClient.failure("GetRecords", status: 400 + Int(input[1]), body: body, errorType: nil)
            _ = error.isRetryable
            _ = "\(error)"
        }
    } catch {
        _ = "\(error)"
    }
    return 0
}
