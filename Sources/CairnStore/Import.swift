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

/// One content an import brings along: its digest and size, in the order of the bytes sent.
public struct ImportContent: Sendable, Equatable {
    /// The digest the bytes must have.
    public var sha256: SHA256Digest
    public var sizeBytes: UInt64

    /// A content of `sizeBytes` bytes with digest `sha256`.
    public init(sha256: SHA256Digest, sizeBytes: UInt64) {
        self.sha256 = sha256
        self.sizeBytes = sizeBytes
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
        try await importArtifacts(tenant: tenant, entries: entries, contents: [], bytes: [], actor: actor)
    }

    /// Imports `entries` with the contents the tenant lacks, in one durable
    /// transaction: entries whose content the tenant holds are linked,
    /// entries whose content is among `contents` are created with it, both
    /// keeping their ids; entries already present are left as they are.
    ///
    /// Every content is hashed before the writer is involved. The batch is
    /// all or nothing: a conflict, a quota passed or a full store writes
    /// nothing, so a client that retries a batch (or a whole import) after
    /// a failure or a crash finds what committed and sends the rest.
    ///
    /// - Parameters:
    ///   - contents: the digest and size of each content in `bytes`, one
    ///     after the other; contents no entry needs are ignored.
    ///   - bytes: the contents, exactly as long as their sizes add up to.
    /// - Returns: each entry's disposition: ``ImportDisposition/link`` means
    ///   created (from held or supplied content), ``ImportDisposition/needsContent``
    ///   that the tenant lacks its content and `contents` did not bring it.
    /// - Throws: ``StoreError/Code/invalidArgument`` (field `contents`) when the
    ///   sizes are not the bytes' length; ``StoreError/Code/digestMismatch`` for a
    ///   content whose bytes have another digest; ``StoreError/Code/tooLarge``;
    ///   ``StoreError/Code/conflict`` (field `artifactId`) as ``importArtifacts(tenant:entries:actor:)``,
    ///   or when an entry's size is not that of the content of its digest;
    ///   ``StoreError/Code/quotaExceeded``. Nothing is written then.
    public func importArtifacts(
        tenant: TenantID, entries: [ImportEntry], contents: [ImportContent], bytes: [UInt8], actor: Actor
    ) async throws -> [ImportDisposition] {
        for entry in entries { try validate(mimeType: entry.mimeType) }
        guard contents.reduce(UInt64(0), { $0 + $1.sizeBytes }) == UInt64(bytes.count) else {
            throw StoreError.invalid("contents", "the contents' sizes do not add up to the \(bytes.count) bytes sent")
        }
        var ranges: [SHA256Digest: Range<Int>] = [:]
        var start = 0
        try bytes.withUnsafeBytes { buffer in
            for content in contents {
                guard content.sizeBytes <= configuration.maxArtifactBytes else {
                    throw StoreError(
                        .tooLarge, .limit(configuration.maxArtifactBytes), "a content is larger than the store accepts")
                }
                let range = start..<start + Int(content.sizeBytes)
                start = range.upperBound
                let actual = SHA256Hasher.digest(UnsafeRawBufferPointer(rebasing: buffer[range]))
                guard actual == content.sha256 else {
                    throw StoreError(
                        .digestMismatch, .digests(expected: content.sha256, actual: actual),
                        "a content's sha256 is not the one given for it")
                }
                if ranges[content.sha256] == nil { ranges[content.sha256] = range }
            }
        }
        instruments.uploaded(bytes.count)
        let now = self.now
        let supplied = ranges
        return try await writer.perform { txn in
            try bytes.withUnsafeBytes { all in
                var dispositions: [ImportDisposition] = []
                dispositions.reserveCapacity(entries.count)
                for entry in entries {
                    var disposition = try self.disposition(txn, tenant: tenant, entry)
                    var content = StagedContent.held
                    if disposition == .needsContent, let range = supplied[entry.sha256] {
                        guard UInt64(range.count) == entry.sizeBytes else {
                            throw StoreError(
                                .conflict, .field("artifactId"),
                                "artifact \(entry.artifactId.uuidString.lowercased()) says \(entry.sizeBytes) bytes, but sha256:\(entry.sha256.hex) has \(range.count)"
                            )
                        }
                        disposition = .link
                        content = .bytes(UnsafeRawBufferPointer(rebasing: all[range]))
                    }
                    switch disposition {
                    case .conflict:
                        throw try self.importConflict(txn, tenant: tenant, entry)
                    case .link:
                        _ = try self.finalize(
                            txn, tenant: tenant, providerId: entry.providerId, mimeType: entry.mimeType,
                            size: entry.sizeBytes, digest: entry.sha256, content: content,
                            artifactId: entry.artifactId, actor: actor, now: now)
                    case .present, .needsContent:
                        break
                    }
                    dispositions.append(disposition)
                }
                return dispositions
            }
        }
    }

    private func importConflict(_ txn: borrowing Transaction, tenant: TenantID, _ entry: ImportEntry) throws
        -> StoreError
    {
        let idInUse =
            try txn.get(Keys.artifact(tenant: tenant.rawValue, id: entry.artifactId.uuidBytes), in: tables.artifacts)
            != nil
        return StoreError(
            .conflict, .field("artifactId"),
            idInUse
                ? "artifact id \(entry.artifactId.uuidString.lowercased()) is already in use"
                : "the tenant holds sha256:\(entry.sha256.hex) with another size than \(entry.sizeBytes)")
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
