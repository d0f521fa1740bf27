import EddyKinesis
import Foundation
import Testing

/// Inputs the kinesis-json and kpl fuzz targets (Fuzz/, scripts/fuzz.sh)
/// found, kept in Tests/Fixtures/fuzz-regressions as the fuzzer wrote them:
/// byte 0 picks the operation, byte 1 an HTTP status, the rest is the answer.
@Suite("Kinesis fuzz regressions")
struct KinesisFuzzRegressionTests {
    static func answer(_ name: String) throws -> [UInt8] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let bytes = try [UInt8](Data(contentsOf: root.appendingPathComponent("Fixtures/fuzz-regressions/kinesis-json/\(name)")))
        return Array(bytes.dropFirst(2))
    }

    /// `ApproximateArrivalTimestamp: 1.2e60` trapped converting to Int64 in
    /// the shard reader: the arrival time is now the reader's clock.
    @Test func anArrivalTimeNoClockReadsIsTheReadersClock() throws {
        let answer = try KinesisClient.decode("GetRecords", Self.answer("arrival-timestamp-past-int64"), as: GetRecordsOutput.self)
        let record = try #require(answer.records.first)
        #expect((record.approximateArrivalTimestamp ?? 0) > 1e50)
        #expect(record.arrivalMs(now: 1234) == 1234)
    }

    @Test func arrivalTimesInRangeAreKept() throws {
        let json = #"{"Records":[{"SequenceNumber":"1","ApproximateArrivalTimestamp":1763800000.1239,"Data":"","PartitionKey":"p"}]}"#
        let answer = try KinesisClient.decode("GetRecords", Array(json.utf8), as: GetRecordsOutput.self)
        #expect(answer.records.map { $0.arrivalMs(now: 0) } == [1_763_800_000_123])
        for bad in ["-1", "1e300", "-1e300"] {
            let json = #"{"Records":[{"SequenceNumber":"1","ApproximateArrivalTimestamp":\#(bad),"Data":"","PartitionKey":"p"}]}"#
            let answer = try KinesisClient.decode("GetRecords", Array(json.utf8), as: GetRecordsOutput.self)
            #expect(answer.records.map { $0.arrivalMs(now: 7) } == [7], "timestamp \(bad)")
        }
    }

    /// A sequence number like `SINCE` or `4959…889:` was taken, and logged as
    /// a position that reads back as another one (`SINCE:0` is "nothing
    /// taken yet since 1970"): a restart resumed from the wrong place.
    @Test(arguments: ["sequence-number-SINCE", "sequence-number-trailing-colon"])
    func aSequenceNumberThatIsNotANumberIsAMalformedAnswer(_ name: String) throws {
        let bytes = try Self.answer(name)
        do {
            let answer = try KinesisClient.decode("GetRecords", bytes, as: GetRecordsOutput.self)
            Issue.record("accepted sequence numbers \(answer.records.map(\.sequenceNumber))")
        } catch {
            guard case .malformedResponse(let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("is not a decimal number"))
        }
    }

    @Test func positionsOfValidSequenceNumbersReadBack() {
        for seq in ["0", "49590338271490256608559692538361571095921575989136588898", String(repeating: "9", count: 129)] {
            let position = ShardPosition.record(sequence: seq, subSequence: 4)
            #expect(ShardPosition(position.description) == position)
        }
        #expect(!SequenceNumber.isValid("") && !SequenceNumber.isValid("1:2") && !SequenceNumber.isValid("٣")
                && !SequenceNumber.isValid(String(repeating: "1", count: 130)))
    }
}
