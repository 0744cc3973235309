import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A client of the S3 REST API: buckets, objects, listings and multipart uploads, signed with
/// Signature Version 4, over async-http-client.
///
/// Every operation is `async` and throws ``S3Error`` (or `CancellationError`). Requests use
/// path-style URLs (`ENDPOINT/BUCKET/KEY`); every body is signed with its SHA-256, which the
/// service checks; POSTs, and PUTs whose caller gives one, also carry `Content-MD5` (a mismatch is
/// `BadDigest`). Failed attempts are sent
/// again on 5xx, throttling and dropped connections, on the ``RetrySchedule`` of the configuration;
/// an endpoint that refuses the connection fails at once as ``S3Error/Kind/endpointUnreachable``.
///
/// What it does not do: verify what it reads (the caller checks digests of what it gets back; S3's
/// ETag is an MD5 only for single-part uploads), virtual-host addressing, anything but S3's own
/// error bodies, or the `aws-chunked` streaming upload forms.
///
/// Use ``withClient(_:logger:isolation:_:)`` for a client that owns its connection pool and shuts
/// it down on every path, or ``init(configuration:httpClient:logger:)`` with an `HTTPClient` of
/// your own (see ``makeHTTPClient(for:)``).
public final class S3Client: Sendable {
    /// The endpoint, region, credentials and limits.
    public let configuration: S3Configuration
    /// Where retries and failures are logged, at debug level, without headers or credentials.
    public let logger: Logger
    let httpClient: HTTPClient

    /// The largest XML answer read (a listing page of 1,000 keys is a few hundred KiB).
    static let maximumXMLAnswer = 16 << 20
    /// The most of an error answer read.
    static let maximumErrorAnswer = 1 << 20

    /// A client that sends its requests through `httpClient`, which the caller shuts down.
    ///
    /// - Parameters:
    ///   - configuration: the endpoint, region, credentials and limits.
    ///   - httpClient: the connection pool; ``makeHTTPClient(for:)`` makes one with the configuration's timeouts.
    ///   - logger: where retries are logged.
    public init(
        configuration: S3Configuration, httpClient: HTTPClient,
        logger: Logger = Logger(label: "cairn.object-storage")
    ) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
    }

    /// Runs `body` with a client whose connection pool lives exactly as long, shut down on every path.
    ///
    /// - Parameters:
    ///   - configuration: the endpoint, region, credentials and limits.
    ///   - logger: where retries are logged.
    ///   - body: what to do with the client.
    @discardableResult
    public static func withClient<Result>(
        _ configuration: S3Configuration, logger: Logger = Logger(label: "cairn.object-storage"),
        isolation: isolated (any Actor)? = #isolation, _ body: (S3Client) async throws -> Result
    ) async throws -> Result {
        let httpClient = makeHTTPClient(for: configuration)
        let client = S3Client(configuration: configuration, httpClient: httpClient, logger: logger)
        let result: Result
        do {
            result = try await body(client)
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
        return result
    }

    /// An `HTTPClient` set up for S3: the configuration's connect and idle timeouts, HTTP/1.1, no
    /// redirects, and no retrying of failed connects inside the pool (the client's own schedule
    /// decides, and a refused connection fails at once). The caller shuts it down.
    ///
    /// - Parameter configuration: the timeouts to use.
    public static func makeHTTPClient(for configuration: S3Configuration) -> HTTPClient {
        var http = HTTPClient.Configuration()
        http.timeout = HTTPClient.Configuration.Timeout(
            connect: TimeAmount(configuration.connectTimeout), read: TimeAmount(configuration.idleTimeout))
        http.timeout.write = TimeAmount(configuration.idleTimeout)
        http.connectionPool.retryConnectionEstablishment = false
        http.redirectConfiguration = .disallow
        http.httpVersion = .http1Only
        http.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http)
    }
}

// MARK: - Requests, signing and retries

/// One S3 request before it is signed.
struct S3Request: Sendable {
    var method: HTTPMethod
    var bucket: String?
    var key: String?
    var query: [(name: String, value: String)] = []
    var headers: [(name: String, value: String)] = []
    var body: ByteBuffer?
    /// A `Content-MD5` value to send (the caller's digest of what it meant to send); a POST without one
    /// sends its body's own.
    var contentMD5: String?
    /// Whether a 200 answer may still carry an `<Error>` body (CompleteMultipartUpload).
    var errorMayFollowSuccess = false

    /// `bucket` or `bucket/key`, for errors.
    var resource: String? {
        guard let bucket else { return nil }
        return key.map { "\(bucket)/\($0)" } ?? bucket
    }

    /// The path after the endpoint's base path, percent-encoded.
    var path: String {
        var path = "/"
        if let bucket { path += URIEncoding.path(bucket) }
        if let key { path += "/" + URIEncoding.path(key) }
        return path
    }
}

/// A successful answer: status, headers, and the body when it was collected.
struct S3Answer {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer
}

extension S3Client {
    /// Sends a request (again, on the retry schedule) and collects the whole body of a successful answer.
    func send(_ request: S3Request, bodyLimit: Int = S3Client.maximumXMLAnswer) async throws -> S3Answer {
        try await withRetries(request) { response, attempts in
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: bodyLimit)
            } catch let error as NIOTooManyBytesError {
                throw S3Error(
                    .invalidResponse, message: "the answer is larger than \(bodyLimit) bytes",
                    status: Int(response.status.code), resource: request.resource, attempts: attempts,
                    underlying: error)
            }
            if request.errorMayFollowSuccess, let error = self.errorInSuccess(body, response, request, attempts) {
                return .failure(error)
            }
            return .success(S3Answer(status: Int(response.status.code), headers: response.headers, body: body))
        }
    }

    /// Sends a request (again, on the retry schedule, until an answer's head arrives) and returns
    /// the successful answer with its body still to be read.
    func open(_ request: S3Request) async throws -> HTTPClientResponse {
        try await withRetries(request) { response, _ in .success(response) }
    }

    /// The retry loop: sign, send, classify, sleep, again.
    ///
    /// `onSuccess` gets each 2xx answer; it may throw, or return a failure that is retried like an error answer.
    private func withRetries<Value>(
        _ request: S3Request,
        onSuccess: (HTTPClientResponse, _ attempts: Int) async throws -> Swift.Result<Value, S3Error>
    ) async throws -> Value {
        let digests = PayloadDigests(
            of: request.body ?? ByteBuffer(), withMD5: request.method == .POST && request.contentMD5 == nil)
        var schedule = RetrySchedule(configuration.retry, start: ContinuousClock.now)
        var attempts = 0
        while true {
            try Task.checkCancellation()
            attempts += 1
            let failure: (RetryableFailure, S3Error)
            do {
                let response = try await httpClient.execute(
                    prepare(request, digests: digests), timeout: TimeAmount(configuration.requestTimeout),
                    logger: logger)
                if (200..<300).contains(response.status.code) {
                    switch try await onSuccess(response, attempts) {
                    case .success(let value): return value
                    case .failure(let error):
                        guard let retryable = RetryableFailure.classify(status: 0, serviceCode: error.serviceCode)
                        else { throw error }
                        failure = (retryable, error)
                    }
                } else {
                    let error = await serviceError(response, request, attempts)
                    guard
                        let retryable = RetryableFailure.classify(
                            status: error.status ?? 0, serviceCode: error.serviceCode)
                    else { throw error }
                    failure = (retryable, error)
                }
            } catch let error as S3Error {
                throw error
            } catch let error as CancellationError {
                throw error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                let (kind, retryable) = Self.classifyTransport(error)
                let transportError = S3Error(
                    kind,
                    message: kind == .endpointUnreachable
                        ? "cannot connect to \(configuration.endpoint)"
                        : "the connection to \(configuration.endpoint) failed",
                    resource: request.resource, attempts: attempts, underlying: error)
                guard retryable else { throw transportError }
                failure = (.connectionLost, transportError)
            }
            switch schedule.next(after: failure.0, at: ContinuousClock.now, jitter: Double.random(in: 0...1)) {
            case .giveUp:
                throw failure.1
            case .retry(let instant):
                logger.debug(
                    "retrying an S3 request",
                    metadata: [
                        "method": "\(request.method.rawValue)", "resource": "\(request.resource ?? "/")",
                        "attempt": "\(attempts)", "error": "\(failure.1)",
                    ])
                try await Task.sleep(until: instant, clock: .continuous)
            }
        }
    }

    /// The request with its host, `Content-MD5` (when it has one) and signature headers, as it goes out at `time`.
    static func signed(
        _ request: S3Request, digests: PayloadDigests, configuration: S3Configuration, at time: SigningTime
    ) -> SignableRequest {
        let endpoint = configuration.endpoint
        let signer = SignatureV4(credentials: configuration.credentials, region: configuration.region)
        var signable = SignableRequest(
            method: request.method.rawValue, path: endpoint.basePath + request.path, query: request.query,
            headers: [(name: "host", value: endpoint.hostHeader)] + request.headers)
        // A PUT's body (an object, a part: most of the bytes sent) is checked by the service
        // against the signed SHA-256 alone, unless the caller knows the MD5 of what it meant to
        // send; POSTs (small XML bodies, and DeleteObjects, which requires it) carry their MD5.
        if let md5 = request.contentMD5 ?? digests.md5Base64 {
            signable.setHeader("content-md5", md5)
        }
        signer.sign(&signable, payloadHash: digests.sha256Hex, at: time)
        return signable
    }

    /// The signed `HTTPClientRequest` for one attempt (signed anew each time: the date moves on).
    private func prepare(_ request: S3Request, digests: PayloadDigests) -> HTTPClientRequest {
        let signable = Self.signed(
            request, digests: digests, configuration: configuration, at: SigningTime(secondsSince1970: Int64(time(nil)))
        )
        let query = signable.encodedQuery
        var http = HTTPClientRequest(
            url: configuration.endpoint.origin + signable.path + (query.isEmpty ? "" : "?" + query))
        http.method = request.method
        for header in signable.headers { http.headers.add(name: header.name, value: header.value) }
        http.headers.add(name: "user-agent", value: "cairn-object-storage")
        if let body = request.body {
            http.body = .bytes(body)
        } else if request.method == .PUT || request.method == .POST {
            http.body = .bytes(ByteBuffer())
        }
        return http
    }

    /// The ``S3Error`` for an error answer, from its XML body or, without one, its status.
    private func serviceError(_ response: HTTPClientResponse, _ request: S3Request, _ attempts: Int) async -> S3Error {
        let status = Int(response.status.code)
        let body = try? await response.body.collect(upTo: Self.maximumErrorAnswer)
        var error = S3Error(
            .service, message: "HTTP \(status) \(response.status.reasonPhrase)", status: status,
            serviceCode: Self.bodylessCodes[status], requestID: response.headers.first(name: "x-amz-request-id"),
            resource: request.resource, attempts: attempts)
        if let body, body.readableBytes > 0 {
            if let root = try? S3XML.parse(body.readableBytesView), root.name == "Error" {
                S3Responses.fill(&error, from: root)
            } else {
                error.message += " (the body is no S3 error document)"
            }
        }
        return error
    }

    /// An `<Error>` document in a 200 answer, which CompleteMultipartUpload may send after it started answering.
    private func errorInSuccess(
        _ body: ByteBuffer, _ response: HTTPClientResponse, _ request: S3Request, _ attempts: Int
    ) -> S3Error? {
        guard let root = try? S3XML.parse(body.readableBytesView), root.name == "Error" else { return nil }
        var error = S3Error(
            .service, message: "an error after HTTP 200", status: Int(response.status.code),
            requestID: response.headers.first(name: "x-amz-request-id"), resource: request.resource,
            attempts: attempts)
        S3Responses.fill(&error, from: root)
        return error
    }

    /// Codes for error answers without a body (HEAD), after the status.
    static let bodylessCodes: [Int: S3ErrorCode] = [
        304: "NotModified", 400: "BadRequest", 403: .forbidden, 404: .notFound, 405: "MethodNotAllowed",
        409: "Conflict", 412: .preconditionFailed, 416: "InvalidRange", 429: "TooManyRequests", 500: .internalError,
        503: .serviceUnavailable,
    ]

    /// Whether a transport error means the endpoint could not be reached, and whether it is worth another attempt.
    static func classifyTransport(_ error: any Error) -> (kind: S3Error.Kind, retryable: Bool) {
        if error is NIOConnectionError || error is SocketAddressError {
            return (.endpointUnreachable, false)
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return (.endpointUnreachable, false)
            case .remoteConnectionClosed, .readTimeout, .writeTimeout, .deadlineExceeded, .cancelled:
                return (.connectionLost, true)
            default: return (.connectionLost, false)
            }
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return (.endpointUnreachable, false)
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL, EHOSTDOWN:
                return (.endpointUnreachable, false)
            default: return (.connectionLost, true)
            }
        }
        return (.connectionLost, true)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
