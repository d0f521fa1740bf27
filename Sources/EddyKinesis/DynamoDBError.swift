import EddyCore

/// What went wrong talking to DynamoDB, sorted by what to do about it: a
/// conditional write that lost (someone else changed the item), a wait and
/// retry, or a stop with a message. Messages never hold secrets.
public enum DynamoDBError: Error, Sendable, Equatable, CustomStringConvertible {
    /// ConditionalCheckFailedException: the item is not as the write expected.
    case conditionFailed(String)
    /// ProvisionedThroughputExceeded, Throttling, RequestLimitExceeded: back off and retry.
    case throttled(String)
    /// No such table.
    case notFound(String)
    /// CreateTable of a table that exists (or is being created).
    case resourceInUse(String)
    /// The credentials were refused, or there are none.
    case credentials(String)
    /// A request DynamoDB says is wrong.
    case invalidRequest(String)
    /// A 5xx or an internal failure: retry.
    case server(String)
    /// The connection failed or timed out: retry.
    case transport(String)
    /// The answer was not what the DynamoDB API returns.
    case malformedResponse(String)

    public var isRetryable: Bool {
        switch self {
        case .throttled, .server, .transport: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .conditionFailed(let m): return "conditional write lost: \(m)"
        case .throttled(let m): return "DynamoDB throttled the request: \(m)"
        case .notFound(let m): return m
        case .resourceInUse(let m): return m
        case .credentials(let m): return m
        case .invalidRequest(let m): return "DynamoDB refused the request: \(m)"
        case .server(let m): return "DynamoDB failed: \(m)"
        case .transport(let m): return "cannot reach DynamoDB: \(m)"
        case .malformedResponse(let m): return "unexpected answer from DynamoDB: \(m)"
        }
    }

    /// From an error response's `__type` (the part after `#`) and message.
    static func from(type rawType: String, message: String, status: Int) -> DynamoDBError {
        var type = Substring(rawType)
        if let hash = type.lastIndex(of: "#") { type = type[type.index(after: hash)...] }
        if let colon = type.firstIndex(of: ":") { type = type[..<colon] }
        let text = message.isEmpty ? String(type) : "\(type): \(message)"
        switch type {
        case "ConditionalCheckFailedException": return .conditionFailed(text)
        case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
             "LimitExceededException", "TooManyRequestsException":
            return .throttled(text)
        case "ResourceNotFoundException": return .notFound(text)
        case "ResourceInUseException": return .resourceInUse(text)
        case "UnrecognizedClientException", "InvalidSignatureException", "MissingAuthenticationTokenException",
             "ExpiredTokenException", "AccessDeniedException", "IncompleteSignatureException", "InvalidClientTokenId",
             "SignatureDoesNotMatch":
            return .credentials("AWS refused the credentials (\(text))")
        case "InternalServerError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException":
            return .server(text)
        default:
            return status >= 500 ? .server(text) : .invalidRequest(text)
        }
    }
}

extension DynamoDBError: EddyError {
    public var exitStatus: ExitStatus { .runtime }
}
