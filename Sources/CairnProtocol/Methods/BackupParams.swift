import CairnDigest

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `{content?}`: `backup.begin`.
public struct BackupBeginParams: MethodParams, Equatable {
    /// Where a snapshot's content is.
    public enum Content: String, Sendable, Equatable {
        /// In the snapshot's `data.mdb`, the whole store (the default).
        case included
        /// Apart: `data.mdb` is the store without its content (its *metadata file*), and each
        /// content the file refers to is read with `backup.readContent`.
        case separate
    }

    public var content: Content

    public init(content: Content = .included) { self.content = content }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        let text = try params.optionalString("content") ?? Content.included.rawValue
        guard let content = Content(rawValue: text) else {
            throw RPCError.invalidParams("content", "content is \"included\" or \"separate\"")
        }
        self.content = content
    }

    public var encoded: JSONObject {
        content == .included ? JSONObject() : JSONObject([("content", .string(content.rawValue))])
    }
}

/// `{snapshotId, tenant, sha256, offset?, length?}` for a blob, or `{snapshotId, uploadId,
/// offset?, length?}` for an open upload: `backup.readContent`. The bytes always travel as an
/// attachment.
public struct BackupContentParams: MethodParams, Equatable {
    /// Which content of the snapshot.
    public enum Content: Sendable, Equatable {
        /// The blob of `sha256` in `tenant`.
        case blob(tenant: String, sha256: SHA256Digest)
        /// The bytes an open upload had received when the snapshot was taken.
        case upload(UUID)
    }

    public var snapshotId: UUID
    public var content: Content
    public var offset: UInt64
    /// At most `maxChunkBytes`; that when not given.
    public var length: UInt64?

    public init(snapshotId: UUID, content: Content, offset: UInt64 = 0, length: UInt64? = nil) {
        self.snapshotId = snapshotId
        self.content = content
        self.offset = offset
        self.length = length
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        snapshotId = try params.uuid("snapshotId")
        if params.has("uploadId") {
            guard !params.has("tenant"), !params.has("sha256") else {
                throw RPCError.invalidParams("uploadId", "name either uploadId or tenant and sha256, not both")
            }
            content = .upload(try params.uuid("uploadId"))
        } else {
            content = .blob(tenant: try params.string("tenant"), sha256: try params.sha256("sha256"))
        }
        offset = try params.optionalInteger("offset") ?? 0
        length = try params.chunkLength(context)
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("snapshotId", snapshotId)
        switch content {
        case .blob(let tenant, let sha256):
            builder.set("tenant", tenant)
            builder.set("sha256", sha256)
        case .upload(let uploadId):
            builder.set("uploadId", uploadId)
        }
        builder.set("offset", offset)
        builder.set("length", length)
        return builder.object
    }

    public var answersWithAttachment: Bool { true }
}

/// `{snapshotId}`: `backup.end`.
public struct BackupSnapshotParams: MethodParams, Equatable {
    public var snapshotId: UUID

    public init(snapshotId: UUID) { self.snapshotId = snapshotId }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        snapshotId = try params.uuid("snapshotId")
    }

    public var encoded: JSONObject { JSONObject([("snapshotId", .string(UUIDText.lowercase(snapshotId)))]) }
}

/// `{snapshotId, path, offset?, length?}`: `backup.read`. The bytes always
/// travel as an attachment.
public struct BackupReadParams: MethodParams, Equatable {
    public var snapshotId: UUID
    /// A file of the snapshot, as `backup.begin` lists it (`data.mdb`, `config/…`).
    public var path: String
    public var offset: UInt64
    /// At most `maxChunkBytes`; that when not given.
    public var length: UInt64?

    public init(snapshotId: UUID, path: String, offset: UInt64 = 0, length: UInt64? = nil) {
        self.snapshotId = snapshotId
        self.path = path
        self.offset = offset
        self.length = length
    }

    public init(decoding params: Params, context: ParamsContext) throws(RPCError) {
        snapshotId = try params.uuid("snapshotId")
        path = try params.string("path")
        offset = try params.optionalInteger("offset") ?? 0
        length = try params.chunkLength(context)
    }

    public var encoded: JSONObject {
        var builder = ParamsBuilder()
        builder.set("snapshotId", snapshotId)
        builder.set("path", path)
        builder.set("offset", offset)
        builder.set("length", length)
        return builder.object
    }

    public var answersWithAttachment: Bool { true }
}

/// One file of a snapshot: its path in a backup directory, size and SHA-256.
public struct BackupFileEntry: Sendable, Equatable {
    public var path: String
    public var sizeBytes: UInt64
    public var sha256: SHA256Digest

    public init(path: String, sizeBytes: UInt64, sha256: SHA256Digest) {
        self.path = path
        self.sizeBytes = sizeBytes
        self.sha256 = sha256
    }

    var encoded: JSONValue {
        .object(
            JSONObject([
                ("path", .string(path)), ("sizeBytes", .number(JSONNumber(sizeBytes))), ("sha256", .string(sha256.hex)),
            ]))
    }
}

/// `backup.begin`'s result: the snapshot's id, its files (`data.mdb` first)
/// and the manifest of every tenant computed from the snapshot itself.
public struct BackupSnapshotResult: MethodResult, Equatable {
    public var snapshotId: UUID
    /// When the snapshot was taken (RFC 3339 UTC, milliseconds).
    public var createdAt: String
    /// The store's layout version, which the snapshot's `data.mdb` has.
    public var layoutVersion: UInt64
    public var files: [BackupFileEntry]
    /// The store manifest's digest.
    public var digest: SHA256Digest
    /// Every tenant's manifest, as `tenants.manifest` gives one.
    public var tenants: [JSONValue]
    /// Whether `data.mdb` holds the content or `backup.readContent` serves it.
    public var content: BackupBeginParams.Content

    public init(
        snapshotId: UUID, createdAt: String, layoutVersion: UInt64, files: [BackupFileEntry], digest: SHA256Digest,
        tenants: [JSONValue], content: BackupBeginParams.Content = .included
    ) {
        self.content = content
        self.snapshotId = snapshotId
        self.createdAt = createdAt
        self.layoutVersion = layoutVersion
        self.files = files
        self.digest = digest
        self.tenants = tenants
    }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        let fields = try ResultFields(result, "a snapshot")
        snapshotId = try fields.uuid("snapshotId")
        createdAt = try fields.string("createdAt")
        layoutVersion = try fields.integer("layoutVersion")
        digest = try fields.sha256("digest")
        guard let files = fields.object["files"]?.arrayValue, let tenants = fields.object["tenants"]?.arrayValue
        else { throw MethodResultError("a snapshot without files or tenants") }
        self.files = try files.map { (entry) throws(MethodResultError) in
            let file = try ResultFields(entry, "a snapshot file")
            return BackupFileEntry(
                path: try file.string("path"), sizeBytes: try file.integer("sizeBytes"),
                sha256: try file.sha256("sha256"))
        }
        self.tenants = tenants
        let content = try fields.object["content"].map { (value) throws(MethodResultError) in
            guard let text = value.stringValue, let content = BackupBeginParams.Content(rawValue: text) else {
                throw MethodResultError("a snapshot whose content is neither included nor separate")
            }
            return content
        }
        self.content = content ?? .included
    }

    public var encoded: JSONValue {
        .object(
            JSONObject([
                ("snapshotId", .string(UUIDText.lowercase(snapshotId))), ("createdAt", .string(createdAt)),
                ("layoutVersion", .number(JSONNumber(layoutVersion))), ("files", .array(files.map(\.encoded))),
                ("digest", .string(digest.hex)), ("tenants", .array(tenants)), ("content", .string(content.rawValue)),
            ]))
    }

    public var attachment: [UInt8]? { nil }
}

/// `backup.read`'s result: `{path, offset, length, eof, dataLength}` and the bytes.
public struct BackupChunkResult: MethodResult, Equatable {
    public var path: String
    public var offset: UInt64
    public var bytes: [UInt8]
    /// Whether the range reaches the file's end.
    public var eof: Bool

    public init(path: String, offset: UInt64, bytes: [UInt8], eof: Bool) {
        self.path = path
        self.offset = offset
        self.bytes = bytes
        self.eof = eof
    }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        let fields = try ResultFields(result, "a snapshot read")
        guard let attachment else { throw MethodResultError("a snapshot read without its bytes") }
        path = try fields.string("path")
        offset = try fields.integer("offset")
        guard let eof = fields.object["eof"]?.boolValue else { throw MethodResultError("a snapshot read without eof") }
        self.eof = eof
        bytes = attachment
    }

    public var encoded: JSONValue {
        .object(
            JSONObject([
                ("path", .string(path)), ("offset", .number(JSONNumber(offset))),
                ("length", .number(JSONNumber(bytes.count))), ("eof", .bool(eof)),
                ("dataLength", .number(JSONNumber(bytes.count))),
            ]))
    }

    public var attachment: [UInt8]? { bytes }
}

/// `backup.readContent`'s result: `{offset, length, eof, dataLength}` and the bytes.
public struct BackupContentResult: MethodResult, Equatable {
    public var offset: UInt64
    public var bytes: [UInt8]
    /// Whether the range reaches the content's end.
    public var eof: Bool

    public init(offset: UInt64, bytes: [UInt8], eof: Bool) {
        self.offset = offset
        self.bytes = bytes
        self.eof = eof
    }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        let fields = try ResultFields(result, "a content read")
        guard let attachment else { throw MethodResultError("a content read without its bytes") }
        offset = try fields.integer("offset")
        guard let eof = fields.object["eof"]?.boolValue else { throw MethodResultError("a content read without eof") }
        self.eof = eof
        bytes = attachment
    }

    public var encoded: JSONValue {
        .object(
            JSONObject([
                ("offset", .number(JSONNumber(offset))), ("length", .number(JSONNumber(bytes.count))),
                ("eof", .bool(eof)), ("dataLength", .number(JSONNumber(bytes.count))),
            ]))
    }

    public var attachment: [UInt8]? { bytes }
}

/// `backup.end`'s result: `{snapshotId, ended: true}`.
public struct BackupEndedResult: MethodResult, Equatable {
    public var snapshotId: UUID

    public init(snapshotId: UUID) { self.snapshotId = snapshotId }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        snapshotId = try ResultFields(result, "an ended snapshot").uuid("snapshotId")
    }

    public var encoded: JSONValue {
        .object(JSONObject([("snapshotId", .string(UUIDText.lowercase(snapshotId))), ("ended", true)]))
    }

    public var attachment: [UInt8]? { nil }
}
