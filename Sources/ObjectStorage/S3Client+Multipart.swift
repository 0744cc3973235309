import NIOCore
import NIOHTTP1

extension S3Client {
    /// Starts a multipart upload (CreateMultipartUpload).
    ///
    /// - Parameters:
    ///   - bucket: the bucket.
    ///   - key: the key the object will have.
    ///   - contentType: `Content-Type`, if any.
    ///   - metadata: user metadata, as for ``putObject(_:bucket:key:contentType:metadata:onlyIfAbsent:contentMD5:)``.
    /// - Returns: the upload ID, for the parts, the completion or the abort.
    public func createMultipartUpload(
        bucket: String, key: String, contentType: String? = nil, metadata: [String: String] = [:]
    ) async throws -> String {
        try Self.validate(bucket: bucket, key: key)
        var request = S3Request(method: .POST, bucket: bucket, key: key)
        request.query = [(name: "uploads", value: "")]
        request.headers = try Self.objectHeaders(contentType: contentType, metadata: metadata)
        return try S3Responses.uploadID(try Self.xml(try await send(request), request))
    }

    /// Uploads one part (UploadPart), signed with its SHA-256, which the service checks.
    ///
    /// - Parameters:
    ///   - body: the part's bytes: at least 5 MiB on AWS except for the last part.
    ///   - partNumber: 1 to 10,000.
    ///   - uploadID: from ``createMultipartUpload(bucket:key:contentType:metadata:)``.
    ///   - bucket: the bucket.
    ///   - key: the key.
    ///   - contentMD5: the MD5 the caller computed where the bytes came from, sent as `Content-MD5`;
    ///     `nil` for none.
    public func uploadPart(
        _ body: ByteBuffer, partNumber: Int, uploadID: String, bucket: String, key: String,
        contentMD5: [UInt8]? = nil
    ) async throws -> CompletedPart {
        try Self.validate(bucket: bucket, key: key)
        guard (1...10_000).contains(partNumber) else {
            throw S3Error(.invalidRequest, message: "a part number is 1 to 10,000", resource: "\(bucket)/\(key)")
        }
        var request = S3Request(method: .PUT, bucket: bucket, key: key, body: body)
        request.query = [(name: "partNumber", value: String(partNumber)), (name: "uploadId", value: uploadID)]
        if let contentMD5 { request.contentMD5 = Base64.encode(contentMD5) }
        let answer = try await send(request)
        guard let etag = answer.headers.first(name: "etag") else {
            throw S3Error(
                .invalidResponse, message: "no ETag for part \(partNumber)", status: answer.status,
                resource: request.resource)
        }
        return CompletedPart(partNumber: partNumber, etag: S3Responses.unquoted(etag), size: body.readableBytes)
    }

    /// Joins the uploaded parts into the object (CompleteMultipartUpload).
    ///
    /// An error the service reports inside a 200 answer is thrown like any other. When the answer's
    /// ETag is empty (Ceph RGW), the object's ETag is read with HeadObject.
    ///
    /// - Parameters:
    ///   - parts: the parts, in any order (sent sorted by number).
    ///   - uploadID: the upload.
    ///   - bucket: the bucket.
    ///   - key: the key.
    /// - Returns: the object's ETag.
    public func completeMultipartUpload(
        _ parts: [CompletedPart], uploadID: String, bucket: String, key: String
    ) async throws -> String {
        try Self.validate(bucket: bucket, key: key)
        let sorted = parts.sorted { $0.partNumber < $1.partNumber }
        var request = S3Request(
            method: .POST, bucket: bucket, key: key, body: ByteBuffer(string: S3Responses.completeBody(sorted)))
        request.query = [(name: "uploadId", value: uploadID)]
        request.headers = [(name: "content-type", value: "application/xml")]
        request.errorMayFollowSuccess = true
        let etag = try S3Responses.completedETag(try Self.xml(try await send(request), request))
        // Ceph RGW (Pacific) answers with an empty ETag element; the object's own is on its head.
        return etag.isEmpty ? try await headObject(bucket: bucket, key: key).etag : etag
    }

    /// One page of the multipart uploads in progress (ListMultipartUploads), in key order.
    ///
    /// - Parameters:
    ///   - bucket: the bucket.
    ///   - prefix: only uploads for keys that start with this.
    ///   - keyMarker: from the previous page's ``MultipartUploadListing/nextKeyMarker``.
    ///   - uploadIDMarker: from the previous page's ``MultipartUploadListing/nextUploadIDMarker``.
    ///   - maximumUploads: the uploads asked for a page, 1 to 1,000.
    public func listMultipartUploads(
        bucket: String, prefix: String? = nil, keyMarker: String? = nil, uploadIDMarker: String? = nil,
        maximumUploads: Int = 1000
    ) async throws -> MultipartUploadListing {
        try Self.validate(bucket: bucket)
        guard (1...1000).contains(maximumUploads) else {
            throw S3Error(.invalidRequest, message: "a page holds 1 to 1,000 uploads", resource: bucket)
        }
        var request = S3Request(method: .GET, bucket: bucket)
        request.query = [
            (name: "uploads", value: ""), (name: "encoding-type", value: "url"),
            (name: "max-uploads", value: String(maximumUploads)),
        ]
        if let prefix { request.query.append((name: "prefix", value: prefix)) }
        if let keyMarker { request.query.append((name: "key-marker", value: keyMarker)) }
        if let uploadIDMarker { request.query.append((name: "upload-id-marker", value: uploadIDMarker)) }
        let listing = try S3Responses.multipartUploads(try Self.xml(try await send(request), request))
        if listing.isTruncated, listing.nextKeyMarker == keyMarker, listing.nextUploadIDMarker == uploadIDMarker {
            throw S3Error(.invalidResponse, message: "the listing of uploads did not move on", resource: bucket)
        }
        return listing
    }

    /// Every multipart upload in progress for keys under `prefix`, page after page.
    public func multipartUploads(
        bucket: String, prefix: String? = nil, pageSize: Int = 1000
    ) async throws -> [MultipartUploadSummary] {
        var all: [MultipartUploadSummary] = []
        var keyMarker: String?
        var uploadIDMarker: String?
        while true {
            let page = try await listMultipartUploads(
                bucket: bucket, prefix: prefix, keyMarker: keyMarker, uploadIDMarker: uploadIDMarker,
                maximumUploads: pageSize)
            all += page.uploads
            guard page.isTruncated else { return all }
            (keyMarker, uploadIDMarker) = (page.nextKeyMarker, page.nextUploadIDMarker)
        }
    }

    /// Abandons a multipart upload and frees its parts (AbortMultipartUpload).
    ///
    /// - Parameters:
    ///   - uploadID: the upload.
    ///   - bucket: the bucket.
    ///   - key: the key.
    public func abortMultipartUpload(uploadID: String, bucket: String, key: String) async throws {
        try Self.validate(bucket: bucket, key: key)
        var request = S3Request(method: .DELETE, bucket: bucket, key: key)
        request.query = [(name: "uploadId", value: uploadID)]
        _ = try await send(request)
    }

    /// Uploads an object of any size from a sequence of parts, several at a time, with at most
    /// `parallelism` parts in memory.
    ///
    /// The next part is taken from `parts` only when fewer than `parallelism` parts are on their
    /// way, so a multi-GiB object streams through a bounded amount of memory: `parallelism` × the
    /// part size. Each part is signed with its SHA-256 and retried on its own. On any failure, or
    /// cancellation, the upload is aborted and the error thrown. An empty sequence stores an empty object.
    ///
    /// A reader becomes a sequence with `AsyncThrowingStream(unfolding:)`.
    ///
    /// - Parameters:
    ///   - bucket: the bucket.
    ///   - key: the key.
    ///   - parts: the object's bytes in order, one element a part: at least 5 MiB each on AWS, but for the last.
    ///   - parallelism: how many parts are uploaded at once, and held in memory, at most (at least 1).
    ///   - contentType: `Content-Type`, if any.
    ///   - metadata: user metadata.
    ///   - onPartUploaded: called once each part is stored, from the task that sent it.
    /// - Returns: the object's ETag, size and part count.
    @discardableResult
    public func upload<Parts: AsyncSequence>(
        bucket: String, key: String, parts: Parts, parallelism: Int = 4, contentType: String? = nil,
        metadata: [String: String] = [:], onPartUploaded: @escaping @Sendable (CompletedPart) -> Void = { _ in }
    ) async throws -> UploadedObject where Parts.Element == ByteBuffer {
        guard parallelism >= 1 else {
            throw S3Error(.invalidRequest, message: "parallelism is at least 1", resource: "\(bucket)/\(key)")
        }
        let uploadID = try await createMultipartUpload(
            bucket: bucket, key: key, contentType: contentType, metadata: metadata)
        do {
            var completed = try await withThrowingTaskGroup(of: CompletedPart.self) { group in
                var completed: [CompletedPart] = []
                var running = 0
                var partNumber = 0
                var iterator = parts.makeAsyncIterator()
                while true {
                    if running == parallelism, let part = try await group.next() {
                        completed.append(part)
                        running -= 1
                    }
                    guard let body = try await iterator.next() else { break }
                    partNumber += 1
                    guard partNumber <= 10_000 else {
                        throw S3Error(
                            .invalidRequest, message: "an upload has at most 10,000 parts", resource: "\(bucket)/\(key)"
                        )
                    }
                    let number = partNumber
                    group.addTask {
                        let part = try await self.uploadPart(
                            body, partNumber: number, uploadID: uploadID, bucket: bucket, key: key)
                        onPartUploaded(part)
                        return part
                    }
                    running += 1
                }
                while let part = try await group.next() { completed.append(part) }
                return completed
            }
            if completed.isEmpty {
                let part = try await uploadPart(
                    ByteBuffer(), partNumber: 1, uploadID: uploadID, bucket: bucket, key: key)
                onPartUploaded(part)
                completed.append(part)
            }
            let etag = try await completeMultipartUpload(completed, uploadID: uploadID, bucket: bucket, key: key)
            return UploadedObject(
                etag: etag, size: completed.reduce(0) { $0 + Int64($1.size) }, partCount: completed.count)
        } catch {
            // Not cancelled with the caller: the parts must not stay behind.
            await Task {
                try? await self.abortMultipartUpload(uploadID: uploadID, bucket: bucket, key: key)
            }.value
            throw error
        }
    }
}
