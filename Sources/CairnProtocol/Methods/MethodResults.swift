import CairnDigest

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An artifact's meta, the result of `artifacts.meta` and (with
/// `deduplicated`) of `artifacts.upload` and `uploads.commit`.
public struct ArtifactMetaResult: MethodResult, Equatable {
    public var artifactId: UUID
    public var tenantId: String
    public var providerId: String
    public var mimeType: String
    public var sizeBytes: UInt64
    public var sha256: SHA256Digest
    /// RFC 3339 UTC with milliseconds.
    public var stagedAt: String
    public var stagedBy: String
    /// Set on the results of uploads: whether the tenant already held the content.
    public var deduplicated: Bool?

    public init(
        artifactId: UUID, tenantId: String, providerId: String, mimeType: String, sizeBytes: UInt64,
        sha256: SHA256Digest, stagedAt: String, stagedBy: String, deduplicated: Bool? = nil
    ) {
        self.artifactId = artifactId
        self.tenantId = tenantId
        self.providerId = providerId
        self.mimeType = mimeType
        self.sizeBytes = sizeBytes
        self.sha256 = sha256
        self.stagedAt = stagedAt
        self.stagedBy = stagedBy
        self.deduplicated = deduplicated
    }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        let fields = try ResultFields(result, "meta")
        artifactId = try fields.uuid("artifactId")
        tenantId = try fields.string("tenantId")
        providerId = try fields.string("providerId")
        mimeType = try fields.string("mimeType")
        sizeBytes = try fields.integer("sizeBytes")
        sha256 = try fields.sha256("sha256")
        stagedAt = try fields.string("stagedAt")
        stagedBy = try fields.string("stagedBy")
        deduplicated = fields.object["deduplicated"]?.boolValue
    }

    public var encoded: JSONValue {
        var object = JSONObject([
            ("artifactId", .string(UUIDText.lowercase(artifactId))), ("tenantId", .string(tenantId)),
            ("providerId", .string(providerId)), ("mimeType", .string(mimeType)),
            ("sizeBytes", .number(JSONNumber(sizeBytes))), ("sha256", .string(sha256.hex)),
            ("stagedAt", .string(stagedAt)), ("stagedBy", .string(stagedBy)),
        ])
        if let deduplicated { object["deduplicated"] = .bool(deduplicated) }
        return .object(object)
    }
}

/// Where an upload stands: the result of `uploads.begin` and
/// `uploads.append` (`{uploadId, offset}`) and of `uploads.status` (with
/// the declared size and times).
public struct UploadStateResult: MethodResult, Equatable {
    public var uploadId: UUID
    /// Bytes stored so far: where the next append goes.
    public var offset: UInt64
    public var sizeBytes: UInt64?
    public var startedAt: String?
    public var updatedAt: String?

    public init(
        uploadId: UUID, offset: UInt64, sizeBytes: UInt64? = nil, startedAt: String? = nil, updatedAt: String? = nil
    ) {
        self.uploadId = uploadId
        self.offset = offset
        self.sizeBytes = sizeBytes
        self.startedAt = startedAt
        self.updatedAt = updatedAt
    }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        let fields = try ResultFields(result, "upload")
        uploadId = try fields.uuid("uploadId")
        offset = try fields.integer("offset")
        sizeBytes = try fields.optionalInteger("sizeBytes")
        startedAt = fields.object["startedAt"]?.stringValue
        updatedAt = fields.object["updatedAt"]?.stringValue
    }

    public var encoded: JSONValue {
        var object = JSONObject([
            ("uploadId", .string(UUIDText.lowercase(uploadId))), ("offset", .number(JSONNumber(offset))),
        ])
        if let sizeBytes { object["sizeBytes"] = .number(JSONNumber(sizeBytes)) }
        if let startedAt { object["startedAt"] = .string(startedAt) }
        if let updatedAt { object["updatedAt"] = .string(updatedAt) }
        return .object(object)
    }
}

/// `uploads.abort`: `{uploadId, aborted: true}`.
public struct UploadAbortedResult: MethodResult, Equatable {
    public var uploadId: UUID

    public init(uploadId: UUID) { self.uploadId = uploadId }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        uploadId = try ResultFields(result, "an aborted upload").uuid("uploadId")
    }

    public var encoded: JSONValue {
        .object(JSONObject([("uploadId", .string(UUIDText.lowercase(uploadId))), ("aborted", true)]))
    }
}

/// `artifacts.delete`: `{artifactId, deleted: true, blobFreed}`.
public struct ArtifactDeletedResult: MethodResult, Equatable {
    public var artifactId: UUID
    /// Whether the content went with it (no other artifact of the tenant had it).
    public var blobFreed: Bool

    public init(artifactId: UUID, blobFreed: Bool) {
        self.artifactId = artifactId
        self.blobFreed = blobFreed
    }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        let fields = try ResultFields(result, "a deletion")
        artifactId = try fields.uuid("artifactId")
        guard let freed = fields.object["blobFreed"]?.boolValue else {
            throw MethodResultError("a deletion without blobFreed")
        }
        blobFreed = freed
    }

    public var encoded: JSONValue {
        .object(
            JSONObject([
                ("artifactId", .string(UUIDText.lowercase(artifactId))), ("deleted", true),
                ("blobFreed", .bool(blobFreed)),
            ]))
    }
}

/// A tenant's usage and quotas: `tenants.usage` and `tenants.setQuota`.
public struct TenantUsageResult: MethodResult, Equatable {
    public var tenant: String
    public var artifactCount: UInt64
    public var logicalBytes: UInt64
    public var storedBytes: UInt64
    public var maxBytes: UInt64?
    public var maxArtifacts: UInt64?

    public init(
        tenant: String, artifactCount: UInt64, logicalBytes: UInt64, storedBytes: UInt64, maxBytes: UInt64?,
        maxArtifacts: UInt64?
    ) {
        self.tenant = tenant
        self.artifactCount = artifactCount
        self.logicalBytes = logicalBytes
        self.storedBytes = storedBytes
        self.maxBytes = maxBytes
        self.maxArtifacts = maxArtifacts
    }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        let fields = try ResultFields(result, "usage")
        tenant = try fields.string("tenant")
        artifactCount = try fields.integer("artifactCount")
        logicalBytes = try fields.integer("logicalBytes")
        storedBytes = try fields.integer("storedBytes")
        let quota = try ResultFields(fields.object["quota"] ?? .null, "usage.quota")
        maxBytes = try quota.optionalInteger("maxBytes")
        maxArtifacts = try quota.optionalInteger("maxArtifacts")
    }

    public var encoded: JSONValue {
        func optional(_ value: UInt64?) -> JSONValue { value.map { .number(JSONNumber($0)) } ?? .null }
        return .object(
            JSONObject([
                ("tenant", .string(tenant)), ("artifactCount", .number(JSONNumber(artifactCount))),
                ("logicalBytes", .number(JSONNumber(logicalBytes))), ("storedBytes", .number(JSONNumber(storedBytes))),
                (
                    "quota",
                    .object(JSONObject([("maxBytes", optional(maxBytes)), ("maxArtifacts", optional(maxArtifacts))]))
                ),
            ]))
    }
}

/// `artifacts.read`: a range of an artifact and the whole artifact's
/// digest; the bytes as base64 `data`, or (with `binary`) as an attachment.
public struct ReadResult: MethodResult, Equatable {
    public var bytes: [UInt8]
    public var offset: UInt64
    public var eof: Bool
    /// The whole artifact's SHA-256.
    public var sha256: SHA256Digest
    /// Whether the bytes travel as an attachment.
    public var binary: Bool

    public init(bytes: [UInt8], offset: UInt64, eof: Bool, sha256: SHA256Digest, binary: Bool) {
        self.bytes = bytes
        self.offset = offset
        self.eof = eof
        self.sha256 = sha256
        self.binary = binary
    }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        let fields = try ResultFields(result, "a read")
        if let attachment {
            bytes = attachment
            binary = true
        } else {
            guard let text = fields.object["data"]?.stringValue, let decoded = Base64.decode(text) else {
                throw MethodResultError("a read without data")
            }
            bytes = decoded
            binary = false
        }
        offset = try fields.integer("offset")
        guard let eof = fields.object["eof"]?.boolValue else { throw MethodResultError("a read without eof") }
        self.eof = eof
        sha256 = try fields.sha256("sha256")
    }

    public var encoded: JSONValue {
        var object = JSONObject()
        if !binary { object["data"] = .string(Base64.encode(bytes)) }
        object["offset"] = .number(JSONNumber(offset))
        object["length"] = .number(JSONNumber(bytes.count))
        object["eof"] = .bool(eof)
        object["sha256"] = .string(sha256.hex)
        if binary { object["dataLength"] = .number(JSONNumber(bytes.count)) }
        return .object(object)
    }

    public var attachment: [UInt8]? { binary ? bytes : nil }
}

/// A result whose shape docs/protocol.md gives and that callers read as
/// JSON: catalogs, configuration snapshots, readiness, listings, manifests,
/// verification reports.
public struct JSONDocument: MethodResult, Equatable {
    public var json: JSONValue

    public init(_ json: JSONValue) { self.json = json }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        guard result.objectValue != nil else { throw MethodResultError("the result is not an object") }
        json = result
    }

    public var encoded: JSONValue { json }

    /// The member named `key`.
    public subscript(key: String) -> JSONValue? { json[key] }
}

/// Reading a result object's fields, failing with ``MethodResultError``.
struct ResultFields {
    let object: JSONObject
    let what: String

    init(_ value: JSONValue, _ what: String) throws(MethodResultError) {
        guard let object = value.objectValue else { throw MethodResultError("\(what) is not an object") }
        self.object = object
        self.what = what
    }

    func string(_ key: String) throws(MethodResultError) -> String {
        guard let value = object[key]?.stringValue else { throw MethodResultError("\(what) without \(key)") }
        return value
    }

    func integer(_ key: String) throws(MethodResultError) -> UInt64 {
        guard let value = try optionalInteger(key) else { throw MethodResultError("\(what) without \(key)") }
        return value
    }

    func optionalInteger(_ key: String) throws(MethodResultError) -> UInt64? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let number)?:
            guard let value = number.int64, value >= 0 else { throw MethodResultError("\(what).\(key) is not a count") }
            return UInt64(value)
        default: throw MethodResultError("\(what).\(key) is not a number")
        }
    }

    func uuid(_ key: String) throws(MethodResultError) -> UUID {
        guard let id = UUIDText.parse(try string(key)) else {
            throw MethodResultError("\(what).\(key) is not a UUID")
        }
        return id
    }

    func sha256(_ key: String) throws(MethodResultError) -> SHA256Digest {
        guard let digest = SHA256Digest(parsing: try string(key)) else {
            throw MethodResultError("\(what).\(key) is not a SHA-256")
        }
        return digest
    }
}
