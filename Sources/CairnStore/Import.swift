import CairnDigest
import Foundation
import LMDB
import StoreLayout

/// One artifact an import brings: its id (kept), content digest and meta.
public struct ImportEntry: Sendable, Equatable {
    /// The id the artifact keeps.
    public var artifactId: UUID
    /// The digest of its content.
    public var sha256: SHA256Digest
    public var sizeBytes: UInt64
    public var providerId: ProviderID
    public var mimeType: String

    /// An artifact to import, with the meta it had where it was exported.
    public init(artifactId: UUID, sha256: SHA256Digest, sizeBytes: UInt64, providerId: ProviderID, mimeType: String) {
        self.artifactId = artifactId
        self.sha256 = sha256
        self.sizeBytes = sizeBytes
        self.providerId = providerId
        self.mimeType = mimeType
    }
}

/// What an import would do with one artifact.
public enum ImportDisposition: String, Sendable, Equatable {
    /// The tenant has this artifact already, with the same content and meta: nothing to do.
    case present
    /// The tenant holds the content: the artifact can be created without sending a byte.
    case link
    /// The content must be sent first (`uploads.commit` or `artifacts.upload` with the artifact id).
    case needsContent
    /// The id is in use by an artifact that is not this one, so the import cannot keep it (or the
    /// entry's size is not that of the content the tenant holds under its digest).
    case conflict
}

/// What an import of a list of artifacts would do, decided before anything is written.
public struct ImportPlan: Sendable, Equatable {
    /// The disposition of every entry, in the order given.
    public var dispositions: [ImportDisposition]
    /// Artifacts the import would create.
    public var newArtifacts: UInt64
    /// Bytes of distinct content the tenant does not hold yet: what must be
    /// sent, and what the byte quota counts.
    public var newBytes: UInt64
    /// The tenant's usage and quotas now.
    public var usage: TenantUsage
    /// Why the import would pass a quota, or `nil` when it fits.
    public var quotaProblem: StoreError?
}

extension ArtifactStore {
    /// Decides, without writing, what importing `entries` into `tenant` does:
    /// which artifacts are present, which can be linked to content the
    /// tenant holds, which need their content sent, which ids are taken,
    /// and whether the result fits the tenant's quotas.
    ///
    /// Only the tenant's own artifacts count: ids are unique per tenant, so
    /// an id another tenant holds is free here and says nothing about it.
    public func planImport(tenant: TenantID, entries: [ImportEntry]) throws -> ImportPlan {
        try read { txn in
            let usage =
                try txn.record(TenantRecord.self, Keys.tenant(tenant.rawValue), in: tables.tenants) ?? TenantRecord()
            var dispositions: [ImportDisposition] = []
            var newArtifacts: UInt64 = 0
            var newBytes: UInt64 = 0
            var counted = Set<SHA256Digest>()
            for entry in entries {
                let disposition = try disposition(txn, tenant: tenant, entry)
                dispositions.append(disposition)
                if disposition == .link || disposition == .needsContent { newArtifacts += 1 }
                if disposition == .needsContent, counted.insert(entry.sha256).inserted { newBytes += entry.sizeBytes }
            }
            var problem: StoreError? = nil
            if let max = usage.maxArtifacts, usage.artifactCount + newArtifacts > max {
                problem = StoreError(
                    .quotaExceeded,
                    .quota(kind: .artifacts, limit: max, used: usage.artifactCount, requested: newArtifacts),
                    "the import's \(newArtifacts) new artifacts would pass the tenant's artifact quota (\(max))")
            } else if let max = usage.maxBytes, usage.storedBytes + newBytes > max {
                problem = StoreError(
                    .quotaExceeded, .quota(kind: .bytes, limit: max, used: usage.storedBytes, requested: newBytes),
                    "the import's \(newBytes) new bytes would pass the tenant's byte quota (\(max))")
            }
            return ImportPlan(
                dispositions: dispositions, newArtifacts: newArtifacts, newBytes: newBytes,
                usage: TenantUsage(tenant: tenant, record: usage), quotaProblem: problem)
        }
    }

    /// Creates, in one durable transaction, every entry whose content the
    /// tenant holds, keeping its id; entries already present are left as
    /// they are. Quotas are checked as for any staging.
    ///
    /// - Returns: the disposition each entry had: ``ImportDisposition/present``
    ///   and ``ImportDisposition/link`` (now created) entries are done;
    ///   ``ImportDisposition/needsContent`` ones were not created.
    /// - Throws: ``StoreError/Code/conflict`` (field `artifactId`) when an
    ///   id is taken; nothing is written then.
    public func importArtifacts(tenant: TenantID, entries: [ImportEntry], actor: Actor) async throws
        -> [ImportDisposition]
    {
        for entry in entries { try validate(mimeType: entry.mimeType) }
        let now = self.now
        return try await writer.perform { txn in
            var dispositions: [ImportDisposition] = []
            for entry in entries {
                let disposition = try self.disposition(txn, tenant: tenant, entry)
                switch disposition {
                case .conflict:
                    let idInUse =
                        try txn.get(
                            Keys.artifact(tenant: tenant.rawValue, id: entry.artifactId.uuidBytes),
                            in: self.tables.artifacts) != nil
                    throw StoreError(
                        .conflict, .field("artifactId"),
                        idInUse
                            ? "artifact id \(entry.artifactId.uuidString.lowercased()) is already in use"
                            : "the tenant holds sha256:\(entry.sha256.hex) with another size than \(entry.sizeBytes)")
                case .link:
                    _ = try self.finalize(
                        txn, tenant: tenant, providerId: entry.providerId, mimeType: entry.mimeType,
                        size: entry.sizeBytes, digest: entry.sha256, content: .held, artifactId: entry.artifactId,
                        actor: actor, now: now)
                case .present, .needsContent:
                    break
                }
                dispositions.append(disposition)
            }
            return dispositions
        }
    }

    private func disposition(_ txn: borrowing Transaction, tenant: TenantID, _ entry: ImportEntry) throws
        -> ImportDisposition
    {
        if let existing = try txn.record(
            ArtifactRecord.self, Keys.artifact(tenant: tenant.rawValue, id: entry.artifactId.uuidBytes),
            in: tables.artifacts)
        {
            let same =
                existing.sha256 == entry.sha256.bytes
                && existing.sizeBytes == entry.sizeBytes && existing.providerId == entry.providerId.rawValue
                && existing.mimeType == entry.mimeType
            return same ? .present : .conflict
        }
        let blob = try txn.record(
            BlobRecord.self, Keys.blob(tenant: tenant.rawValue, sha256: entry.sha256.bytes), in: tables.blobs)
        guard let blob else { return .needsContent }
        return blob.sizeBytes == entry.sizeBytes ? .link : .conflict
    }
}
