import CairnDigest
import Foundation

/// What the store knows about an artifact. Never holds the payload.
public struct ArtifactMeta: Sendable, Equatable {
    public var artifactId: UUID
    public var tenant: TenantID
    public var providerId: ProviderID
    public var mimeType: String
    public var sizeBytes: UInt64
    public var sha256: SHA256Digest
    public var stagedAt: Date
    /// The actor that staged it (a user name, else `uid:N`).
    public var stagedBy: String
}

/// The result of staging or committing: the artifact, and whether its
/// content was already stored for the tenant.
public struct CommittedArtifact: Sendable, Equatable {
    public var meta: ArtifactMeta
    /// True when the tenant already held this content; no new bytes were stored.
    public var deduplicated: Bool
}

/// An open upload as its owner sees it.
public struct UploadStatus: Sendable, Equatable {
    public var uploadId: UUID
    /// The tenant the upload stages into.
    public var tenant: TenantID
    /// The bytes stored so far; the next append starts here.
    public var offset: UInt64
    public var declaredSize: UInt64?
    public var startedAt: Date
    public var updatedAt: Date
}

/// A change to one quota: leave it, set it, or remove it.
public enum QuotaChange: Sendable, Equatable {
    case unchanged
    case set(UInt64)
    case remove
}

/// One page of a listing.
public struct ArtifactPage: Sendable, Equatable {
    public var artifacts: [ArtifactMeta]
    /// Pass back to continue after the last artifact; `nil` at the end.
    public var nextCursor: String?
}

/// A verified range of an artifact's content.
public struct ArtifactRange: Sendable, Equatable {
    public var bytes: [UInt8]
    public var offset: UInt64
    /// True when the range ends at the end of the artifact.
    public var eof: Bool
    /// The whole artifact's digest.
    public var sha256: SHA256Digest
    public var sizeBytes: UInt64
}

/// What a tenant holds under a digest.
public struct BlobStat: Sendable, Equatable {
    public var sha256: SHA256Digest
    public var sizeBytes: UInt64
    /// The tenant's artifacts with this content, in id order.
    public var artifactIds: [UUID]
    public var storedAt: Date
    /// Exact count of references (equals `artifactIds.count`).
    public var refCount: UInt64
}

/// One entry of the audit log.
public struct AuditEvent: Sendable, Equatable {
    public var seq: UInt64
    public var at: Date
    public var actor: String
    public var action: String
    public var artifactId: UUID?
    public var sha256: SHA256Digest?
    public var providerId: String?
    /// A compact JSON object with action-specific facts.
    public var detail: String?
}

/// One page of the audit log.
public struct EventPage: Sendable, Equatable {
    public var events: [AuditEvent]
    public var nextCursor: String?
}

/// The store's state for `system.health`.
public struct StoreHealth: Sendable, Equatable {
    public var layoutVersion: UInt32
    /// Bytes of the map in use.
    public var usedBytes: UInt64
    /// The most the store may grow to.
    public var sizeLimitBytes: UInt64
    /// Free bytes on the file system of the store, for unprivileged users.
    public var diskFreeBytes: UInt64
    /// Bytes new content can still take: free pages in the map, its unused
    /// end, and what the map can still grow into on the disk (beside the
    /// reserve kept for deletes) up to the size limit.
    public var headroomBytes: UInt64
    public var openUploads: Int
    /// Extents waiting to be reclaimed.
    public var pendingReclaim: Int
}

/// Who performs a write: recorded as `stagedBy` and event `actor`, and the
/// owner of the uploads they begin.
public struct Actor: Sendable, Hashable {
    public var name: String
    public init(_ name: String) { self.name = name }
}
