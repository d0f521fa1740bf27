import EddyCore

/// What went wrong talking to Kinesis, sorted by what to do about it: wait
/// and retry, get a fresh iterator, or stop with a message. Messages never
/// hold secrets.
public enum KinesisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// ProvisionedThroughputExceeded, LimitExceeded, Throttling: back off and retry.
    case throttled(String)
    /// The shard iterator is older than 5 minutes: get a new one.
    case expiredIterator(String)
    /// No such stream (or shard).
    case notFound(String)
    /// The credentials were refused, or there are none.
    case credentials(String)
    /// A request Kinesis says is wrong.
    case invalidRequest(String)
    /// A 5xx or an internal failure: retry.
    case server(String)
    /// The connection failed or timed out: retry.
    case transport(String)
    /// The answer was not what the Kinesis API returns.
    case malformedResponse(String)

    public var isRetryable: Bool {
        switch self {
        case .throttled, .server, .transport: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .throttled(let m): return "Kinesis throttled the request: \(m)"
        case .expiredIterator(let m): return "shard iterator expired: \(m)"
        case .notFound(let m): return m
        case .credentials(let m): return m
        case .invalidRequest(let m): return "Kinesis refused the request: \(m)"
        case .server(let m): return "Kinesis failed: \(m)"
        case .transport(let m): return "cannot reach Kinesis: \(m)"
        case .malformedResponse(let m): return "unexpected answer from Kinesis: \(m)"
        }
    }

    /// From an error response's `__type` (prefixes up to `#` and suffixes
    /// after `:` dropped, as AWS SDKs do) and message.
    static func from(type rawType: String, message: String, status: Int) -> KinesisError {
        var type = Substring(rawType)
        if let hash = type.lastIndex(of: "#") { type = type[type.index(after: hash)...] }
        if let colon = type.firstIndex(of: ":") { type = type[..<colon] }
        let text = message.isEmpty ? String(type) : "\(type): \(message)"
        switch type {
        case "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException",
             "KMSThrottlingException", "RequestLimitExceeded", "TooManyRequestsException":
            return .throttled(text)
        case "ExpiredIteratorException": return .expiredIterator(text)
        case "ResourceNotFoundException": return .notFound(text)
        case "UnrecognizedClientException", "InvalidSignatureException", "MissingAuthenticationTokenException",
             "ExpiredTokenException", "AccessDeniedException", "IncompleteSignatureException", "InvalidClientTokenId",
             "SignatureDoesNotMatch":
            return .credentials("AWS refused the credentials (\(text))")
        case "InternalFailure", "InternalFailureException", "ServiceUnavailable", "ServiceUnavailableException":
            return .server(text)
        default:
            return status >= 500 ? .server(text) : .invalidRequest(text)
        }
    }
}

extension KinesisError: EddyError {
    public var exitStatus: ExitStatus { .runtime }
}
