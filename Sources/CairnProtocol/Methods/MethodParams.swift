import CairnDigest
import CairnManifest

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// The params of every method. Each decodes its fields in the order
// docs/protocol.md ("Which error comes first") gives, after the tenant and
// its grant, which the server checks first for tenant methods.

/// No params: `system.hello`, `system.health`, `providers.list`, `tenants.list`.
public struct NoParams: MethodParams, Equatable {
    public init() {}
    public init(decoding params: Params, context: ParamsContext) {}
    public var encoded: JSONObject { JSONObject() }
}

/// `{tenant}`: `tenants.usage`, `tenants.manifest`.
public struct TenantParams: MethodParams, Equatable {
    public var tenant: String

    public init(tenant: String) { self.tenant = tenant }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
    }

    public var encoded: JSONObject { JSONObject([("tenant", .string(tenant))]) }
}

/// `{tenant, artifactId}`: `artifacts.meta`, `artifacts.delete`.
public struct ArtifactParams: MethodParams, Equatable {
    public var tenant: String
    public var artifactId: UUID

    public init(tenant: String, artifactId: UUID) {
        self.tenant = tenant
        self.artifactId = artifactId
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        artifactId = try params.uuid("artifactId")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("artifactId", artifactId)
        return builder.object
    }
}

/// `artifacts.upload`: `{tenant, providerId, mimeType, sha256?, artifactId?}`
/// and the content, as base64 `data` or an attachment (checked by the
/// server after these).
public struct UploadArtifactParams: MethodParams, Equatable {
    public var tenant: String
    public var providerId: String
    public var mimeType: String
    /// The content's expected digest.
    public var sha256: SHA256Digest?
    /// The id to give the new artifact (for imports that keep ids).
    public var artifactId: UUID?

    public init(
        tenant: String, providerId: String, mimeType: String, sha256: SHA256Digest? = nil, artifactId: UUID? = nil
    ) {
        self.tenant = tenant
        self.providerId = providerId
        self.mimeType = mimeType
        self.sha256 = sha256
        self.artifactId = artifactId
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        providerId = try params.providerID("providerId", context)
        mimeType = try params.string("mimeType")
        sha256 = try params.optionalSHA256("sha256")
        artifactId = try params.optionalUUID("artifactId")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("providerId", providerId)
        builder.set("mimeType", mimeType)
        builder.set("sha256", sha256)
        builder.set("artifactId", artifactId)
        return builder.object
    }
}

/// `uploads.begin`: `{tenant, providerId, mimeType, sizeBytes?, sha256?}`.
public struct BeginUploadParams: MethodParams, Equatable {
    public var tenant: String
    public var providerId: String
    public var mimeType: String
    /// The size the content will have, checked against quotas now and at commit.
    public var sizeBytes: UInt64?
    public var sha256: SHA256Digest?

    public init(
        tenant: String, providerId: String, mimeType: String, sizeBytes: UInt64? = nil, sha256: SHA256Digest? = nil
    ) {
        self.tenant = tenant
        self.providerId = providerId
        self.mimeType = mimeType
        self.sizeBytes = sizeBytes
        self.sha256 = sha256
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        providerId = try params.providerID("providerId", context)
        mimeType = try params.string("mimeType")
        sizeBytes = try params.optionalInteger("sizeBytes")
        sha256 = try params.optionalSHA256("sha256")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("providerId", providerId)
        builder.set("mimeType", mimeType)
        builder.set("sizeBytes", sizeBytes)
        builder.set("sha256", sha256)
        return builder.object
    }
}

/// `uploads.append`: `{uploadId, offset}` and the bytes, as base64 `data` or
/// an attachment (checked by the server after the upload is found).
public struct AppendParams: MethodParams, Equatable {
    public var uploadId: UUID
    /// Where the bytes go: the upload's current offset.
    public var offset: UInt64

    public init(uploadId: UUID, offset: UInt64) {
        self.uploadId = uploadId
        self.offset = offset
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        uploadId = try params.uuid("uploadId")
        offset = try params.integer("offset")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("uploadId", uploadId)
        builder.set("offset", offset)
        return builder.object
    }
}

/// `{uploadId}`: `uploads.status`, `uploads.abort`.
public struct UploadParams: MethodParams, Equatable {
    public var uploadId: UUID

    public init(uploadId: UUID) { self.uploadId = uploadId }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        uploadId = try params.uuid("uploadId")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("uploadId", uploadId)
        return builder.object
    }
}

/// `uploads.commit`: `{uploadId, sha256?, xxh128?, artifactId?}`.
public struct CommitUploadParams: MethodParams, Equatable {
    public var uploadId: UUID
    public var sha256: SHA256Digest?
    /// A transfer check (Cairn's `xxh128` capability).
    public var xxh128: XXH3Hash128?
    public var artifactId: UUID?

    public init(uploadId: UUID, sha256: SHA256Digest? = nil, xxh128: XXH3Hash128? = nil, artifactId: UUID? = nil) {
        self.uploadId = uploadId
        self.sha256 = sha256
        self.xxh128 = xxh128
        self.artifactId = artifactId
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        uploadId = try params.uuid("uploadId")
        sha256 = try params.optionalSHA256("sha256")
        xxh128 = try params.optionalXXH128("xxh128")
        artifactId = try params.optionalUUID("artifactId")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("uploadId", uploadId)
        builder.set("sha256", sha256)
        builder.set("xxh128", xxh128?.hex)
        builder.set("artifactId", artifactId)
        return builder.object
    }
}

/// `artifacts.list`: `{tenant, providerId?, limit?, cursor?}`.
public struct ListArtifactsParams: MethodParams, Equatable {
    public var tenant: String
    public var providerId: String?
    /// 1 to the largest page; 100 when not given.
    public var limit: Int
    public var cursor: String?

    public init(tenant: String, providerId: String? = nil, limit: Int = 100, cursor: String? = nil) {
        self.tenant = tenant
        self.providerId = providerId
        self.limit = limit
        self.cursor = cursor
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        if let value = params.object["providerId"], value != .null {
            providerId = try params.providerID("providerId", context)
        } else {
            providerId = nil
        }
        limit = try params.pageLimit("limit", context)
        cursor = try params.optionalString("cursor")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("providerId", providerId)
        builder.set("limit", limit)
        builder.set("cursor", cursor)
        return builder.object
    }
}

/// `artifacts.read`: `{tenant, artifactId, offset?, length?, binary?}`.
public struct ReadParams: MethodParams, Equatable {
    public var tenant: String
    public var artifactId: UUID
    public var offset: UInt64
    /// At most `maxChunkBytes`; that when not given.
    public var length: UInt64?
    /// Answer with the bytes as an attachment instead of base64 `data`.
    public var binary: Bool

    public init(tenant: String, artifactId: UUID, offset: UInt64 = 0, length: UInt64? = nil, binary: Bool = true) {
        self.tenant = tenant
        self.artifactId = artifactId
        self.offset = offset
        self.length = length
        self.binary = binary
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        artifactId = try params.uuid("artifactId")
        offset = try params.optionalInteger("offset") ?? 0
        length = try params.chunkLength(context)
        binary = try params.optionalBool("binary") ?? false
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("artifactId", artifactId)
        builder.set("offset", offset)
        builder.set("length", length)
        builder.set("binary", binary)
        return builder.object
    }

    public var answersWithAttachment: Bool { binary }
}

/// `blobs.stat`: `{tenant, sha256}`.
public struct BlobParams: MethodParams, Equatable {
    public var tenant: String
    public var sha256: SHA256Digest

    public init(tenant: String, sha256: SHA256Digest) {
        self.tenant = tenant
        self.sha256 = sha256
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        sha256 = try params.sha256("sha256")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("sha256", sha256)
        return builder.object
    }
}

/// `blobs.verify`: `{tenant, maxBytes?, cursor?, sha256?}`.
public struct VerifyBlobsParams: MethodParams, Equatable {
    public var tenant: String
    /// How many bytes to check in this call (the server caps it).
    public var maxBytes: UInt64?
    public var cursor: String?
    /// One blob to check instead of a page.
    public var sha256: SHA256Digest?

    public init(tenant: String, maxBytes: UInt64? = nil, cursor: String? = nil, sha256: SHA256Digest? = nil) {
        self.tenant = tenant
        self.maxBytes = maxBytes
        self.cursor = cursor
        self.sha256 = sha256
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        maxBytes = try params.optionalInteger("maxBytes")
        cursor = try params.optionalString("cursor")
        sha256 = try params.optionalSHA256("sha256")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("maxBytes", maxBytes)
        builder.set("cursor", cursor)
        builder.set("sha256", sha256)
        return builder.object
    }
}

/// `tenants.setQuota`: `{tenant, maxBytes?, maxArtifacts?}`, where `null`
/// removes a quota and an absent key leaves it.
public struct SetQuotaParams: MethodParams, Equatable {
    public var tenant: String
    public var maxBytes: Nullable<UInt64>
    public var maxArtifacts: Nullable<UInt64>

    public init(tenant: String, maxBytes: Nullable<UInt64> = .absent, maxArtifacts: Nullable<UInt64> = .absent) {
        self.tenant = tenant
        self.maxBytes = maxBytes
        self.maxArtifacts = maxArtifacts
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        maxBytes = try params.nullableInteger("maxBytes")
        maxArtifacts = try params.nullableInteger("maxArtifacts")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("maxBytes", maxBytes)
        builder.set("maxArtifacts", maxArtifacts)
        return builder.object
    }
}

/// `events.list`: `{tenant, limit?, cursor?}`.
public struct ListEventsParams: MethodParams, Equatable {
    public var tenant: String
    public var limit: Int
    public var cursor: String?

    public init(tenant: String, limit: Int = 100, cursor: String? = nil) {
        self.tenant = tenant
        self.limit = limit
        self.cursor = cursor
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        limit = try params.pageLimit("limit", context)
        cursor = try params.optionalString("cursor")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("limit", limit)
        builder.set("cursor", cursor)
        return builder.object
    }
}

/// `events.verify`: `{tenant, anchor?: {seq, sha256}}`.
public struct VerifyEventsParams: MethodParams, Equatable {
    /// A chain head recorded earlier (in a backup's manifest) that the log must still contain.
    public struct Anchor: Sendable, Equatable {
        public var seq: UInt64
        public var sha256: SHA256Digest?

        public init(seq: UInt64, sha256: SHA256Digest?) {
            self.seq = seq
            self.sha256 = sha256
        }
    }

    public var tenant: String
    public var anchor: Anchor?

    public init(tenant: String, anchor: Anchor? = nil) {
        self.tenant = tenant
        self.anchor = anchor
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        switch params.object["anchor"] {
        case nil, .null?:
            anchor = nil
        case .object(let object)?:
            let fields = Params(object)
            do throws(RPCError) {
                let seq = try fields.integer("seq")
                let sha256 = try fields.optionalString("sha256").map { (text) throws(RPCError) -> SHA256Digest in
                    guard let digest = SHA256Digest(parsing: text) else {
                        throw .invalidParams("anchor", "anchor.sha256 must be 64 hex digits")
                    }
                    return digest
                }
                anchor = Anchor(seq: seq, sha256: sha256)
            } catch  where error.code == .invalidParams {
                throw .invalidParams("anchor", "anchor must be {seq, sha256}: \(error.message)")
            }
        case _?:
            throw .invalidParams("anchor", "anchor must be an object {seq, sha256}")
        }
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        if let anchor {
            builder.set(
                "anchor",
                .object(
                    JSONObject([
                        ("seq", .number(JSONNumber(anchor.seq))),
                        ("sha256", anchor.sha256.map { .string($0.hex) } ?? .null),
                    ])))
        }
        return builder.object
    }
}

/// `artifacts.import`: `{tenant, artifacts: [{artifactId, sha256, sizeBytes, providerId, mimeType}], dryRun?}`.
public struct ImportParams: MethodParams, Equatable {
    /// One artifact to import with the meta it had where it was exported: its manifest entry.
    public typealias Entry = TenantManifest.Artifact

    public var tenant: String
    /// At most the largest page per call.
    public var artifacts: [Entry]
    /// Plan without writing.
    public var dryRun: Bool

    public init(tenant: String, artifacts: [Entry], dryRun: Bool = false) {
        self.tenant = tenant
        self.artifacts = artifacts
        self.dryRun = dryRun
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        artifacts = try Self.entries(params, context)
        dryRun = try params.optionalBool("dryRun") ?? false
    }

    /// The `artifacts` member: an array of at most `maxPageSize` entries, the first faulty one answered.
    static func entries(_ params: Params, _ context: ParamsContext) throws(RPCError) -> [Entry] {
        guard case .array(let elements)? = params.object["artifacts"] else {
            throw .invalidParams("artifacts", "artifacts must be an array")
        }
        guard elements.count <= context.maxPageSize else {
            throw .invalidParams("artifacts", "at most \(context.maxPageSize) artifacts per call")
        }
        var entries: [Entry] = []
        for element in elements {
            guard case .object(let object) = element else {
                throw .invalidParams("artifacts", "every artifact must be an object")
            }
            let fields = Params(object)
            do throws(RPCError) {
                guard let sha256 = SHA256Digest(parsing: try fields.string("sha256")),
                    context.isProviderID(try fields.string("providerId"))
                else { throw .invalidParams("artifacts", "a malformed sha256 or providerId") }
                entries.append(
                    Entry(
                        artifactId: try fields.uuid("artifactId"), sha256: sha256,
                        sizeBytes: try fields.integer("sizeBytes"), providerId: try fields.string("providerId"),
                        mimeType: try fields.string("mimeType")))
            } catch  where error.code == .invalidParams {
                throw .invalidParams("artifacts", "an artifact entry: \(error.message)")
            }
        }
        return entries
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("artifacts", Self.encode(artifacts))
        builder.set("dryRun", dryRun)
        return builder.object
    }

    /// The `artifacts` member's JSON.
    static func encode(_ entries: [Entry]) -> JSONValue {
        .array(
            entries.map { entry in
                .object(
                    JSONObject([
                        ("artifactId", .string(UUIDText.lowercase(entry.artifactId))),
                        ("sha256", .string(entry.sha256.hex)),
                        ("sizeBytes", .number(JSONNumber(entry.sizeBytes))),
                        ("providerId", .string(entry.providerId)), ("mimeType", .string(entry.mimeType)),
                    ]))
            })
    }
}

/// `artifacts.importBatch`: `{tenant, artifacts: [{artifactId, sha256, sizeBytes, providerId, mimeType}],
/// contents: [{sha256, sizeBytes}]}`, and the contents one after another as the request's attachment
/// (or base64 `data`; checked by the server after these).
///
/// An import in one request and one transaction: the entries of `artifacts.import`, and the contents
/// the tenant lacks, so that many small artifacts cost one round trip and one sync.
public struct ImportBatchParams: MethodParams, Equatable {
    /// One content of the attachment: its digest and length, in the attachment's order.
    public struct Content: Sendable, Equatable {
        public var sha256: SHA256Digest
        public var sizeBytes: UInt64

        public init(sha256: SHA256Digest, sizeBytes: UInt64) {
            self.sha256 = sha256
            self.sizeBytes = sizeBytes
        }
    }

    public var tenant: String
    /// At most the largest page per call.
    public var artifacts: [ImportParams.Entry]
    /// At most the largest page per call; their sizes add up to the attachment's length.
    public var contents: [Content]

    public init(tenant: String, artifacts: [ImportParams.Entry], contents: [Content]) {
        self.tenant = tenant
        self.artifacts = artifacts
        self.contents = contents
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        artifacts = try ImportParams.entries(params, context)
        guard case .array(let elements)? = params.object["contents"] else {
            throw .invalidParams("contents", "contents must be an array")
        }
        guard elements.count <= context.maxPageSize else {
            throw .invalidParams("contents", "at most \(context.maxPageSize) contents per call")
        }
        var contents: [Content] = []
        for element in elements {
            guard case .object(let object) = element else {
                throw .invalidParams("contents", "every content must be an object")
            }
            let fields = Params(object)
            do throws(RPCError) {
                contents.append(
                    Content(sha256: try fields.sha256("sha256"), sizeBytes: try fields.integer("sizeBytes")))
            } catch  where error.code == .invalidParams {
                throw .invalidParams("contents", "a content entry: \(error.message)")
            }
        }
        self.contents = contents
    }

    /// The attachment's length: the sum of the contents' sizes.
    public var contentBytes: UInt64 { contents.reduce(0) { $0 + $1.sizeBytes } }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("artifacts", ImportParams.encode(artifacts))
        builder.set(
            "contents",
            .array(
                contents.map {
                    .object(
                        JSONObject([
                            ("sha256", .string($0.sha256.hex)), ("sizeBytes", .number(JSONNumber($0.sizeBytes))),
                        ]))
                }))
        return builder.object
    }
}

/// `{tenant, providerId}` of a provider the catalog knows: `providers.config.get`, `providers.readiness`.
public struct ProviderParams: MethodParams, Equatable {
    public var tenant: String
    public var providerId: String

    public init(tenant: String, providerId: String) {
        self.tenant = tenant
        self.providerId = providerId
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        providerId = try params.knownProviderID("providerId", context)
    }

    public var encoded: JSONObject {
        JSONObject([("tenant", .string(tenant)), ("providerId", .string(providerId))])
    }
}

/// `providers.config.set`: `{tenant, providerId, values?, clear?, expectedRevision?}`.
///
/// The values' shapes depend on the provider's fields, so they are checked
/// by the server after these params (and after `expectedRevision`'s type).
public struct ConfigureProviderParams: MethodParams, Equatable {
    public var tenant: String
    public var providerId: String
    /// New values by field key, in the order given; `null` clears a field.
    public var values: [(key: String, value: JSONValue)]
    /// Field keys to clear.
    public var clear: [String]
    /// The revision the change is based on; `CONFLICT` when it is not the current one.
    public var expectedRevision: UInt64?

    public init(
        tenant: String, providerId: String, values: [(key: String, value: JSONValue)] = [], clear: [String] = [],
        expectedRevision: UInt64? = nil
    ) {
        self.tenant = tenant
        self.providerId = providerId
        self.values = values
        self.clear = clear
        self.expectedRevision = expectedRevision
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        tenant = try params.string("tenant")
        providerId = try params.knownProviderID("providerId", context)
        switch params.object["values"] {
        case nil, .null?: values = []
        case .object(let object)?: values = object.keys.map { ($0, object[$0]!) }
        case _?: throw .invalidParams("values", "values must be an object")
        }
        switch params.object["clear"] {
        case nil, .null?: clear = []
        case .array(let keys)?:
            clear = []
            for key in keys {
                guard case .string(let name) = key else {
                    throw .invalidParams("clear", "clear must be an array of field keys")
                }
                clear.append(name)
            }
        case _?: throw .invalidParams("clear", "clear must be an array of field keys")
        }
        expectedRevision = try params.optionalInteger("expectedRevision")
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("tenant", tenant)
        builder.set("providerId", providerId)
        if !values.isEmpty { builder.set("values", .object(JSONObject(values.map { ($0.key, $0.value) }))) }
        if !clear.isEmpty { builder.set("clear", .array(clear.map(JSONValue.string))) }
        builder.set("expectedRevision", expectedRevision)
        return builder.object
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.tenant == rhs.tenant && lhs.providerId == rhs.providerId
            && lhs.values.elementsEqual(rhs.values, by: { $0.key == $1.key && $0.value == $1.value })
            && lhs.clear == rhs.clear && lhs.expectedRevision == rhs.expectedRevision
    }
}
