import NIOCore
import NIOHTTP1

/// What S3 says about an object: size, ETag, type, time and user metadata.
public struct ObjectAttributes: Sendable, Hashable {
    /// The whole object's size in bytes (also for a ranged read).
    public var size: Int64
    /// The ETag without its quotes: the hex MD5 of a single-part upload; `MD5-N` of the parts' MD5s for a multipart one.
    public var etag: String
    /// `Content-Type`, if the service sent one.
    public var contentType: String?
    /// `Last-Modified` as the service wrote it (an HTTP date).
    public var lastModified: String?
    /// User metadata: the `x-amz-meta-` headers with that prefix removed, names in lower case.
    public var metadata: [String: String]

    /// Attributes from their parts.
    public init(
        size: Int64, etag: String, contentType: String? = nil, lastModified: String? = nil,
        metadata: [String: String] = [:]
    ) {
        self.size = size
        self.etag = etag
        self.contentType = contentType
        self.lastModified = lastModified
        self.metadata = metadata
    }

    /// Reads the attributes from an answer's headers.
    init(headers: HTTPHeaders, resource: String?) throws(S3Error) {
        var size: Int64?
        if let range = headers.first(name: "content-range"), let slash = range.lastIndex(of: "/") {
            size = Int64(range[range.index(after: slash)...])
        } else if let length = headers.first(name: "content-length") {
            size = Int64(length)
        }
        guard let size else {
            throw S3Error(.invalidResponse, message: "the answer has no object size", resource: resource)
        }
        var metadata: [String: String] = [:]
        for (name, value) in headers {
            let lowered = name.lowercased()
            if lowered.hasPrefix("x-amz-meta-") { metadata[String(lowered.dropFirst(11))] = value }
        }
        self.init(
            size: size, etag: S3Responses.unquoted(headers.first(name: "etag") ?? ""),
            contentType: headers.first(name: "content-type"), lastModified: headers.first(name: "last-modified"),
            metadata: metadata)
    }
}

/// An object read whole: its attributes and its bytes.
public struct S3Object: Sendable {
    /// The attributes.
    public var attributes: ObjectAttributes
    /// The bytes (of the range asked for).
    public var body: ByteBuffer
}

/// A part of an object to read: `Range: bytes=…`.
public enum ObjectRange: Sendable, Hashable {
    /// The bytes at these offsets, both ends included.
    case bytes(ClosedRange<Int64>)
    /// The bytes from this offset to the end.
    case from(Int64)
    /// The last so many bytes.
    case suffix(Int64)

    /// The `Range` header's value.
    var headerValue: String {
        switch self {
        case .bytes(let range): "bytes=\(range.lowerBound)-\(range.upperBound)"
        case .from(let start): "bytes=\(start)-"
        case .suffix(let count): "bytes=-\(count)"
        }
    }
}

/// One object in a listing.
public struct ObjectSummary: Sendable, Hashable {
    /// The key.
    public var key: String
    /// The size in bytes.
    public var size: Int64
    /// The ETag without its quotes.
    public var etag: String
    /// `LastModified` as the service wrote it (ISO 8601).
    public var lastModified: String
    /// The storage class, e.g. `STANDARD`.
    public var storageClass: String?
}

/// One page of ListObjectsV2.
public struct ObjectListing: Sendable, Hashable {
    /// The objects of this page, in key order.
    public var objects: [ObjectSummary]
    /// The common prefixes, when a delimiter was given.
    public var commonPrefixes: [String]
    /// Whether more pages follow.
    public var isTruncated: Bool
    /// The token for the next page, when ``isTruncated``.
    public var nextContinuationToken: String?
}

/// A multipart upload begun and neither completed nor aborted, as ListMultipartUploads lists it.
public struct MultipartUploadSummary: Sendable, Hashable {
    /// The key the upload is for.
    public var key: String
    /// Its upload ID, for ``S3Client/abortMultipartUpload(uploadID:bucket:key:)``.
    public var uploadID: String
    /// When it began, as the service gives it (ISO 8601).
    public var initiated: String
}

/// One page of ListMultipartUploads.
public struct MultipartUploadListing: Sendable, Hashable {
    /// The uploads of this page, in key order.
    public var uploads: [MultipartUploadSummary]
    /// Whether more pages follow.
    public var isTruncated: Bool
    /// Where the next page starts, when ``isTruncated``.
    public var nextKeyMarker: String?
    /// Where the next page starts among the uploads of ``nextKeyMarker``, when ``isTruncated``.
    public var nextUploadIDMarker: String?
}

/// A key that DeleteObjects could not delete, and why.
public struct DeleteFailure: Sendable, Hashable {
    /// The key.
    public var key: String
    /// S3's error code, e.g. `AccessDenied`.
    public var code: S3ErrorCode
    /// The service's message.
    public var message: String
}

/// A part uploaded in a multipart upload, as CompleteMultipartUpload wants it back.
public struct CompletedPart: Sendable, Hashable {
    /// The part's number, 1 to 10,000.
    public var partNumber: Int
    /// The part's ETag without quotes (its hex MD5).
    public var etag: String
    /// The part's size in bytes.
    public var size: Int

    /// A part from its number, ETag and size.
    public init(partNumber: Int, etag: String, size: Int) {
        self.partNumber = partNumber
        self.etag = etag
        self.size = size
    }
}

/// What a finished upload produced.
public struct UploadedObject: Sendable, Hashable {
    /// The object's ETag without quotes.
    public var etag: String
    /// How many bytes were sent.
    public var size: Int64
    /// How many parts (1 for a single PUT).
    public var partCount: Int
}
