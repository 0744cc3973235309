import CairnDigest
import Foundation
import LMDB
import StoreLayout

/// Where the content of a new artifact comes from when it is finalized.
enum StagedContent {
    /// Bytes in memory, written now unless the tenant already holds them.
    case bytes(UnsafeRawBufferPointer)
    /// The chunks of an upload's extent, adopted as the blob or dropped.
    case extent(UInt64)
    /// Content the tenant already holds (an import): no bytes at all.
    case held
}

extension ArtifactStore {
    /// Stores `content` as a new artifact in one durable transaction.
    ///
    /// For small content that fits a request; larger content goes through
    /// an upload. The digest is computed before the writer is involved.
    ///
    /// - Parameters:
    ///   - expectedSHA256: when given, content with another digest is
    ///     refused with ``StoreError/Code/digestMismatch``.
    ///   - artifactId: the id the artifact gets (an import keeps ids); a
    ///     new random one when `nil`. An id already in use is refused with
    ///     ``StoreError/Code/conflict``.
    public func stage(
        tenant: TenantID, providerId: ProviderID, mimeType: String, content: [UInt8],
        expectedSHA256: SHA256Digest? = nil, artifactId: UUID? = nil, actor: Actor
    ) async throws -> CommittedArtifact {
        try validate(mimeType: mimeType)
        guard UInt64(content.count) <= configuration.maxArtifactBytes else {
            throw StoreError(
                .tooLarge, .limit(configuration.maxArtifactBytes), "the artifact is larger than the store accepts")
        }
        let digest = SHA256Hasher.digest(content)
        if let expectedSHA256, expectedSHA256 != digest {
            throw StoreError(
                .digestMismatch, .digests(expected: expectedSHA256, actual: digest),
                "the content's sha256 is not the expected one")
        }
        instruments.uploaded(content.count)
        let now = self.now
        return try await writer.perform { txn in
            try content.withUnsafeBytes { bytes in
                try self.finalize(
                    txn, tenant: tenant, providerId: providerId, mimeType: mimeType, size: UInt64(content.count),
                    digest: digest, content: .bytes(bytes), artifactId: artifactId, actor: actor, now: now)
            }
        }
    }

    /// Records a new artifact for content of `digest` and `size`: checks the
    /// quotas, stores or deduplicates the blob, adds the artifact, its
    /// index entries, the usage and an event. All in the caller's
    /// transaction, so any failure leaves nothing behind.
    ///
    /// - Parameter artifactId: the id to give the artifact, refused with
    ///   ``StoreError/Code/conflict`` when an artifact of the tenant has it
    ///   (ids are a tenant's own); a new one when `nil`.
    func finalize(
        _ txn: borrowing Transaction, tenant: TenantID, providerId: ProviderID, mimeType: String,
        size: UInt64, digest: SHA256Digest, content: StagedContent, artifactId requested: UUID? = nil,
        actor: Actor, now: Int64
    ) throws -> CommittedArtifact {
        if let requested,
            try txn.get(Keys.artifact(tenant: tenant.rawValue, id: requested.uuidBytes), in: tables.artifacts) != nil
        {
            throw StoreError(
                .conflict, .field("artifactId"), "artifact id \(requested.uuidString.lowercased()) is already in use")
        }
        let tenantKey = Keys.tenant(tenant.rawValue)
        var usage = try txn.record(TenantRecord.self, tenantKey, in: tables.tenants) ?? TenantRecord()
        let blobKey = Keys.blob(tenant: tenant.rawValue, sha256: digest.bytes)
        var blob = try txn.record(BlobRecord.self, blobKey, in: tables.blobs)
        let deduplicated = blob != nil

        if let max = usage.maxArtifacts, usage.artifactCount + 1 > max {
            throw StoreError(
                .quotaExceeded, .quota(kind: .artifacts, limit: max, used: usage.artifactCount, requested: 1),
                "the tenant's artifact quota (\(max)) would be exceeded")
        }
        if !deduplicated, let max = usage.maxBytes, usage.storedBytes + size > max {
            throw StoreError(
                .quotaExceeded, .quota(kind: .bytes, limit: max, used: usage.storedBytes, requested: size),
                "the tenant's byte quota (\(max)) would be exceeded")
        }

        if var existing = blob {
            existing.refCount += 1
            blob = existing
            if case .extent(let extent) = content {
                try txn.put([], for: Keys.extent(extent), in: tables.garbage)
            }
        } else {
            let extent: UInt64
            switch content {
            case .bytes(let bytes):
                extent = try allocateExtent(txn)
                try appendChunks(txn, extent: extent, length: 0, bytes: bytes)
            case .extent(let uploaded):
                extent = uploaded
            case .held:
                throw StoreError.notFound("blob")
            }
            blob = BlobRecord(
                sizeBytes: size, refCount: 1, extent: extent, chunkSize: geometry.chunkSize, storedAt: now)
            usage.storedBytes += size
        }
        try txn.put(blob!, blobKey, in: tables.blobs)

        let artifactId = requested ?? RandomIDs.shared.next()
        let listSeq = usage.nextListSeq
        usage.nextListSeq += 1
        let record = ArtifactRecord(
            tenant: tenant.rawValue, providerId: providerId.rawValue, mimeType: mimeType, sizeBytes: size,
            sha256: digest.bytes, stagedAt: now, stagedBy: actor.name, listSeq: listSeq)
        try txn.put(record, Keys.artifact(tenant: tenant.rawValue, id: artifactId.uuidBytes), in: tables.artifacts)
        try txn.put(
            artifactId.bytes, for: Keys.tenantArtifact(tenant: tenant.rawValue, listSeq: listSeq),
            in: tables.tenantArtifacts)
        try txn.put(
            artifactId.bytes,
            for: Keys.providerArtifact(tenant: tenant.rawValue, providerId: providerId.rawValue, listSeq: listSeq),
            in: tables.providerArtifacts)
        try txn.put(
            [], for: Keys.blobArtifact(tenant: tenant.rawValue, sha256: digest.bytes, artifactId: artifactId.uuidBytes),
            in: tables.blobArtifacts)
        usage.artifactCount += 1
        usage.logicalBytes += size
        try appendEvent(
            txn, tenant: tenant, usage: &usage,
            EventRecord(
                at: now, actor: actor.name, action: "artifact.created", artifactId: artifactId.bytes,
                sha256: digest.bytes, providerId: providerId.rawValue,
                detail: #"{"sizeBytes":\#(size),"deduplicated":\#(deduplicated)}"#))
        try txn.put(usage, tenantKey, in: tables.tenants)
        return CommittedArtifact(
            meta: ArtifactMeta(
                artifactId: artifactId, tenant: tenant, providerId: providerId, mimeType: mimeType, sizeBytes: size,
                sha256: digest, stagedAt: date(milliseconds: now), stagedBy: actor.name),
            deduplicated: deduplicated)
    }

    /// Deletes an artifact; frees its blob when it was the last reference.
    ///
    /// An artifact that a provider configuration references is not deleted:
    /// the error is ``StoreError/Code/artifactInUse`` listing the references.
    ///
    /// - Returns: whether the blob was freed.
    public func delete(tenant: TenantID, artifactId: UUID, actor: Actor) async throws -> Bool {
        let now = self.now
        let freed = try await writer.perform(.durable, .frees) { txn in
            let key = Keys.artifact(tenant: tenant.rawValue, id: artifactId.uuidBytes)
            guard let record = try txn.record(ArtifactRecord.self, key, in: self.tables.artifacts) else {
                throw StoreError.notFound("artifact")
            }
            let references = try self.references(txn, tenant: tenant, to: artifactId)
            guard references.isEmpty else {
                throw StoreError(
                    .artifactInUse, .references(references),
                    "artifact \(artifactId.uuidString.lowercased()) is referenced by "
                        + references.map { "\($0.providerId) \($0.field)" }.joined(separator: ", "))
            }
            let tenantKey = Keys.tenant(tenant.rawValue)
            var usage = try txn.record(TenantRecord.self, tenantKey, in: self.tables.tenants) ?? TenantRecord()
            try txn.delete(key, in: self.tables.artifacts)
            try txn.delete(
                Keys.tenantArtifact(tenant: record.tenant, listSeq: record.listSeq), in: self.tables.tenantArtifacts)
            try txn.delete(
                Keys.providerArtifact(tenant: record.tenant, providerId: record.providerId, listSeq: record.listSeq),
                in: self.tables.providerArtifacts)
            try txn.delete(
                Keys.blobArtifact(tenant: record.tenant, sha256: record.sha256, artifactId: artifactId.uuidBytes),
                in: self.tables.blobArtifacts)

            let blobKey = Keys.blob(tenant: record.tenant, sha256: record.sha256)
            guard var blob = try txn.record(BlobRecord.self, blobKey, in: self.tables.blobs), blob.refCount > 0 else {
                throw StoreError(.internalError, .none, "artifact \(artifactId) has no blob")
            }
            blob.refCount -= 1
            let freed = blob.refCount == 0
            if freed {
                try txn.delete(blobKey, in: self.tables.blobs)
                try txn.put([], for: Keys.extent(blob.extent), in: self.tables.garbage)
                usage.storedBytes -= blob.sizeBytes
            } else {
                try txn.put(blob, blobKey, in: self.tables.blobs)
            }
            usage.artifactCount -= 1
            usage.logicalBytes -= record.sizeBytes
            try self.appendEvent(
                txn, tenant: tenant, usage: &usage,
                EventRecord(
                    at: now, actor: actor.name, action: "artifact.deleted", artifactId: artifactId.bytes,
                    sha256: record.sha256, providerId: record.providerId, detail: #"{"blobFreed":\#(freed)}"#))
            try txn.put(usage, tenantKey, in: self.tables.tenants)
            return freed
        }
        if freed { scheduleReclaim() }
        return freed
    }

    /// Changes a tenant's quotas and records a `quota.set` event.
    ///
    /// Lowering a quota below current usage is allowed: it only refuses
    /// further writes.
    public func setQuota(
        tenant: TenantID, maxBytes: QuotaChange, maxArtifacts: QuotaChange, actor: Actor
    ) async throws -> TenantUsage {
        let now = self.now
        return try await writer.perform { txn in
            let tenantKey = Keys.tenant(tenant.rawValue)
            var usage = try txn.record(TenantRecord.self, tenantKey, in: self.tables.tenants) ?? TenantRecord()
            func apply(_ change: QuotaChange, to value: inout UInt64?) {
                switch change {
                case .unchanged: break
                case .set(let limit): value = limit
                case .remove: value = nil
                }
            }
            apply(maxBytes, to: &usage.maxBytes)
            apply(maxArtifacts, to: &usage.maxArtifacts)
            let detail =
                #"{"maxBytes":\#(usage.maxBytes.map(String.init) ?? "null"),"maxArtifacts":\#(usage.maxArtifacts.map(String.init) ?? "null")}"#
            try self.appendEvent(
                txn, tenant: tenant, usage: &usage,
                EventRecord(at: now, actor: actor.name, action: "quota.set", detail: detail))
            try txn.put(usage, tenantKey, in: self.tables.tenants)
            return TenantUsage(tenant: tenant, record: usage)
        }
    }

    /// Appends an event to the tenant's log, chained to the event before
    /// it (see ``EventChain``); the caller stores `usage`.
    func appendEvent(_ txn: borrowing Transaction, tenant: TenantID, usage: inout TenantRecord, _ event: EventRecord)
        throws
    {
        let seq = usage.nextEventSeq
        usage.nextEventSeq += 1
        var event = event
        event.previous = try chainHash(txn, tenant: tenant, seq: seq - 1)
        try txn.put(event, Keys.event(tenant: tenant.rawValue, seq: seq), in: tables.events)
    }

    func validate(mimeType: String) throws {
        guard !mimeType.isEmpty, mimeType.utf8.count <= 255,
            mimeType.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f || $0 == " " })
        else { throw StoreError.invalid("mimeType", "mimeType must be 1-255 printable ASCII characters") }
    }
}

extension TenantUsage {
    init(tenant: TenantID, record: TenantRecord) {
        self.init(
            tenant: tenant, artifactCount: record.artifactCount, logicalBytes: record.logicalBytes,
            storedBytes: record.storedBytes, maxBytes: record.maxBytes, maxArtifacts: record.maxArtifacts)
    }
}
