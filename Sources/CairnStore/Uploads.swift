import CairnDigest
import Foundation
import LMDB
import StoreLayout
import Synchronization

/// The running SHA-256 (and XXH3-128, the transfer check a client may ask
/// for at commit) of each open upload, kept in memory so that appends hash
/// only their own bytes. After a restart, or after a write failed, they are
/// rebuilt from the stored chunks on first use.
///
/// The digest and offset are those of the bytes *accepted*: stored, or
/// queued for the writer (``ArtifactStore/beginAppend(uploadId:offset:bytes:actor:)``).
final class UploadDigests: Sendable {
    final class Progress: @unchecked Sendable {
        // Touched only by the one caller that holds the upload (see `claim`).
        var hasher: SHA256Hasher
        var checksum: XXH3Hasher128
        var offset: UInt64
        init(hasher: consuming SHA256Hasher, checksum: consuming XXH3Hasher128, offset: UInt64) {
            self.hasher = hasher
            self.checksum = checksum
            self.offset = offset
        }
    }

    /// What a claim hands out.
    struct Claim {
        /// The accepted progress, or nil when it must be rebuilt.
        var progress: Progress?
        /// Appends accepted and not yet stored or failed.
        var pending: Int
        /// Changes whenever a failed write drops the progress; a holder of an
        /// older epoch must not keep its progress.
        var epoch: Int
    }

    private struct Upload {
        var progress: Progress?
        var claimed = false
        var pending = 0
        var epoch = 0
    }

    private let state = Mutex([UUID: Upload]())

    /// Claims the upload for one operation; `nil` when another holds it.
    func claim(_ id: UUID) -> Claim? {
        state.withLock { uploads in
            var upload = uploads[id] ?? Upload()
            guard !upload.claimed else { return nil }
            upload.claimed = true
            uploads[id] = upload
            return Claim(progress: upload.progress, pending: upload.pending, epoch: upload.epoch)
        }
    }

    /// Counts an append queued by the holder of the claim; call it before
    /// the append can reach the writer.
    func accept(_ id: UUID) {
        state.withLock { $0[id]?.pending += 1 }
    }

    /// Ends a claim taken at `epoch`, keeping `progress` unless a failed
    /// write has dropped it since.
    func release(_ id: UUID, epoch: Int, keeping progress: Progress?) {
        state.withLock { uploads in
            guard var upload = uploads[id] else { return }
            upload.claimed = false
            if upload.epoch == epoch { upload.progress = progress }
            if upload.progress == nil && upload.pending == 0 {
                uploads[id] = nil
            } else {
                uploads[id] = upload
            }
        }
    }

    /// Records that a queued append of `epoch` was stored or failed. A
    /// failure drops the progress (the stored chunks are then the truth),
    /// once per epoch: later appends queued behind it fail too.
    func settle(_ id: UUID, epoch: Int, failed: Bool) {
        state.withLock { uploads in
            guard var upload = uploads[id] else { return }
            upload.pending -= 1
            if failed && upload.epoch == epoch {
                upload.epoch += 1
                upload.progress = nil
            }
            if upload.progress == nil && upload.pending == 0 && !upload.claimed {
                uploads[id] = nil
            } else {
                uploads[id] = upload
            }
        }
    }

    /// Whether an operation holds the upload or appends to it are queued.
    func isBusy(_ id: UUID) -> Bool {
        state.withLock { uploads in uploads[id].map { $0.claimed || $0.pending > 0 } ?? false }
    }

    func forget(_ id: UUID) {
        state.withLock { uploads in
            guard var upload = uploads[id] else { return }
            upload.progress = nil
            upload.epoch += 1
            uploads[id] = upload.claimed || upload.pending > 0 ? upload : nil
        }
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
        let uploadId = RandomIDs.shared.next()
        // Its activity is stamped as it is committed, before the writer does anything else: a
        // begin that waited long for a busy writer, or for its flush, must not look idle to an
        // expiry sweep that runs right after it.
        let stampActivity: @Sendable (UploadStatus) -> Void = { _ in
            self.uploadActivity.finished(uploadId, at: self.now)
        }
        let status = try await writer.perform(afterCommit: stampActivity) { txn in
            let now = self.now
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
        return status
    }

    /// Appends `bytes` at `offset`, which must be the upload's current offset.
    ///
    /// Returns when the bytes are stored, but they are made durable only by
    /// the commit; after a crash, ``uploadStatus(uploadId:actor:)`` tells
    /// where to resume. The same as ``beginAppend(uploadId:offset:bytes:actor:)``
    /// followed by ``PendingAppend/stored()``.
    ///
    /// - Returns: the new offset.
    public func append(uploadId: UUID, offset: UInt64, bytes: [UInt8], actor: Actor) async throws -> UInt64 {
        try await beginAppend(uploadId: uploadId, offset: offset, bytes: bytes, actor: actor).stored()
    }

    /// Accepts `bytes` at `offset` and queues them for the writer, returning
    /// before they are stored, so that a streaming caller can send the next
    /// piece meanwhile.
    ///
    /// `offset` must be the upload's offset after every append accepted so
    /// far, stored or not. Accepting hashes the bytes (into the upload's
    /// running SHA-256, and each chunk's XXH3-128 header); the writer then stores
    /// queued appends of one upload together, in one transaction and with
    /// one flush, up to ``maxAppendBatchBytes``. Each append still succeeds
    /// or fails on its own: ``PendingAppend/stored()`` reports it. When one
    /// fails, the appends accepted after it fail as well (with
    /// ``StoreError/Code/offsetMismatch`` at the stored offset), so the
    /// caller resumes from ``uploadStatus(uploadId:actor:)``.
    ///
    /// Commit and abort are refused while accepted appends are not yet
    /// stored: wait for them first.
    public func beginAppend(uploadId: UUID, offset: UInt64, bytes: [UInt8], actor: Actor) async throws
        -> PendingAppend
    {
        let claim = try claim(uploadId, actor: actor, allowPending: true)
        let progress = claim.progress
        defer { uploadDigests.release(uploadId, epoch: claim.epoch, keeping: progress) }
        guard progress.offset == offset else {
            throw StoreError(
                .offsetMismatch, .offset(progress.offset), "the upload is at offset \(progress.offset), not \(offset)")
        }
        let end = offset + UInt64(bytes.count)
        // Every hash here, so that the writer only copies and flushes. One after
        // the other: each XXH3 pass (the upload's transfer check, the chunk
        // headers) costs about a tenth of the SHA-256 pass, less than handing it
        // to a task of its own would save (with SHA-256 chunk digests, layouts 1
        // to 4, the two passes ran side by side).
        progress.hasher.update(bytes)
        progress.checksum.update(bytes)
        let write = QueuedAppend(
            uploadId: uploadId, offset: offset, bytes: bytes,
            chunkHeaders: geometry.headersOfAlignedChunks(appendedAt: offset, bytes: bytes), actor: actor, now: now,
            epoch: claim.epoch)
        progress.offset = end
        uploadDigests.accept(uploadId)
        instruments.uploaded(bytes.count)
        appendQueue.push(write)
        writer.enqueue { self.storeQueuedAppends(of: uploadId) }
        return PendingAppend(end: end, outcome: write.outcome)
    }

    /// The most bytes of queued appends the writer stores in one transaction.
    public static let maxAppendBatchBytes = 32 << 20

    /// On the writer queue: stores the queued appends of the upload, as many
    /// as fit one batch, in one transaction; when that fails, one by one, so
    /// that each gets its own outcome.
    private func storeQueuedAppends(of uploadId: UUID) {
        let batch = appendQueue.take(uploadId, upTo: Self.maxAppendBatchBytes)
        guard !batch.isEmpty else { return }
        if batch.count > 1 {
            do {
                try writer.performNowOnQueue(.deferred) { txn in
                    for write in batch { try self.store(write, in: txn) }
                }
                for write in batch { settle(write, .success(write.end)) }
                return
            } catch {
                // Fall through: find out which append fails, and how.
            }
        }
        for write in batch {
            let result: Result<UInt64, any Error>
            do {
                try writer.performNowOnQueue(.deferred) { txn in try self.store(write, in: txn) }
                result = .success(write.end)
            } catch {
                result = .failure(error)
            }
            settle(write, result)
        }
    }

    private func settle(_ write: QueuedAppend, _ result: Result<UInt64, any Error>) {
        if case .failure(let error as StoreError) = result, error.code == .notFound {
            uploadDigests.forget(write.uploadId)
        }
        if case .failure = result {
            uploadDigests.settle(write.uploadId, epoch: write.epoch, failed: true)
        } else {
            uploadDigests.settle(write.uploadId, epoch: write.epoch, failed: false)
            uploadActivity.finished(write.uploadId, at: now)
        }
        write.outcome.complete(result)
    }

    /// Writes one accepted append in the writer's transaction.
    private func store(_ write: QueuedAppend, in txn: borrowing Transaction) throws {
        let key = Keys.upload(write.uploadId.uuidBytes)
        guard var record = try txn.record(UploadRecord.self, key, in: tables.uploads),
            record.owner == write.actor.name
        else {
            throw StoreError.notFound("upload")
        }
        guard record.offset == write.offset else {
            throw StoreError(
                .offsetMismatch, .offset(record.offset),
                "the upload is at offset \(record.offset), not \(write.offset)")
        }
        if let declared = record.declaredSize, write.end > declared {
            throw StoreError(
                .sizeMismatch, .sizes(expected: declared, actual: write.end),
                "the content would pass its declared size \(declared)")
        }
        let limit = configuration.maxArtifactBytes
        guard write.end <= limit else {
            throw StoreError(.tooLarge, .limit(limit), "the artifact would be larger than the store accepts")
        }
        try write.bytes.withUnsafeBytes {
            try appendChunks(
                txn, extent: record.extent, length: write.offset, bytes: $0, alignedHeaders: write.chunkHeaders)
        }
        record.offset = write.end
        record.updatedAt = write.now
        try txn.put(record, key, in: tables.uploads)
    }

    /// The upload's progress, for resuming.
    public func uploadStatus(uploadId: UUID, actor: Actor) throws -> UploadStatus {
        try read { txn in
            guard let record = try txn.record(UploadRecord.self, Keys.upload(uploadId.uuidBytes), in: tables.uploads),
                record.owner == actor.name, !isExpired(record, id: uploadId)
            else { throw StoreError.notFound("upload") }
            return UploadStatus(record, id: uploadId)
        }
    }

    /// Commits the upload as an artifact, durably.
    ///
    /// Checks the declared size (``StoreError/Code/sizeMismatch``), the
    /// expected digest given now or at begin and the expected XXH3-128
    /// (both ``StoreError/Code/digestMismatch``), and the quotas,
    /// atomically. On a failed check the upload stays open.
    ///
    /// - Parameters:
    ///   - expectedXXH128: the XXH3-128 of the content as the client sent
    ///     it: a transfer check that costs the client a tenth of a SHA-256.
    ///   - artifactId: the id the artifact gets (an import keeps ids);
    ///     refused with ``StoreError/Code/conflict`` when in use, a new
    ///     random one when `nil`.
    public func commitUpload(
        uploadId: UUID, expectedSHA256: SHA256Digest? = nil, expectedXXH128: XXH3Hash128? = nil,
        artifactId: UUID? = nil, actor: Actor
    ) async throws -> CommittedArtifact {
        let claim = try claim(uploadId, actor: actor, allowPending: false)
        let progress = claim.progress
        var kept: UploadDigests.Progress? = progress
        defer { uploadDigests.release(uploadId, epoch: claim.epoch, keeping: kept) }
        let digest = progress.hasher.copy().finalize()
        let checksum = progress.checksum.finalize()
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
            if let expectedXXH128, expectedXXH128 != checksum {
                throw StoreError(
                    .digestMismatch, .checksums(expected: expectedXXH128, actual: checksum),
                    "the content's xxh128 is not the expected one: bytes were lost or changed on the way")
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
        uploadActivity.forget(uploadId)
        if committed.deduplicated { scheduleReclaim() }
        return committed
    }

    /// Abandons the upload and reclaims its bytes.
    public func abortUpload(uploadId: UUID, actor: Actor) async throws {
        // Ownership first: another peer's upload is not found, never busy.
        let status = try uploadStatus(uploadId: uploadId, actor: actor)
        guard let claim = uploadDigests.claim(uploadId) else {
            throw StoreError(.offsetMismatch, .offset(status.offset), "another operation on the upload is running")
        }
        defer { uploadDigests.release(uploadId, epoch: claim.epoch, keeping: nil) }
        guard claim.pending == 0 else {
            throw StoreError(.offsetMismatch, .offset(status.offset), "appends to the upload are still being stored")
        }
        try await writer.perform(.durable, .frees) { txn in
            let key = Keys.upload(uploadId.uuidBytes)
            guard let record = try txn.record(UploadRecord.self, key, in: self.tables.uploads),
                record.owner == actor.name
            else {
                throw StoreError.notFound("upload")
            }
            try txn.delete(key, in: self.tables.uploads)
            try txn.put([], for: Keys.extent(record.extent), in: self.tables.garbage)
        }
        uploadActivity.forget(uploadId)
        scheduleReclaim()
    }

    /// A claim on an upload with its accepted progress in hand.
    struct ClaimedUpload {
        var progress: UploadDigests.Progress
        var epoch: Int
    }

    /// Claims the upload for one operation and returns its running digest,
    /// rebuilding it from the stored chunks when this process has none.
    ///
    /// - Parameter allowPending: whether appends accepted but not yet stored
    ///   may be outstanding (for another append); otherwise the claim is
    ///   refused while they are.
    private func claim(_ uploadId: UUID, actor: Actor, allowPending: Bool) throws -> ClaimedUpload {
        // Ownership first: another peer's upload is not found, never busy.
        let status = try uploadStatus(uploadId: uploadId, actor: actor)
        guard let claim = uploadDigests.claim(uploadId) else {
            throw StoreError(.offsetMismatch, .offset(status.offset), "another operation on the upload is running")
        }
        do {
            if claim.pending > 0 {
                guard allowPending, let cached = claim.progress else {
                    throw StoreError(
                        .offsetMismatch, .offset(status.offset), "appends to the upload are still being stored")
                }
                return ClaimedUpload(progress: cached, epoch: claim.epoch)
            }
            let progress = try read { txn in
                guard
                    let record = try txn.record(UploadRecord.self, Keys.upload(uploadId.uuidBytes), in: tables.uploads),
                    record.owner == actor.name, !isExpired(record, id: uploadId)
                else { throw StoreError.notFound("upload") }
                if let cached = claim.progress, cached.offset == record.offset { return cached }
                var hasher = SHA256Hasher()
                var checksum = XXH3Hasher128()
                try withVerifiedChunks(
                    txn, extent: record.extent, size: record.offset, range: 0..<record.offset, blob: nil
                ) { _, data in
                    hasher.update(data)
                    checksum.update(data)
                }
                return UploadDigests.Progress(hasher: hasher, checksum: checksum, offset: record.offset)
            }
            return ClaimedUpload(progress: progress, epoch: claim.epoch)
        } catch {
            uploadDigests.release(uploadId, epoch: claim.epoch, keeping: nil)
            throw error
        }
    }

    /// Whether the upload has been idle for the idle timeout: since its
    /// last change was recorded, or since an operation on it last finished
    /// in this process, whichever is later. (A record's time is taken
    /// before its commit, which may take seconds to flush on a busy disk;
    /// the upload is not idle meanwhile.) An upload with an operation under
    /// way (an append accepted and not yet stored, a commit waiting for the
    /// writer) is never idle.
    func isExpired(_ record: UploadRecord, id: UUID?) -> Bool {
        if let id, uploadDigests.isBusy(id) { return false }
        let idle = configuration.uploadIdleTimeout.components
        let idleMilliseconds = idle.seconds * 1000 + idle.attoseconds / 1_000_000_000_000_000
        let active = max(record.updatedAt, id.flatMap { uploadActivity.lastFinished($0) } ?? record.updatedAt)
        return now - active > idleMilliseconds
    }
}

extension UploadStatus {
    init(_ record: UploadRecord, id: UUID) {
        self.init(
            uploadId: id, tenant: TenantID(record.tenant)!, offset: record.offset, declaredSize: record.declaredSize,
            startedAt: date(milliseconds: record.startedAt), updatedAt: date(milliseconds: record.updatedAt))
    }
}

/// An append accepted by ``ArtifactStore/beginAppend(uploadId:offset:bytes:actor:)``
/// and queued for the store's writer.
public struct PendingAppend: Sendable {
    /// The upload's offset once this append is stored.
    public let end: UInt64
    let outcome: AppendOutcome

    /// Waits until the append is stored and returns the new offset, or
    /// throws why it was not.
    public func stored() async throws -> UInt64 {
        try await outcome.value()
    }
}

/// The one-time result of a queued append, awaited by any number of callers.
final class AppendOutcome: Sendable {
    private enum State {
        case waiting([CheckedContinuation<UInt64, any Error>])
        case done(Result<UInt64, any Error>)
    }

    private let state = Mutex(State.waiting([]))

    func complete(_ result: Result<UInt64, any Error>) {
        let waiters = state.withLock { state -> [CheckedContinuation<UInt64, any Error>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = .done(result)
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    func value() async throws -> UInt64 {
        try await withCheckedThrowingContinuation { continuation in
            let done = state.withLock { state -> Result<UInt64, any Error>? in
                switch state {
                case .waiting(let waiters):
                    state = .waiting(waiters + [continuation])
                    return nil
                case .done(let result):
                    return result
                }
            }
            if let done { continuation.resume(with: done) }
        }
    }
}

/// An accepted append waiting for the writer.
struct QueuedAppend: Sendable {
    let uploadId: UUID
    let offset: UInt64
    let bytes: [UInt8]
    /// Headers of the chunks of `bytes` that begin on a chunk boundary (see
    /// ``ChunkGeometry/headersOfAlignedChunks(appendedAt:bytes:)``).
    let chunkHeaders: [ChunkHeader]
    let actor: Actor
    let now: Int64
    let epoch: Int
    let outcome = AppendOutcome()

    var end: UInt64 { offset + UInt64(bytes.count) }
}

/// Accepted appends in the order they were accepted, per upload.
final class AppendQueue: Sendable {
    private let queued = Mutex([UUID: [QueuedAppend]]())

    func push(_ write: QueuedAppend) {
        queued.withLock { $0[write.uploadId, default: []].append(write) }
    }

    /// Removes and returns the oldest appends of the upload, as many as fit
    /// in `limit` bytes (at least one).
    func take(_ uploadId: UUID, upTo limit: Int) -> [QueuedAppend] {
        queued.withLock { queued in
            guard let all = queued[uploadId], !all.isEmpty else { return [] }
            var count = 0
            var bytes = 0
            while count < all.count && (count == 0 || bytes + all[count].bytes.count <= limit) {
                bytes += all[count].bytes.count
                count += 1
            }
            let batch = Array(all[..<count])
            queued[uploadId] = count == all.count ? nil : Array(all[count...])
            return batch
        }
    }
}

/// When an operation on each upload last finished in this process, to count
/// an upload's idle time from there rather than from before its last commit.
final class UploadActivity: Sendable {
    private let finishedAt = Mutex([UUID: Int64]())

    func finished(_ id: UUID, at time: Int64) {
        finishedAt.withLock { $0[id] = max($0[id] ?? time, time) }
    }

    func lastFinished(_ id: UUID) -> Int64? {
        finishedAt.withLock { $0[id] }
    }

    func forget(_ id: UUID) {
        finishedAt.withLock { _ = $0.removeValue(forKey: id) }
    }
}
