import CairnDigest
import Foundation
import LMDB
import StoreLayout
import Synchronization

/// The running SHA-256 of each open upload, kept in memory so that appends
/// hash only their own bytes. After a restart it is rebuilt from the stored
/// chunks on first use.
final class UploadDigests: Sendable {
    final class Progress: @unchecked Sendable {
        // Touched only by the one caller that holds the upload (see `claim`).
        var hasher: SHA256Hasher
        var offset: UInt64
        init(hasher: consuming SHA256Hasher, offset: UInt64) {
            self.hasher = hasher
            self.offset = offset
        }
    }

    private struct State {
        var progress: [UUID: Progress] = [:]
        var claimed: Set<UUID> = []
    }

    private let state = Mutex(State())

    /// Claims the upload for one operation; `nil` when another holds it.
    func claim(_ id: UUID) -> Progress?? {
        state.withLock { state in
            guard state.claimed.insert(id).inserted else { return nil }
            return .some(state.progress[id])
        }
    }

    func release(_ id: UUID, keeping progress: Progress?) {
        state.withLock { state in
            state.claimed.remove(id)
            state.progress[id] = progress
        }
    }

    func forget(_ id: UUID) {
        state.withLock { _ = $0.progress.removeValue(forKey: id) }
    }
}

extension ArtifactStore {
    /// Begins an upload of content to be sent with ``append(uploadId:offset:bytes:actor:)``.
    ///
    /// A declared size is checked against the artifact size limit and the
    /// tenant's quotas now, before any byte is sent; an expected digest is
    /// checked at commit. Nothing of the upload is visible in listings or
    /// usage until it is committed.
    public func beginUpload(
        tenant: TenantID, providerId: ProviderID, mimeType: String, declaredSize: UInt64? = nil,
        expectedSHA256: SHA256Digest? = nil, actor: Actor
    ) async throws -> UploadStatus {
        try validate(mimeType: mimeType)
        if let declaredSize, declaredSize > configuration.maxArtifactBytes {
            throw StoreError(
                .tooLarge, .limit(configuration.maxArtifactBytes), "the declared size is larger than the store accepts")
        }
        let now = self.now
        let uploadId = UUID()
        return try await writer.perform { txn in
            let usage =
                try txn.record(TenantRecord.self, Keys.tenant(tenant.rawValue), in: self.tables.tenants)
                ?? TenantRecord()
            if let max = usage.maxArtifacts, usage.artifactCount + 1 > max {
                throw StoreError(
                    .quotaExceeded, .quota(kind: .artifacts, limit: max, used: usage.artifactCount, requested: 1),
                    "the tenant's artifact quota (\(max)) would be exceeded")
            }
            if let size = declaredSize, let max = usage.maxBytes, usage.storedBytes + size > max {
                let alreadyHeld =
                    try expectedSHA256.map {
                        try txn.get(Keys.blob(tenant: tenant.rawValue, sha256: $0.bytes), in: self.tables.blobs) != nil
                    } ?? false
                if !alreadyHeld {
                    throw StoreError(
                        .quotaExceeded, .quota(kind: .bytes, limit: max, used: usage.storedBytes, requested: size),
                        "the tenant's byte quota (\(max)) would be exceeded")
                }
            }
            let record = UploadRecord(
                tenant: tenant.rawValue, providerId: providerId.rawValue, mimeType: mimeType, owner: actor.name,
                declaredSize: declaredSize, expectedSHA256: expectedSHA256?.bytes, extent: try self.allocateExtent(txn),
                chunkSize: self.geometry.chunkSize, offset: 0, startedAt: now, updatedAt: now)
            try txn.put(record, Keys.upload(uploadId.uuidBytes), in: self.tables.uploads)
            return UploadStatus(record, id: uploadId)
        }
    }

    /// Appends `bytes` at `offset`, which must be the upload's current offset.
    ///
    /// The bytes are hashed while the writer stores them. An append is
    /// stored when this returns but made durable only by the commit; after a
    /// crash, ``uploadStatus(uploadId:actor:)`` tells where to resume.
    ///
    /// - Returns: the new offset.
    public func append(uploadId: UUID, offset: UInt64, bytes: [UInt8], actor: Actor) async throws -> UInt64 {
        let progress = try claim(uploadId, actor: actor)
        var kept: UploadDigests.Progress? = progress
        defer { uploadDigests.release(uploadId, keeping: kept) }
        guard progress.offset == offset else {
            throw StoreError(
                .offsetMismatch, .offset(progress.offset), "the upload is at offset \(progress.offset), not \(offset)")
        }
        let end = offset + UInt64(bytes.count)
        let now = self.now
        let limit = configuration.maxArtifactBytes
        async let stored: UInt64 = writer.perform(.deferred) { txn in
            let key = Keys.upload(uploadId.uuidBytes)
            guard var record = try txn.record(UploadRecord.self, key, in: self.tables.uploads),
                record.owner == actor.name
            else {
                throw StoreError.notFound("upload")
            }
            guard record.offset == offset else {
                throw StoreError(
                    .offsetMismatch, .offset(record.offset), "the upload is at offset \(record.offset), not \(offset)")
            }
            if let declared = record.declaredSize, end > declared {
                throw StoreError(
                    .sizeMismatch, .sizes(expected: declared, actual: end),
                    "the content would pass its declared size \(declared)")
            }
            guard end <= limit else {
                throw StoreError(.tooLarge, .limit(limit), "the artifact would be larger than the store accepts")
            }
            try bytes.withUnsafeBytes { try self.appendChunks(txn, extent: record.extent, length: offset, bytes: $0) }
            record.offset = end
            record.updatedAt = now
            try txn.put(record, key, in: self.tables.uploads)
            return end
        }
        // Hash while the writer stores; adopt the result only if it stored.
        var hasher = progress.hasher.copy()
        hasher.update(bytes)
        do {
            progress.offset = try await stored
        } catch let error as StoreError where error.code == .notFound {
            kept = nil
            throw error
        }
        progress.hasher = hasher
        return progress.offset
    }

    /// The upload's progress, for resuming.
    public func uploadStatus(uploadId: UUID, actor: Actor) throws -> UploadStatus {
        try read { txn in
            guard let record = try txn.record(UploadRecord.self, Keys.upload(uploadId.uuidBytes), in: tables.uploads),
                record.owner == actor.name, !isExpired(record)
            else { throw StoreError.notFound("upload") }
            return UploadStatus(record, id: uploadId)
        }
    }

    /// Commits the upload as an artifact, durably.
    ///
    /// Checks the declared size (``StoreError/Code/sizeMismatch``), the
    /// expected digest given now or at begin
    /// (``StoreError/Code/digestMismatch``), and the quotas, atomically. On
    /// a failed check the upload stays open.
    ///
    /// - Parameter artifactId: the id the artifact gets (an import keeps
    ///   ids); refused with ``StoreError/Code/conflict`` when in use, a new
    ///   random one when `nil`.
    public func commitUpload(
        uploadId: UUID, expectedSHA256: SHA256Digest? = nil, artifactId: UUID? = nil, actor: Actor
    ) async throws -> CommittedArtifact {
        let progress = try claim(uploadId, actor: actor)
        var kept: UploadDigests.Progress? = progress
        defer { uploadDigests.release(uploadId, keeping: kept) }
        let digest = progress.hasher.copy().finalize()
        let offset = progress.offset
        let now = self.now
        let committed = try await writer.perform { txn in
            let key = Keys.upload(uploadId.uuidBytes)
            guard let record = try txn.record(UploadRecord.self, key, in: self.tables.uploads),
                record.owner == actor.name
            else {
                throw StoreError.notFound("upload")
            }
            guard record.offset == offset else {
                throw StoreError(
                    .internalError, .none, "the upload's stored offset \(record.offset) disagrees with \(offset)")
            }
            if let declared = record.declaredSize, declared != record.offset {
                throw StoreError(
                    .sizeMismatch, .sizes(expected: declared, actual: record.offset),
                    "the content is \(record.offset) bytes, not the declared \(declared)")
            }
            for expected in [record.expectedSHA256.flatMap { SHA256Digest(bytes: $0) }, expectedSHA256] {
                if let expected, expected != digest {
                    throw StoreError(
                        .digestMismatch, .digests(expected: expected, actual: digest),
                        "the content's sha256 is not the expected one")
                }
            }
            let tenant = TenantID(record.tenant)!
            let result = try self.finalize(
                txn, tenant: tenant, providerId: ProviderID(record.providerId)!, mimeType: record.mimeType,
                size: record.offset, digest: digest, content: .extent(record.extent), artifactId: artifactId,
                actor: actor, now: now)
            try txn.delete(key, in: self.tables.uploads)
            return result
        }
        kept = nil
        if committed.deduplicated { scheduleReclaim() }
        return committed
    }

    /// Abandons the upload and reclaims its bytes.
    public func abortUpload(uploadId: UUID, actor: Actor) async throws {
        // Ownership first: another peer's upload is not found, never busy.
        let status = try uploadStatus(uploadId: uploadId, actor: actor)
        guard case .some = uploadDigests.claim(uploadId) else {
            throw StoreError(.offsetMismatch, .offset(status.offset), "another operation on the upload is running")
        }
        defer { uploadDigests.release(uploadId, keeping: nil) }
        try await writer.perform { txn in
            let key = Keys.upload(uploadId.uuidBytes)
            guard let record = try txn.record(UploadRecord.self, key, in: self.tables.uploads),
                record.owner == actor.name
            else {
                throw StoreError.notFound("upload")
            }
            try txn.delete(key, in: self.tables.uploads)
            try txn.put([], for: Keys.extent(record.extent), in: self.tables.garbage)
        }
        scheduleReclaim()
    }

    /// Claims the upload for one operation and returns its running digest,
    /// rebuilding it from the stored chunks when this process has none.
    private func claim(_ uploadId: UUID, actor: Actor) throws -> UploadDigests.Progress {
        // Ownership first: another peer's upload is not found, never busy.
        let status = try uploadStatus(uploadId: uploadId, actor: actor)
        guard case .some(let cached) = uploadDigests.claim(uploadId) else {
            throw StoreError(.offsetMismatch, .offset(status.offset), "another operation on the upload is running")
        }
        do {
            return try read { txn in
                guard
                    let record = try txn.record(UploadRecord.self, Keys.upload(uploadId.uuidBytes), in: tables.uploads),
                    record.owner == actor.name, !isExpired(record)
                else { throw StoreError.notFound("upload") }
                if let cached, cached.offset == record.offset { return cached }
                var hasher = SHA256Hasher()
                try withVerifiedChunks(
                    txn, extent: record.extent, size: record.offset, range: 0..<record.offset, blob: nil
                ) { _, data in
                    hasher.update(data)
                }
                return UploadDigests.Progress(hasher: hasher, offset: record.offset)
            }
        } catch {
            uploadDigests.release(uploadId, keeping: nil)
            throw error
        }
    }

    func isExpired(_ record: UploadRecord) -> Bool {
        let idle = configuration.uploadIdleTimeout.components
        let idleMilliseconds = idle.seconds * 1000 + idle.attoseconds / 1_000_000_000_000_000
        return now - record.updatedAt > idleMilliseconds
    }
}

extension UploadStatus {
    init(_ record: UploadRecord, id: UUID) {
        self.init(
            uploadId: id, tenant: TenantID(record.tenant)!, offset: record.offset, declaredSize: record.declaredSize,
            startedAt: date(milliseconds: record.startedAt), updatedAt: date(milliseconds: record.updatedAt))
    }
}
