@testable import EddyKinesis
import Foundation
import Testing

@Suite struct SigV4Tests {
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

    func signature(_ headers: [(String, String)]) -> String? {
        headers.first { $0.0 == "authorization" }?.1.components(separatedBy: "Signature=").last
    }

    /// AWS's documented key derivation example.
    @Test func signingKeyMatchesAWSExample() {
        let key = SigV4.signingKey(secret: secret, day: "20120215", region: "us-east-1", service: "iam")
        #expect(key.withUnsafeBytes { SigV4.hex(Array($0)) } == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }

    /// AWS's SigV4 test suite, get-vanilla.
    @Test func getVanilla() {
        let creds = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: secret)
        let headers = SigV4.sign(method: "GET", host: "example.amazonaws.com", path: "/", headers: [], body: [],
                                 region: "us-east-1", service: "service", credentials: creds, date: 1_440_938_160_000)
        #expect(headers.first { $0.0 == "authorization" }?.1 ==
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(headers.contains { $0 == ("x-amz-date", "20150830T123600Z") })
    }

    /// A Kinesis ListShards request (vector computed with botocore's signer).
    @Test func kinesisListShardsWithAndWithoutASessionToken() {
        let body = Array(#"{"StreamName":"eddy-test"}"#.utf8)
        let base = [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "Kinesis_20131202.ListShards"),
                    ("User-Agent", "eddy/0.1")]
        var creds = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: secret)
        let plain = SigV4.sign(method: "POST", host: "kinesis.us-east-1.amazonaws.com", path: "/", headers: base, body: body,
                               region: "us-east-1", service: "kinesis", credentials: creds, date: 1_705_314_600_000)
        #expect(signature(plain) == "b5447172b3ebc845cb2d1ee127f8783b8d307772a5f938498315f15943222946")
        #expect(plain.first { $0.0 == "authorization" }?.1.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target,") == true)
        creds.sessionToken = "FwoGZXIvYXdzEXAMPLETOKEN"
        let token = SigV4.sign(method: "POST", host: "kinesis.us-east-1.amazonaws.com", path: "/", headers: base, body: body,
                               region: "us-east-1", service: "kinesis", credentials: creds, date: 1_705_314_600_000)
        #expect(signature(token) == "9f5f507753742cc67b3d87c4397e98766d22820e33b77005030a5e46b1020d99")
    }

    @Test func endpointHostKeepsAnExplicitPort() {
        #expect(KinesisEndpoint(region: "us-east-1", endpoint: "http://127.0.0.1:4567/").host == "127.0.0.1:4567")
        #expect(KinesisEndpoint(region: "eu-west-1", endpoint: nil).url == "https://kinesis.eu-west-1.amazonaws.com")
    }
}

@Suite struct CredentialsTests {
    @Test func environmentWinsOverTheFile() throws {
        let c = try AWSCredentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "s3cret",
                                                         "AWS_SESSION_TOKEN": "tok", "AWS_PROFILE": "other"])
        #expect(c.accessKeyID == "AKIAENV" && c.sessionToken == "tok")
        #expect(!c.description.contains("s3cret") && !c.description.contains("AKIAENV"))
    }

    @Test func theSharedFileAndProfiles() throws {
        let path = NSTemporaryDirectory() + "eddy-creds-\(getpid())"
        try """
            # comment
            [default]
            aws_access_key_id = AKIADEFAULT
            aws_secret_access_key = secret-default

            [work]
            aws_access_key_id=AKIAWORK
            aws_secret_access_key=secret-work # not a comment
            aws_session_token = token-work
            """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let d = try AWSCredentials.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": path])
        #expect(d.accessKeyID == "AKIADEFAULT" && d.secretAccessKey == "secret-default" && d.sessionToken == nil)
        let w = try AWSCredentials.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": path, "AWS_PROFILE": "work"])
        #expect(w.secretAccessKey == "secret-work # not a comment" && w.sessionToken == "token-work")
        #expect(throws: KinesisError.self) { _ = try AWSCredentials.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": path, "AWS_PROFILE": "nope"]) }
        do {
            _ = try AWSCredentials.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": path + ".missing", "HOME": "/nowhere"])
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("no AWS credentials"))
        }
    }
}

@Suite struct KPLTests {
    /// The vector checked against Google's protobuf library (research notes).
    @Test func deaggregatesTheKnownVector() throws {
        let data = try #require(Data(base64Encoded: "84mawgoFYWxwaGEKBGJldGESAjQyGgcIABoDb25lGgkIARAAGgN0d28aCQgAGgV0aHJlZfhvBYeKph6Mjc8Q9tswIA0="))
        let records = KPL.deaggregate(Array(data), partitionKey: "outer")
        #expect(records.map(\.partitionKey) == ["alpha", "beta", "alpha"])
        #expect(records.map { String(decoding: $0.data, as: UTF8.self) } == ["one", "two", "three"])
        #expect(records.map(\.subSequence) == [0, 1, 2])
    }

    @Test func roundTripsAndPassesPlainOrBrokenRecordsThrough() {
        let agg = KPL.aggregate([("k1", Array("a".utf8)), ("k2", Array("bb".utf8)), ("k1", Array("ccc".utf8))])
        #expect(KPL.deaggregate(agg, partitionKey: "x").map { String(decoding: $0.data, as: UTF8.self) } == ["a", "bb", "ccc"])
        let plain = Array("just a line".utf8)
        #expect(KPL.deaggregate(plain, partitionKey: "p") == [KPL.UserRecord(partitionKey: "p", data: plain, subSequence: 0)])
        var broken = agg
        broken[6] ^= 0xFF // the MD5 no longer matches: a plain record, as the KCL does
        #expect(KPL.deaggregate(broken, partitionKey: "p").count == 1)
    }

    @Test func positionsAndSequenceNumbers() {
        #expect(ShardPosition("49590338271490256608559692538361571095921575989136588898:3") == .record(sequence: "49590338271490256608559692538361571095921575989136588898", subSequence: 3))
        #expect(ShardPosition("END") == .end)
        #expect(ShardPosition("12x:1") == nil && ShardPosition("") == nil)
        #expect(SequenceNumber.less("9", "10") && SequenceNumber.less("100", "101") && !SequenceNumber.less("2", "2"))
    }

    @Test func errorsAreClassifiedByType() {
        #expect(KinesisError.from(type: "com.amazonaws.kinesis.v20131202#ProvisionedThroughputExceededException", message: "slow down", status: 400).isRetryable)
        #expect(KinesisError.from(type: "ExpiredIteratorException", message: "", status: 400) == .expiredIterator("ExpiredIteratorException"))
        if case .credentials = KinesisError.from(type: "UnrecognizedClientException:", message: "bad", status: 400) {} else { Issue.record("credentials") }
        if case .notFound = KinesisError.from(type: "ResourceNotFoundException", message: "no stream", status: 400) {} else { Issue.record("not found") }
        #expect(KinesisError.from(type: "Weird", message: "", status: 503).isRetryable)
    }
}
