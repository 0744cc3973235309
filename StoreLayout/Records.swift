/// Keys of ``DatabaseName/meta``.
public enum MetaKey {
    /// u32: the layout version the store is at.
    public static let layoutVersion = Array("layoutVersion".utf8)
    /// 16 bytes: a random id given to the store when it is created.
    public static let storeId = Array("storeId".utf8)
    /// i64: milliseconds since 1970 when the store was created.
    public static let createdAt = Array("createdAt".utf8)
    /// u64: the next extent number to hand out.
    public static let nextExtent = Array("nextExtent".utf8)
}

/// Usage, quotas and sequence counters of one tenant.
///
/// A tenant without a record has zero usage, no quotas, and counters at 1.
public struct TenantRecord: LayoutRecord {
    public var artifactCount: UInt64 = 0
    /// The sum of the sizes of the tenant's artifacts.
    public var logicalBytes: UInt64 = 0
    /// The sum of the sizes of the tenant's unique blobs.
    public var storedBytes: UInt64 = 0
    public var maxBytes: UInt64? = nil
    public var maxArtifacts: UInt64? = nil
    /// The listing position the next artifact gets (per tenant, so that a
    /// cursor reveals nothing about other tenants).
    public var nextListSeq: UInt64 = 1
    /// The sequence number the next event gets.
    public var nextEventSeq: UInt64 = 1

    public init() {}

    public func encoded() -> [UInt8] {
        var w = RecordWriter(format: 1)
        w.write(artifactCount)
        w.write(logicalBytes)
        w.write(storedBytes)
        w.write(maxBytes)
        w.write(maxArtifacts)
        w.write(nextListSeq)
        w.write(nextEventSeq)
        return w.bytes
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(LayoutDecodingError) {
        var r = try RecordReader(bytes, record: "TenantRecord")
        guard r.format == 1 else { throw r.unknownFormat() }
        artifactCount = try r.readUInt64()
        logicalBytes = try r.readUInt64()
        storedBytes = try r.readUInt64()
        maxBytes = try r.readOptionalUInt64()
        maxArtifacts = try r.readOptionalUInt64()
        nextListSeq = try r.readUInt64()
        nextEventSeq = try r.readUInt64()
        try r.finish()
    }
}

/// One artifact: a named, typed reference from a tenant to a blob.
public struct ArtifactRecord: LayoutRecord {
    public var tenant: String
    public var providerId: String
    public var mimeType: String
    public var sizeBytes: UInt64
    /// The 32-byte SHA-256 of the content (and the blob's key).
    public var sha256: [UInt8]
    /// Milliseconds since 1970.
    public var stagedAt: Int64
    public var stagedBy: String
    /// The artifact's position in its tenant's listing.
    public var listSeq: UInt64

    public init(
        tenant: String, providerId: String, mimeType: String, sizeBytes: UInt64,
        sha256: [UInt8], stagedAt: Int64, stagedBy: String, listSeq: UInt64
    ) {
        self.tenant = tenant
        self.providerId = providerId
        self.mimeType = mimeType
        self.sizeBytes = sizeBytes
        self.sha256 = sha256
        self.stagedAt = stagedAt
        self.stagedBy = stagedBy
        self.listSeq = listSeq
    }

    public func encoded() -> [UInt8] {
        var w = RecordWriter(format: 1)
        w.write(tenant)
        w.write(providerId)
        w.write(mimeType)
        w.write(sizeBytes)
        w.write(sha256)
        w.write(stagedAt)
        w.write(stagedBy)
        w.write(listSeq)
        return w.bytes
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(LayoutDecodingError) {
        var r = try RecordReader(bytes, record: "ArtifactRecord")
        guard r.format == 1 else { throw r.unknownFormat() }
        tenant = try r.readString()
        providerId = try r.readString()
        mimeType = try r.readString()
        sizeBytes = try r.readUInt64()
        sha256 = try r.readBytes()
        stagedAt = try r.readInt64()
        stagedBy = try r.readString()
        listSeq = try r.readUInt64()
        try r.finish()
        guard sha256.count == 32 else { throw LayoutDecodingError(record: "ArtifactRecord", reason: "digest size") }
    }
}

/// Unique content of one tenant, stored as the chunks of one extent.
public struct BlobRecord: LayoutRecord {
    public var sizeBytes: UInt64
    /// How many artifacts reference the blob; the blob is freed at zero.
    public var refCount: UInt64
    /// The extent holding the chunks.
    public var extent: UInt64
    /// The data bytes per chunk (every chunk but the last is full).
    public var chunkSize: UInt32
    /// Milliseconds since 1970.
    public var storedAt: Int64

    public init(sizeBytes: UInt64, refCount: UInt64, extent: UInt64, chunkSize: UInt32, storedAt: Int64) {
        self.sizeBytes = sizeBytes
        self.refCount = refCount
        self.extent = extent
        self.chunkSize = chunkSize
        self.storedAt = storedAt
    }

    /// The number of chunks: zero for empty content.
    public var chunkCount: UInt32 { ChunkGeometry(chunkSize: chunkSize).chunkCount(for: sizeBytes) }

    public func encoded() -> [UInt8] {
        var w = RecordWriter(format: 1)
        w.write(sizeBytes)
        w.write(refCount)
        w.write(extent)
        w.write(chunkSize)
        w.write(storedAt)
        return w.bytes
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(LayoutDecodingError) {
        var r = try RecordReader(bytes, record: "BlobRecord")
        guard r.format == 1 else { throw r.unknownFormat() }
        sizeBytes = try r.readUInt64()
        refCount = try r.readUInt64()
        extent = try r.readUInt64()
        chunkSize = try r.readUInt32()
        storedAt = try r.readInt64()
        try r.finish()
        guard chunkSize > 0 else { throw LayoutDecodingError(record: "BlobRecord", reason: "zero chunk size") }
    }
}

/// An open upload: its bytes so far live in the chunks of its extent.
public struct UploadRecord: LayoutRecord {
    public var tenant: String
    public var providerId: String
    public var mimeType: String
    /// Who began it; only they may continue it.
    public var owner: String
    public var declaredSize: UInt64?
    /// The 32-byte digest the content must have, when given at begin.
    public var expectedSHA256: [UInt8]?
    public var extent: UInt64
    public var chunkSize: UInt32
    /// The bytes received and stored so far.
    public var offset: UInt64
    public var startedAt: Int64
    public var updatedAt: Int64

    public init(
        tenant: String, providerId: String, mimeType: String, owner: String,
        declaredSize: UInt64?, expectedSHA256: [UInt8]?, extent: UInt64, chunkSize: UInt32,
        offset: UInt64, startedAt: Int64, updatedAt: Int64
    ) {
        self.tenant = tenant
        self.providerId = providerId
        self.mimeType = mimeType
        self.owner = owner
        self.declaredSize = declaredSize
        self.expectedSHA256 = expectedSHA256
        self.extent = extent
        self.chunkSize = chunkSize
        self.offset = offset
        self.startedAt = startedAt
        self.updatedAt = updatedAt
    }

    public func encoded() -> [UInt8] {
        var w = RecordWriter(format: 1)
        w.write(tenant)
        w.write(providerId)
        w.write(mimeType)
        w.write(owner)
        w.write(declaredSize)
        w.write(expectedSHA256)
        w.write(extent)
        w.write(chunkSize)
        w.write(offset)
        w.write(startedAt)
        w.write(updatedAt)
        return w.bytes
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(LayoutDecodingError) {
        var r = try RecordReader(bytes, record: "UploadRecord")
        guard r.format == 1 else { throw r.unknownFormat() }
        tenant = try r.readString()
        providerId = try r.readString()
        mimeType = try r.readString()
        owner = try r.readString()
        declaredSize = try r.readOptionalUInt64()
        expectedSHA256 = try r.readOptionalBytes()
        extent = try r.readUInt64()
        chunkSize = try r.readUInt32()
        offset = try r.readUInt64()
        startedAt = try r.readInt64()
        updatedAt = try r.readInt64()
        try r.finish()
        guard chunkSize > 0 else { throw LayoutDecodingError(record: "UploadRecord", reason: "zero chunk size") }
    }
}

/// One entry of a tenant's audit log.
///
/// Format 2 (layout 4) adds ``previous``: the chain hash of the tenant's
/// previous event (see ``EventChain``). Format 1 records, written before
/// layout 4, have none.
public struct EventRecord: LayoutRecord {
    /// Milliseconds since 1970.
    public var at: Int64
    public var actor: String
    /// `artifact.created`, `artifact.deleted`, `quota.set`, …
    public var action: String
    public var artifactId: [UInt8]?
    public var sha256: [UInt8]?
    public var providerId: String?
    /// A compact JSON object with action-specific facts, when there are any.
    public var detail: String?
    /// The 32-byte chain hash of the tenant's previous event (32 zero bytes
    /// for its first); `nil` in a format 1 record.
    public var previous: [UInt8]?

    public init(
        at: Int64, actor: String, action: String, artifactId: [UInt8]? = nil,
        sha256: [UInt8]? = nil, providerId: String? = nil, detail: String? = nil, previous: [UInt8]? = nil
    ) {
        self.at = at
        self.actor = actor
        self.action = action
        self.artifactId = artifactId
        self.sha256 = sha256
        self.providerId = providerId
        self.detail = detail
        self.previous = previous
    }

    /// Format 2 when the record has a ``previous`` hash, else format 1.
    public func encoded() -> [UInt8] {
        var w = RecordWriter(format: previous == nil ? 1 : 2)
        writeFields(into: &w)
        if let previous { w.write(previous) }
        return w.bytes
    }

    /// The fields of format 1, in order, without the format byte: what the
    /// chain hash covers (see ``EventChain/hash(tenant:seq:previous:event:)``).
    public func writeFields(into w: inout RecordWriter) {
        w.write(at)
        w.write(actor)
        w.write(action)
        w.write(artifactId)
        w.write(sha256)
        w.write(providerId)
        w.write(detail)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(LayoutDecodingError) {
        var r = try RecordReader(bytes, record: "EventRecord")
        guard r.format == 1 || r.format == 2 else { throw r.unknownFormat() }
        at = try r.readInt64()
        actor = try r.readString()
        action = try r.readString()
        artifactId = try r.readOptionalBytes()
        sha256 = try r.readOptionalBytes()
        providerId = try r.readOptionalString()
        detail = try r.readOptionalString()
        previous = r.format == 2 ? try r.readBytes() : nil
        try r.finish()
        if let previous, previous.count != 32 {
            throw LayoutDecodingError(record: "EventRecord", reason: "previous hash size")
        }
    }
}

/// How content maps onto fixed-size chunks.
///
/// A chunk value is a ``ChunkHeader`` (32 bytes) followed by the chunk's data.
public struct ChunkGeometry: Sendable, Equatable {
    /// The chunk size of layout 1: 1 MiB of data per chunk. With the 32-byte
    /// header in front, a chunk value fills 257 overflow pages of 4 KiB, and
    /// every full chunk has the same size, so freed runs are reused exactly.
    public static let standard = ChunkGeometry(chunkSize: 1 << 20)

    /// Data bytes per chunk.
    public let chunkSize: UInt32

    public init(chunkSize: UInt32) {
        precondition(chunkSize > 0)
        self.chunkSize = chunkSize
    }

    /// How many chunks hold `size` bytes.
    public func chunkCount(for size: UInt64) -> UInt32 {
        UInt32((size + UInt64(chunkSize) - 1) / UInt64(chunkSize))
    }

    /// The chunk holding byte `offset`, and where in it the byte is.
    public func position(of offset: UInt64) -> (index: UInt32, within: Int) {
        (UInt32(offset / UInt64(chunkSize)), Int(offset % UInt64(chunkSize)))
    }
}

/// The stored configuration of one provider for one tenant (layout 3).
///
/// Values are kept as text in their shape; artifact references as canonical
/// lowercase UUID strings. Secret values are stored like any other: hiding
/// them is the reader's job.
public struct ProviderConfigRecord: LayoutRecord {
    /// The shape a value was stored in.
    public enum Shape: UInt8, Sendable {
        case scalar = 0
        case listOfStrings = 1
        case artifactRef = 2
        case listOfArtifactRefs = 3
    }

    /// One set field: its key, shape and items (one item for the single shapes).
    public struct Value: Sendable, Equatable {
        public var key: String
        public var shape: Shape
        public var items: [String]

        public init(key: String, shape: Shape, items: [String]) {
            self.key = key
            self.shape = shape
            self.items = items
        }
    }

    /// Starts at 1 with the first change and increases by one with every change.
    public var revision: UInt64
    /// Milliseconds since 1970 of the last change.
    public var updatedAt: Int64
    /// Who made the last change (the same string as an artifact's `stagedBy`).
    public var updatedBy: String
    /// The set fields, ordered by key.
    public var values: [Value]

    public init(revision: UInt64, updatedAt: Int64, updatedBy: String, values: [Value]) {
        self.revision = revision
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
        self.values = values
    }

    public func encoded() -> [UInt8] {
        var w = RecordWriter(format: 1)
        w.write(revision)
        w.write(updatedAt)
        w.write(updatedBy)
        w.write(UInt32(values.count))
        for value in values {
            w.write(value.key)
            w.write(value.shape.rawValue)
            w.write(UInt32(value.items.count))
            for item in value.items { w.write(item) }
        }
        return w.bytes
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(LayoutDecodingError) {
        var r = try RecordReader(bytes, record: "ProviderConfigRecord")
        guard r.format == 1 else { throw r.unknownFormat() }
        revision = try r.readUInt64()
        updatedAt = try r.readInt64()
        updatedBy = try r.readString()
        let count = try r.readUInt32()
        var values: [Value] = []
        for _ in 0..<count {
            let key = try r.readString()
            let code = try r.readUInt8()
            guard let shape = Shape(rawValue: code) else {
                throw LayoutDecodingError(record: "ProviderConfigRecord", reason: "unknown shape \(code)")
            }
            let itemCount = try r.readUInt32()
            var items: [String] = []
            for _ in 0..<itemCount { items.append(try r.readString()) }
            values.append(Value(key: key, shape: shape, items: items))
        }
        self.values = values
        try r.finish()
    }
}
