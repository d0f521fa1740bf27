import AsyncHTTPClient
import EddyCore
// FoundationEssentials, not Foundation: the release binary then carries no ICU data.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore
import NIOHTTP1

/// One signed POST to an AWS JSON-protocol API (Kinesis speaks JSON 1.1,
/// DynamoDB JSON 1.0): what the Kinesis and DynamoDB clients share, so both
/// sign, time out and read answers the same way.
public struct AWSJSONRequest: Sendable {
    /// `scheme://host[:port]`, no trailing slash.
    public var url: String
    public var region: String
    /// The SigV4 service name: `kinesis`, `dynamodb`.
    public var service: String
    /// `Kinesis_20131202`, `DynamoDB_20120810`.
    public var targetPrefix: String
    /// `1.1` or `1.0`.
    public var jsonVersion: String
    public var credentials: AWSCredentials
    public var timeoutSeconds: Int64

    /// What came back: the status, the body and AWS's error type header.
    public struct Answer: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var errorType: String?
    }

    /// A connection that failed or timed out, described for a message.
    public struct TransportFailure: Error, Sendable {
        public var message: String
    }

    /// The Host header as sent (and signed): with its port when one is given.
    public static func host(of url: String) -> String {
        var rest = Substring(url)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        return String(rest)
    }

    public func post(_ operation: String, _ body: [UInt8]) throws(TransportFailure) -> Answer {
        let headers = SigV4.sign(method: "POST", host: Self.host(of: url), path: "/",
                                 headers: [("content-type", "application/x-amz-json-\(jsonVersion)"),
                                           ("x-amz-target", "\(targetPrefix).\(operation)")],
                                 body: body, region: region, service: service,
                                 credentials: credentials, date: WallClock.nowMs())
        let response: HTTPClient.Response
        do {
            var request = try HTTPClient.Request(url: url + "/", method: .POST)
            for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
            request.body = .bytes(body)
            response = try HTTPClient.shared.execute(request: request, deadline: .now() + .seconds(timeoutSeconds)).wait()
        } catch {
            throw TransportFailure(message: "\(operation) to \(url): \(error)")
        }
        return Answer(status: Int(response.status.code), body: response.body.map { Array($0.readableBytesView) } ?? [],
                      errorType: response.headers.first(name: "x-amzn-ErrorType"))
    }
}
