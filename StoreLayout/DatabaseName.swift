/// The named databases of a Cairn store.
///
/// Every key and value layout is described next to its name here and in
/// `docs/store-layout.md`; the two must agree. Names are part of the on-disk
/// format: never rename one, add a new one in a migration instead.
public struct DatabaseName: Hashable, Sendable, CustomStringConvertible {
    /// The name LMDB stores.
    public let rawValue: String

    init(_ rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    /// Store-wide facts: layout version, store id, counters.
    /// Key: an ASCII name (``MetaKey``). Value: per key.
    public static let meta = DatabaseName("meta")

    /// Per-tenant usage, quotas and sequence counters.
    /// Key: ``Keys/tenant(_:)``. Value: ``TenantRecord``.
    public static let tenants = DatabaseName("tenants")

    /// Artifacts by tenant and id (layout 6 on; before, ``legacyArtifacts``).
    /// Key: ``Keys/artifact(tenant:id:)``. Value: ``ArtifactRecord``.
    public static let artifacts = DatabaseName("tenantArtifactRecords")

    /// Artifacts by id alone, store-wide (layouts 1 to 5; moved into
    /// ``artifacts`` and removed by layout 6).
    /// Key: ``Keys/legacyArtifact(_:)`` (16 UUID bytes). Value: ``ArtifactRecord``.
    public static let legacyArtifacts = DatabaseName("artifacts")

    /// The listing order of a tenant's artifacts.
    /// Key: ``Keys/tenantArtifact(tenant:listSeq:)``. Value: 16 UUID bytes.
    public static let tenantArtifacts = DatabaseName("tenantArtifacts")

    /// The listing order of a tenant's artifacts of one provider (layout 2).
    /// Key: ``Keys/providerArtifact(tenant:providerId:listSeq:)``. Value: 16 UUID bytes.
    public static let providerArtifacts = DatabaseName("providerArtifacts")

    /// Blobs: unique content within a tenant.
    /// Key: ``Keys/blob(tenant:sha256:)``. Value: ``BlobRecord``.
    public static let blobs = DatabaseName("blobs")

    /// Which artifacts reference a blob.
    /// Key: ``Keys/blobArtifact(tenant:sha256:artifactId:)``. Value: empty.
    public static let blobArtifacts = DatabaseName("blobArtifacts")

    /// Content chunks, for blobs and open uploads alike.
    /// Key: ``Keys/chunk(extent:index:)``. Value: 32-byte SHA-256 of the data, then the data.
    public static let chunks = DatabaseName("chunks")

    /// Open uploads.
    /// Key: ``Keys/upload(_:)`` (16 UUID bytes). Value: ``UploadRecord``.
    public static let uploads = DatabaseName("uploads")

    /// Extents whose chunks are to be reclaimed.
    /// Key: ``Keys/extent(_:)``. Value: empty.
    public static let garbage = DatabaseName("garbage")

    /// The audit log.
    /// Key: ``Keys/event(tenant:seq:)``. Value: ``EventRecord``.
    public static let events = DatabaseName("events")

    /// Provider configurations, one per tenant and provider (layout 3).
    /// Key: ``Keys/providerConfig(tenant:providerId:)``. Value: ``ProviderConfigRecord``.
    public static let providerConfigs = DatabaseName("providerConfigs")

    /// Which configuration fields reference an artifact, so that a delete
    /// can refuse an artifact in use without scanning configurations
    /// (layout 6 on; before, ``legacyArtifactReferences``).
    /// Key: ``Keys/artifactReference(tenant:artifactId:providerId:field:)``. Value: empty.
    public static let artifactReferences = DatabaseName("tenantArtifactReferences")

    /// The reference index of layouts 3 to 5, keyed by artifact id alone
    /// (moved into ``artifactReferences`` and removed by layout 6).
    /// Key: ``Keys/legacyArtifactReference(artifactId:providerId:field:)``. Value: empty.
    public static let legacyArtifactReferences = DatabaseName("artifactReferences")
}
