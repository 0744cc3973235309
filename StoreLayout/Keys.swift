/// Key encodings. All integers are big-endian so that LMDB's byte order is
/// numeric order; tenant names end with a 0x00 byte (which a tenant name can
/// never contain), so one tenant's keys form one contiguous range.
public enum Keys {
    /// `tenant ‖ 0x00`: the prefix of every per-tenant key.
    public static func tenant(_ tenant: String) -> [UInt8] {
        Array(tenant.utf8) + [0]
    }

    /// `tenant ‖ 0x00 ‖ artifactId (16 bytes)`: an artifact of one tenant
    /// (layout 6 on). Ids are a tenant's own: two tenants may hold the same id.
    public static func artifact(tenant: String, id: UUIDBytes) -> [UInt8] {
        Self.tenant(tenant) + id.bytes
    }

    /// An artifact id alone: its 16 UUID bytes, the key of layouts 1 to 5
    /// (``DatabaseName/legacyArtifacts``), when ids were unique store-wide.
    public static func legacyArtifact(_ id: UUIDBytes) -> [UInt8] { id.bytes }

    /// An upload id: its 16 UUID bytes.
    public static func upload(_ id: UUIDBytes) -> [UInt8] { id.bytes }

    /// `tenant ‖ 0x00 ‖ listSeq (u64)`.
    public static func tenantArtifact(tenant: String, listSeq: UInt64) -> [UInt8] {
        var key = Self.tenant(tenant)
        key.appendBigEndian(listSeq)
        return key
    }

    /// `tenant ‖ 0x00 ‖ providerId ‖ 0x00`: the prefix of a provider's listing.
    public static func providerPrefix(tenant: String, providerId: String) -> [UInt8] {
        Self.tenant(tenant) + Array(providerId.utf8) + [0]
    }

    /// `tenant ‖ 0x00 ‖ providerId ‖ 0x00 ‖ listSeq (u64)`.
    public static func providerArtifact(tenant: String, providerId: String, listSeq: UInt64) -> [UInt8] {
        var key = providerPrefix(tenant: tenant, providerId: providerId)
        key.appendBigEndian(listSeq)
        return key
    }

    /// `tenant ‖ 0x00 ‖ sha256 (32 bytes)`.
    public static func blob(tenant: String, sha256: [UInt8]) -> [UInt8] {
        precondition(sha256.count == 32, "a SHA-256 digest is 32 bytes")
        return Self.tenant(tenant) + sha256
    }

    /// `tenant ‖ 0x00 ‖ sha256 (32 bytes) ‖ artifactId (16 bytes)`.
    public static func blobArtifact(tenant: String, sha256: [UInt8], artifactId: UUIDBytes) -> [UInt8] {
        blob(tenant: tenant, sha256: sha256) + artifactId.bytes
    }

    /// `extent (u64)`: an extent's key in ``DatabaseName/garbage``, and the
    /// prefix of its chunks.
    public static func extent(_ extent: UInt64) -> [UInt8] {
        var key: [UInt8] = []
        key.appendBigEndian(extent)
        return key
    }

    /// `extent (u64) ‖ index (u32)`.
    public static func chunk(extent: UInt64, index: UInt32) -> [UInt8] {
        var key = Self.extent(extent)
        key.appendBigEndian(index)
        return key
    }

    /// `tenant ‖ 0x00 ‖ seq (u64)`.
    public static func event(tenant: String, seq: UInt64) -> [UInt8] {
        var key = Self.tenant(tenant)
        key.appendBigEndian(seq)
        return key
    }

    /// `tenant ‖ 0x00 ‖ providerId`: a provider configuration.
    public static func providerConfig(tenant: String, providerId: String) -> [UInt8] {
        Self.tenant(tenant) + Array(providerId.utf8)
    }

    /// `tenant ‖ 0x00 ‖ artifactId (16 bytes) ‖ providerId ‖ 0x00 ‖ field key`:
    /// one field of a tenant's configuration referencing one of its artifacts
    /// (layout 6 on). ``artifact(tenant:id:)`` is the prefix of all
    /// references to that artifact.
    public static func artifactReference(
        tenant: String, artifactId: UUIDBytes, providerId: String, field: String
    ) -> [UInt8] {
        artifact(tenant: tenant, id: artifactId) + Array(providerId.utf8) + [0] + Array(field.utf8)
    }

    /// The same reference in layouts 3 to 5, without the tenant:
    /// `artifactId (16 bytes) ‖ providerId ‖ 0x00 ‖ field key`.
    public static func legacyArtifactReference(artifactId: UUIDBytes, providerId: String, field: String) -> [UInt8] {
        artifactId.bytes + Array(providerId.utf8) + [0] + Array(field.utf8)
    }

    /// Splits a reference key into its provider id and field key, given the
    /// length of what stands before the provider id: the
    /// ``artifact(tenant:id:)`` prefix (or 16 for a legacy key).
    public static func referenceParts(
        of key: some Collection<UInt8>, afterPrefixOf prefixLength: Int
    ) -> (providerId: String, field: String)? {
        let rest = key.dropFirst(prefixLength)
        guard key.count > prefixLength, let separator = rest.firstIndex(of: 0) else { return nil }
        guard let providerId = String(validating: rest[..<separator], as: UTF8.self),
            let field = String(validating: rest[rest.index(after: separator)...], as: UTF8.self)
        else { return nil }
        return (providerId, field)
    }

    /// Reads the trailing big-endian u64 of a key (a `listSeq` or an event `seq`).
    public static func trailingSequence(of key: some Collection<UInt8>) -> UInt64? {
        guard key.count >= 8 else { return nil }
        return key.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Reads the extent and index of a chunk key.
    public static func chunkPosition(of key: some Collection<UInt8>) -> (extent: UInt64, index: UInt32)? {
        guard key.count == 12 else { return nil }
        let bytes = Array(key)
        let extent = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        let index = bytes[8..<12].reduce(0) { $0 << 8 | UInt32($1) }
        return (extent, index)
    }
}

/// The 16 bytes of a UUID, as stored in keys and records.
public struct UUIDBytes: Hashable, Sendable {
    /// The bytes, in the UUID's canonical order.
    public let bytes: [UInt8]

    /// Wraps exactly 16 bytes; `nil` otherwise.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        self.bytes = Array(bytes)
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` in big-endian byte order.
    public mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var big = value.bigEndian
        Swift.withUnsafeBytes(of: &big) { append(contentsOf: $0) }
    }
}
