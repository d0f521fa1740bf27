import Crypto
import EddyKinesis
import EddyFuzzSupport

/// KPL de-aggregation on any bytes. Byte 0, bit 0: wrap the rest as an
/// aggregate (magic, then the bytes as its protobuf, then their MD5), so the
/// protobuf reader sees the input rather than the MD5 check refusing it.
///
/// Checked: the user records, aggregated again, de-aggregate to the same
/// records; a record that is not an aggregate comes back whole.
@_cdecl("fuzz_kpl_main")
public func fuzzKPLMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzKPL(UnsafeBufferPointer(start: data, count: size)) }
}

func fuzzKPL(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
    guard input.count >= 1 else { return 0 }
    let rest = Array(input[1...])
    let record = input[0] & 1 != 0 ? [0xF3, 0x89, 0x9A, 0xC2] + rest + Array(Insecure.MD5.hash(data: rest)) : rest
    let users = KPL.deaggregate(record, partitionKey: "pk")
    for (index, user) in users.enumerated() where user.subSequence != index {
        fatalError("user record \(index) has sub-sequence \(user.subSequence)")
    }
    // Not an aggregate (or one with no user records, which has nothing to check).
    if users.isEmpty || (users.count == 1 && users[0].data == record) { return 0 }
    let again = KPL.deaggregate(KPL.aggregate(users.map { ($0.partitionKey, $0.data) }), partitionKey: "other")
    guard again == users else {
        fatalError("\(users.count) user records aggregate and de-aggregate to \(again.count) different ones")
    }
    return 0
}
