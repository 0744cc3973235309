/// An error from an S3 operation: what the service answered, or why no answer came.
///
/// One shape for every failure of this module. ``kind`` says which of a few broad cases it is —
/// the service answered with an error (``Kind/service``), the endpoint could not be reached
/// (``Kind/endpointUnreachable``), the connection broke or stalled (``Kind/connectionLost``), the
/// answer made no sense (``Kind/invalidResponse``), or the request was refused before it was sent
/// (``Kind/invalidRequest``, ``Kind/invalidConfiguration``) — so a caller can map it to an exit
/// code. A service error carries the HTTP status and S3's own error code (`NoSuchKey`,
/// `SignatureDoesNotMatch`, …) from the XML error body, with its message and request ID.
///
/// No error carries credentials, signatures or request headers.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    /// The broad case of an ``S3Error``.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case service, endpointUnreachable, connectionLost, invalidResponse, invalidRequest, invalidConfiguration
        }
        private let base: Base

        /// The service answered with an error status; ``S3Error/status`` and ``S3Error/serviceCode`` say which.
        public static let service = Kind(base: .service)
        /// No connection could be made: refused, no route, unknown host, or the connect timeout passed.
        public static let endpointUnreachable = Kind(base: .endpointUnreachable)
        /// A connection was made but broke, or went silent past the timeouts, before the answer was complete.
        public static let connectionLost = Kind(base: .connectionLost)
        /// The service's answer could not be understood: malformed XML, a missing header, a body too large.
        public static let invalidResponse = Kind(base: .invalidResponse)
        /// The request was refused before it was sent: a bad bucket name or key, too many keys, a bad header value.
        public static let invalidRequest = Kind(base: .invalidRequest)
        /// The configuration is incomplete or wrong: a missing variable, an endpoint that is no URL.
        public static let invalidConfiguration = Kind(base: .invalidConfiguration)

        /// The case's name, e.g. `endpointUnreachable`.
        public var description: String { base.rawValue }
    }

    /// The broad case.
    public var kind: Kind
    /// The HTTP status of the service's answer, for ``Kind/service`` (and some ``Kind/invalidResponse``) errors.
    public var status: Int?
    /// S3's error code from the error body (`NoSuchKey`, `SlowDown`, …); for answers without a body
    /// (HEAD) one derived from the status (`NotFound`, `Forbidden`, `PreconditionFailed`).
    public var serviceCode: S3ErrorCode?
    /// A human-readable account: the service's message, or what went wrong on this side.
    public var message: String
    /// The service's request ID, when it sent one (`x-amz-request-id` or `RequestId`).
    public var requestID: String?
    /// What the request was for, `bucket` or `bucket/key`, when there was one.
    public var resource: String?
    /// How many times the request was sent (1 when it was not retried; 0 when it never left).
    public var attempts: Int
    /// The transport error underneath a ``Kind/endpointUnreachable`` or ``Kind/connectionLost`` error.
    public var underlying: (any Error)?

    /// Creates an error; the module makes these, callers usually only read them.
    ///
    /// - Parameters:
    ///   - kind: the broad case.
    ///   - message: what went wrong.
    ///   - status: the HTTP status, if an answer came.
    ///   - serviceCode: S3's error code, if an answer came.
    ///   - requestID: the service's request ID.
    ///   - resource: `bucket` or `bucket/key`.
    ///   - attempts: how many times the request was sent.
    ///   - underlying: the transport error underneath.
    public init(
        _ kind: Kind, message: String, status: Int? = nil, serviceCode: S3ErrorCode? = nil, requestID: String? = nil,
        resource: String? = nil, attempts: Int = 0, underlying: (any Error)? = nil
    ) {
        self.kind = kind
        self.message = message
        self.status = status
        self.serviceCode = serviceCode
        self.requestID = requestID
        self.resource = resource
        self.attempts = attempts
        self.underlying = underlying
    }

    /// Whether no answer came from the service: ``Kind/endpointUnreachable`` or ``Kind/connectionLost``.
    public var isTransportFailure: Bool { kind == .endpointUnreachable || kind == .connectionLost }

    /// Whether the service said the bucket or key does not exist (`NoSuchKey`, `NoSuchBucket`, or a 404).
    public var isNotFound: Bool {
        kind == .service && (status == 404 || serviceCode == .noSuchKey || serviceCode == .noSuchBucket)
    }

    /// One line: the kind, the status and code, the message, the resource and request ID.
    public var description: String {
        var text = "S3 \(kind)"
        if let status { text += " \(status)" }
        if let serviceCode { text += " \(serviceCode.rawValue)" }
        text += ": \(message)"
        if let resource { text += " (\(resource))" }
        if attempts > 1 { text += " after \(attempts) attempts" }
        if let requestID { text += " [request \(requestID)]" }
        if let underlying { text += " — \(underlying)" }
        return text
    }
}

/// S3's error code from an error answer's XML body, such as `NoSuchKey`.
///
/// A string, since services add codes of their own; the common ones have names here.
public struct S3ErrorCode: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The code as the service wrote it.
    public var rawValue: String

    /// Wraps a code.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Wraps a code written as a literal.
    public init(stringLiteral value: String) { self.rawValue = value }
    /// The code itself.
    public var description: String { rawValue }

    /// The key does not exist.
    public static let noSuchKey: S3ErrorCode = "NoSuchKey"
    /// The bucket does not exist.
    public static let noSuchBucket: S3ErrorCode = "NoSuchBucket"
    /// The multipart upload does not exist (aborted or completed).
    public static let noSuchUpload: S3ErrorCode = "NoSuchUpload"
    /// The signature did not match the one the service computed: usually a wrong secret key.
    public static let signatureDoesNotMatch: S3ErrorCode = "SignatureDoesNotMatch"
    /// The access key ID is unknown to the service.
    public static let invalidAccessKeyID: S3ErrorCode = "InvalidAccessKeyId"
    /// The access is denied.
    public static let accessDenied: S3ErrorCode = "AccessDenied"
    /// The body's MD5 did not match `Content-MD5`.
    public static let badDigest: S3ErrorCode = "BadDigest"
    /// A condition (`If-None-Match: *`) did not hold: the key exists.
    public static let preconditionFailed: S3ErrorCode = "PreconditionFailed"
    /// The service asks to slow down.
    public static let slowDown: S3ErrorCode = "SlowDown"
    /// The service failed internally.
    public static let internalError: S3ErrorCode = "InternalError"
    /// The service is unavailable for now.
    public static let serviceUnavailable: S3ErrorCode = "ServiceUnavailable"
    /// The client was too slow sending the body.
    public static let requestTimeout: S3ErrorCode = "RequestTimeout"
    /// The bucket exists and belongs to the caller already.
    public static let bucketAlreadyOwnedByYou: S3ErrorCode = "BucketAlreadyOwnedByYou"
    /// The bucket name is taken (by another account, or by the caller on some services).
    public static let bucketAlreadyExists: S3ErrorCode = "BucketAlreadyExists"
    /// A part other than the last is smaller than the service's minimum (5 MiB on AWS).
    public static let entityTooSmall: S3ErrorCode = "EntityTooSmall"
    /// A part named in CompleteMultipartUpload was not found or its ETag differs.
    public static let invalidPart: S3ErrorCode = "InvalidPart"
    /// Derived for a bodyless 404 answer (HEAD).
    public static let notFound: S3ErrorCode = "NotFound"
    /// Derived for a bodyless 403 answer (HEAD).
    public static let forbidden: S3ErrorCode = "Forbidden"
}
