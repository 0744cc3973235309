/// Reading S3's XML answers into this module's types, and writing its request bodies.
enum S3Responses {
    static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

    /// Code, message, request ID and resource of an `<Error>` document into an error.
    static func fill(_ error: inout S3Error, from root: S3XML.Element) {
        if let code = root.text(of: "Code"), !code.isEmpty { error.serviceCode = S3ErrorCode(rawValue: code) }
        if let message = root.text(of: "Message"), !message.isEmpty { error.message = message }
        if let requestID = root.text(of: "RequestId"), !requestID.isEmpty { error.requestID = requestID }
    }

    /// An ETag without surrounding quotes.
    static func unquoted(_ etag: String) -> String {
        guard etag.count >= 2, etag.hasPrefix("\""), etag.hasSuffix("\"") else { return etag }
        return String(etag.dropFirst().dropLast())
    }

    /// A `ListBucketResult` (ListObjectsV2); with `urlEncoded`, keys and prefixes are decoded
    /// (`encoding-type=url`: `%XX`, and `+` for a space).
    static func listing(_ root: S3XML.Element, urlEncoded: Bool) throws(S3Error) -> ObjectListing {
        guard root.name == "ListBucketResult" else { throw invalid("a \(root.name) where a ListBucketResult belongs") }
        func decoded(_ text: String) throws(S3Error) -> String {
            guard urlEncoded else { return text }
            guard let value = URIEncoding.decode(text.replacing("+", with: " ")) else {
                throw invalid("a key that is not URL-encoded: \(text)")
            }
            return value
        }
        var objects: [ObjectSummary] = []
        for entry in root.children("Contents") {
            guard let key = entry.text(of: "Key"), let size = entry.text(of: "Size").flatMap({ Int64($0) }) else {
                throw invalid("a Contents entry without Key or Size")
            }
            objects.append(
                ObjectSummary(
                    key: try decoded(key), size: size, etag: unquoted(entry.text(of: "ETag") ?? ""),
                    lastModified: entry.text(of: "LastModified") ?? "", storageClass: entry.text(of: "StorageClass")))
        }
        var prefixes: [String] = []
        for entry in root.children("CommonPrefixes") {
            if let prefix = entry.text(of: "Prefix") { prefixes.append(try decoded(prefix)) }
        }
        let truncated = root.text(of: "IsTruncated") == "true"
        let token = root.text(of: "NextContinuationToken").flatMap { $0.isEmpty ? nil : $0 }
        if truncated && token == nil { throw invalid("a truncated listing without NextContinuationToken") }
        return ObjectListing(
            objects: objects, commonPrefixes: prefixes, isTruncated: truncated, nextContinuationToken: token)
    }

    /// A `ListMultipartUploadsResult`, its keys URL-encoded (`encoding-type=url`).
    static func multipartUploads(_ root: S3XML.Element) throws(S3Error) -> MultipartUploadListing {
        guard root.name == "ListMultipartUploadsResult" else {
            throw invalid("a \(root.name) where a ListMultipartUploadsResult belongs")
        }
        func decoded(_ text: String) throws(S3Error) -> String {
            guard let value = URIEncoding.decode(text.replacing("+", with: " ")) else {
                throw invalid("a key that is not URL-encoded: \(text)")
            }
            return value
        }
        var uploads: [MultipartUploadSummary] = []
        for entry in root.children("Upload") {
            guard let key = entry.text(of: "Key"), let id = entry.text(of: "UploadId"), !id.isEmpty else {
                throw invalid("an Upload entry without Key or UploadId")
            }
            uploads.append(
                MultipartUploadSummary(
                    key: try decoded(key), uploadID: id, initiated: entry.text(of: "Initiated") ?? ""))
        }
        let truncated = root.text(of: "IsTruncated") == "true"
        let keyMarker = try root.text(of: "NextKeyMarker").flatMap { $0.isEmpty ? nil : $0 }.map(decoded)
        let uploadIDMarker = root.text(of: "NextUploadIdMarker").flatMap { $0.isEmpty ? nil : $0 }
        if truncated && keyMarker == nil { throw invalid("a truncated listing of uploads without NextKeyMarker") }
        return MultipartUploadListing(
            uploads: uploads, isTruncated: truncated, nextKeyMarker: keyMarker, nextUploadIDMarker: uploadIDMarker)
    }

    /// The `UploadId` of an `InitiateMultipartUploadResult`.
    static func uploadID(_ root: S3XML.Element) throws(S3Error) -> String {
        guard root.name == "InitiateMultipartUploadResult", let id = root.text(of: "UploadId"), !id.isEmpty else {
            throw invalid("no UploadId in the answer to CreateMultipartUpload")
        }
        return id
    }

    /// The `ETag` of a `CompleteMultipartUploadResult`.
    static func completedETag(_ root: S3XML.Element) throws(S3Error) -> String {
        guard root.name == "CompleteMultipartUploadResult", let etag = root.text(of: "ETag") else {
            throw invalid("no ETag in the answer to CompleteMultipartUpload")
        }
        return unquoted(etag)
    }

    /// The `<Error>` entries of a `DeleteResult` (quiet mode lists only those).
    static func deleteFailures(_ root: S3XML.Element) throws(S3Error) -> [DeleteFailure] {
        guard root.name == "DeleteResult" else { throw invalid("a \(root.name) where a DeleteResult belongs") }
        return root.children("Error").map {
            DeleteFailure(
                key: $0.text(of: "Key") ?? "", code: S3ErrorCode(rawValue: $0.text(of: "Code") ?? ""),
                message: $0.text(of: "Message") ?? "")
        }
    }

    /// The body of CompleteMultipartUpload.
    static func completeBody(_ parts: [CompletedPart]) -> String {
        var body = "<CompleteMultipartUpload xmlns=\"\(namespace)\">"
        for part in parts {
            body += "<Part><PartNumber>\(part.partNumber)</PartNumber>"
            body += "<ETag>\(S3XML.escape("\"\(part.etag)\""))</ETag></Part>"
        }
        return body + "</CompleteMultipartUpload>"
    }

    /// The body of DeleteObjects in quiet mode.
    static func deleteBody(_ keys: [String]) -> String {
        var body = "<Delete xmlns=\"\(namespace)\"><Quiet>true</Quiet>"
        for key in keys { body += "<Object><Key>\(S3XML.escape(key))</Key></Object>" }
        return body + "</Delete>"
    }

    /// The body of CreateBucket outside `us-east-1`.
    static func createBucketBody(region: String) -> String {
        "<CreateBucketConfiguration xmlns=\"\(namespace)\"><LocationConstraint>\(S3XML.escape(region))"
            + "</LocationConstraint></CreateBucketConfiguration>"
    }

    private static func invalid(_ message: String) -> S3Error {
        S3Error(.invalidResponse, message: message)
    }
}
