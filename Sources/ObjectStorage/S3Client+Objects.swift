import AsyncHTTPClient
import NIOCore
import NIOHTTP1

extension S3Client {
    // MARK: Buckets

    /// Creates a bucket (CreateBucket); outside `us-east-1` with the region as its location constraint.
    ///
    /// - Parameter bucket: the name: 3 to 63 lower-case letters, digits, dots and hyphens.
    /// - Throws: ``S3Error``; `BucketAlreadyOwnedByYou` or `BucketAlreadyExists` when it exists.
    public func createBucket(_ bucket: String) async throws {
        try Self.validate(bucket: bucket)
        let body =
            configuration.region == "us-east-1" ? nil : S3Responses.createBucketBody(region: configuration.region)
        _ = try await send(S3Request(method: .PUT, bucket: bucket, body: body.map { ByteBuffer(string: $0) }))
    }

    /// Creates a bucket unless the caller owns it already; an existing bucket of the caller's is fine.
    ///
    /// - Parameter bucket: the name.
    /// - Returns: whether the bucket was made now (some services answer 200 for an existing bucket of
    ///   the caller's, which counts as made).
    @discardableResult
    public func ensureBucket(_ bucket: String) async throws -> Bool {
        do {
            try await createBucket(bucket)
            return true
        } catch let error as S3Error where error.serviceCode == .bucketAlreadyOwnedByYou {
            return false
        } catch let error as S3Error where error.serviceCode == .bucketAlreadyExists {
            // Also said to the owner by some services: it is the caller's when HeadBucket succeeds.
            try await headBucket(bucket)
            return false
        }
    }

    /// Checks that a bucket exists and the caller may use it (HeadBucket).
    ///
    /// - Parameter bucket: the name.
    /// - Throws: ``S3Error`` with status 404 (code `NotFound`) when it does not exist, 403 when it is not the caller's.
    public func headBucket(_ bucket: String) async throws {
        try Self.validate(bucket: bucket)
        _ = try await send(S3Request(method: .HEAD, bucket: bucket))
    }

    /// Deletes an empty bucket (DeleteBucket).
    ///
    /// - Parameter bucket: the name.
    public func deleteBucket(_ bucket: String) async throws {
        try Self.validate(bucket: bucket)
        _ = try await send(S3Request(method: .DELETE, bucket: bucket))
    }

    // MARK: Objects

    /// Stores an object in one request (PutObject), signed with its SHA-256, which the service checks.
    ///
    /// - Parameters:
    ///   - body: the bytes (up to 5 GiB on AWS; use ``upload(bucket:key:parts:parallelism:contentType:metadata:onPartUploaded:)`` for more).
    ///   - bucket: the bucket.
    ///   - key: the key, up to 1,024 bytes of UTF-8.
    ///   - contentType: `Content-Type`, if any.
    ///   - metadata: user metadata, sent as `x-amz-meta-NAME` (names are lower-cased; values printable ASCII).
    ///   - onlyIfAbsent: sends `If-None-Match: *`, so an existing key fails with `PreconditionFailed` (412).
    ///   - contentMD5: the MD5 of what the caller meant to send, computed where the bytes came from, sent as
    ///     `Content-MD5`; the service refuses the body (`BadDigest`) when it differs. `nil` sends none.
    /// - Returns: the stored object's ETag, size and part count.
    @discardableResult
    public func putObject(
        _ body: ByteBuffer, bucket: String, key: String, contentType: String? = nil, metadata: [String: String] = [:],
        onlyIfAbsent: Bool = false, contentMD5: [UInt8]? = nil
    ) async throws -> UploadedObject {
        try Self.validate(bucket: bucket, key: key)
        var request = S3Request(method: .PUT, bucket: bucket, key: key, body: body)
        request.headers = try Self.objectHeaders(contentType: contentType, metadata: metadata)
        if onlyIfAbsent { request.headers.append((name: "if-none-match", value: "*")) }
        if let contentMD5 {
            guard contentMD5.count == 16 else {
                throw S3Error(.invalidRequest, message: "an MD5 digest is 16 bytes", resource: request.resource)
            }
            request.contentMD5 = Base64.encode(contentMD5)
        }
        let answer = try await send(request)
        return UploadedObject(
            etag: S3Responses.unquoted(answer.headers.first(name: "etag") ?? ""), size: Int64(body.readableBytes),
            partCount: 1)
    }

    /// Reads a whole object, or a range of it, into memory (GetObject).
    ///
    /// - Parameters:
    ///   - bucket: the bucket.
    ///   - key: the key.
    ///   - range: the bytes to read; `nil` for all.
    ///   - maximumSize: the most bytes accepted; a larger answer fails as ``S3Error/Kind/invalidResponse``.
    public func getObject(
        bucket: String, key: String, range: ObjectRange? = nil, maximumSize: Int = 256 << 20
    ) async throws -> S3Object {
        try Self.validate(bucket: bucket, key: key)
        var request = S3Request(method: .GET, bucket: bucket, key: key)
        if let range { request.headers.append((name: "range", value: range.headerValue)) }
        let answer = try await send(request, bodyLimit: maximumSize)
        return S3Object(
            attributes: try ObjectAttributes(headers: answer.headers, resource: request.resource), body: answer.body)
    }

    /// Opens an object, or a range of it, for reading as a stream of chunks (GetObject).
    ///
    /// The request is retried until the answer's head arrives; a connection lost while the body streams
    /// ends the stream with ``S3Error/Kind/connectionLost``, and the caller may read the rest with a range.
    /// Read the body to its end or drop it; dropping it closes the connection.
    ///
    /// - Parameters:
    ///   - bucket: the bucket.
    ///   - key: the key.
    ///   - range: the bytes to read; `nil` for all.
    public func getObjectStream(bucket: String, key: String, range: ObjectRange? = nil) async throws -> ObjectStream {
        try Self.validate(bucket: bucket, key: key)
        var request = S3Request(method: .GET, bucket: bucket, key: key)
        if let range { request.headers.append((name: "range", value: range.headerValue)) }
        let response = try await open(request)
        let length = response.headers.first(name: "content-length").flatMap { Int64($0) }
        return ObjectStream(
            attributes: try ObjectAttributes(headers: response.headers, resource: request.resource),
            contentLength: length, body: ObjectBody(response.body, resource: request.resource ?? ""))
    }

    /// Reads an object's attributes without its body (HeadObject).
    ///
    /// - Parameters:
    ///   - bucket: the bucket.
    ///   - key: the key.
    /// - Throws: ``S3Error`` with status 404 (code `NotFound`) when there is no such key or bucket.
    public func headObject(bucket: String, key: String) async throws -> ObjectAttributes {
        try Self.validate(bucket: bucket, key: key)
        let request = S3Request(method: .HEAD, bucket: bucket, key: key)
        return try ObjectAttributes(headers: try await send(request).headers, resource: request.resource)
    }

    /// Deletes an object (DeleteObject); deleting a key that does not exist succeeds too.
    ///
    /// - Parameters:
    ///   - bucket: the bucket.
    ///   - key: the key.
    public func deleteObject(bucket: String, key: String) async throws {
        try Self.validate(bucket: bucket, key: key)
        _ = try await send(S3Request(method: .DELETE, bucket: bucket, key: key))
    }

    /// Deletes up to 1,000 objects in one request (DeleteObjects, quiet).
    ///
    /// - Parameters:
    ///   - keys: the keys, at most 1,000.
    ///   - bucket: the bucket.
    /// - Returns: the keys that could not be deleted, with the service's reason; empty when all went.
    @discardableResult
    public func deleteObjects(_ keys: [String], bucket: String) async throws -> [DeleteFailure] {
        try Self.validate(bucket: bucket)
        guard keys.count <= 1000 else {
            throw S3Error(
                .invalidRequest, message: "DeleteObjects takes at most 1,000 keys, not \(keys.count)",
                resource: bucket)
        }
        guard !keys.isEmpty else { return [] }
        for key in keys { try Self.validate(key: key, resource: bucket, forXML: true) }
        var request = S3Request(method: .POST, bucket: bucket, body: ByteBuffer(string: S3Responses.deleteBody(keys)))
        request.query = [(name: "delete", value: "")]
        request.headers = [(name: "content-type", value: "application/xml")]
        let answer = try await send(request)
        return try S3Responses.deleteFailures(try Self.xml(answer, request))
    }

    /// The root element of an XML answer, or ``S3Error/Kind/invalidResponse``.
    static func xml(_ answer: S3Answer, _ request: S3Request) throws(S3Error) -> S3XML.Element {
        do {
            return try S3XML.parse(answer.body.readableBytesView)
        } catch {
            throw S3Error(
                .invalidResponse, message: "\(error)", status: answer.status, resource: request.resource,
                underlying: error)
        }
    }
}

/// An object being read: its attributes, and its body as a sequence of chunks.
public struct ObjectStream: Sendable {
    /// The attributes (``ObjectAttributes/size`` is the whole object's size, also for a range).
    public var attributes: ObjectAttributes
    /// The length of this answer's body, when the service sent it.
    public var contentLength: Int64?
    /// The body.
    public var body: ObjectBody
}

/// The body of an object being read: chunks as they arrive, read as the caller asks for them.
///
/// A failure while it streams is an ``S3Error`` of kind ``S3Error/Kind/connectionLost``.
public struct ObjectBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    private let body: HTTPClientResponse.Body
    private let resource: String

    init(_ body: HTTPClientResponse.Body, resource: String) {
        self.body = body
        self.resource = resource
    }

    /// Collects the whole body, up to `maximumSize` bytes.
    public func collect(upTo maximumSize: Int) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        for try await chunk in self {
            guard collected.readableBytes + chunk.readableBytes <= maximumSize else {
                throw S3Error(
                    .invalidResponse, message: "the object is larger than \(maximumSize) bytes",
                    resource: resource)
            }
            var chunk = chunk
            collected.writeBuffer(&chunk)
        }
        return collected
    }

    /// The iterator.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        let resource: String

        /// The next chunk, or `nil` at the end.
        public mutating func next() async throws -> ByteBuffer? {
            do {
                return try await base.next()
            } catch let error as CancellationError {
                throw error
            } catch {
                throw S3Error(
                    .connectionLost, message: "the object's body broke off", resource: resource,
                    attempts: 1, underlying: error)
            }
        }
    }

    /// Starts reading.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: body.makeAsyncIterator(), resource: resource)
    }
}
