import NIOHTTP1

extension S3Client {
    /// Reads one page of a bucket's keys (ListObjectsV2), in key order.
    ///
    /// Keys come back URL-encoded (`encoding-type=url`) and are decoded here, so any key survives the XML.
    ///
    /// - Parameters:
    ///   - bucket: the bucket.
    ///   - prefix: only keys that start with this.
    ///   - delimiter: groups keys past it into ``ObjectListing/commonPrefixes``, e.g. `/`.
    ///   - continuationToken: the previous page's ``ObjectListing/nextContinuationToken``; `nil` for the first page.
    ///   - maximumKeys: the most keys on the page, 1 to 1,000 (the service may send fewer).
    public func listObjects(
        bucket: String, prefix: String? = nil, delimiter: String? = nil, continuationToken: String? = nil,
        maximumKeys: Int = 1000
    ) async throws -> ObjectListing {
        try Self.validate(bucket: bucket)
        guard (1...1000).contains(maximumKeys) else {
            throw S3Error(.invalidRequest, message: "a page holds 1 to 1,000 keys", resource: bucket)
        }
        var request = S3Request(method: .GET, bucket: bucket)
        request.query = [(name: "list-type", value: "2"), (name: "encoding-type", value: "url")]
        request.query.append((name: "max-keys", value: String(maximumKeys)))
        if let prefix { request.query.append((name: "prefix", value: prefix)) }
        if let delimiter { request.query.append((name: "delimiter", value: delimiter)) }
        if let continuationToken { request.query.append((name: "continuation-token", value: continuationToken)) }
        let answer = try await send(request)
        var listing = try S3Responses.listing(try Self.xml(answer, request), urlEncoded: true)
        if listing.isTruncated && listing.nextContinuationToken == continuationToken {
            throw S3Error(.invalidResponse, message: "the listing did not move on", resource: bucket)
        }
        listing.objects.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return listing
    }

    /// Every object under a prefix, page after page, as one sequence.
    ///
    /// Pages are read as the sequence is consumed, one at a time.
    ///
    /// - Parameters:
    ///   - bucket: the bucket.
    ///   - prefix: only keys that start with this.
    ///   - pageSize: the keys asked for a page, 1 to 1,000.
    public func objects(in bucket: String, prefix: String? = nil, pageSize: Int = 1000) -> ObjectSummaries {
        ObjectSummaries(client: self, bucket: bucket, prefix: prefix, pageSize: pageSize)
    }
}

/// Every object under a prefix, read page by page with ListObjectsV2; see ``S3Client/objects(in:prefix:pageSize:)``.
public struct ObjectSummaries: AsyncSequence, Sendable {
    public typealias Element = ObjectSummary
    let client: S3Client
    let bucket: String
    let prefix: String?
    let pageSize: Int

    /// The iterator: one page in hand, the next asked for when it is used up.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let sequence: ObjectSummaries
        var page: [ObjectSummary] = []
        var position = 0
        var token: String?
        var finished = false

        /// The next object, or `nil` after the last page.
        public mutating func next() async throws -> ObjectSummary? {
            while position == page.count {
                guard !finished else { return nil }
                let listing = try await sequence.client.listObjects(
                    bucket: sequence.bucket, prefix: sequence.prefix, continuationToken: token,
                    maximumKeys: sequence.pageSize)
                page = listing.objects
                position = 0
                token = listing.nextContinuationToken
                finished = !listing.isTruncated
            }
            defer { position += 1 }
            return page[position]
        }
    }

    /// Starts at the first page.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(sequence: self)
    }
}
