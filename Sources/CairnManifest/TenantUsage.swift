/// Usage and quotas of one tenant.
public struct TenantUsage: Sendable, Equatable {
    public var tenant: TenantID
    public var artifactCount: UInt64
    /// The sum of the sizes of the tenant's artifacts.
    public var logicalBytes: UInt64
    /// The sum of the sizes of the tenant's unique blobs (what quotas limit).
    public var storedBytes: UInt64
    public var maxBytes: UInt64?
    public var maxArtifacts: UInt64?

    public init(
        tenant: TenantID, artifactCount: UInt64, logicalBytes: UInt64, storedBytes: UInt64, maxBytes: UInt64?,
        maxArtifacts: UInt64?
    ) {
        self.tenant = tenant
        self.artifactCount = artifactCount
        self.logicalBytes = logicalBytes
        self.storedBytes = storedBytes
        self.maxBytes = maxBytes
        self.maxArtifacts = maxArtifacts
    }
}
