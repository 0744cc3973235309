import ObjectStorage

/// What a prune removed and kept.
public struct PruneReport: Sendable, Hashable {
    /// The backups removed, oldest first.
    public var removedBackups: [String]
    /// The backups kept, oldest first.
    public var keptBackups: [String]
    /// Packs removed (with their indexes).
    public var removedPacks: Int
    /// Packs kept, because a kept backup references a blob in them.
    public var keptPacks: Int
    /// Multipart uploads of packs that no backup will finish (left by backups that died), aborted.
    public var abortedUploads: Int
}

extension BackupRepository {
    /// Removes the backups `policy` does not keep, then every pack no kept backup references.
    ///
    /// Holds the repository's exclusive lock throughout (``RepositoryLocks``): it refuses to start
    /// while a backup holds a lock, and no backup starts while it runs. Steps, each safe to
    /// interrupt: the dropped backups' `snapshots/` objects go first; then the trees of the kept
    /// ones are read, and only packs none of whose blobs they reference are removed, each index
    /// before its pack. A pack with no index (left by a backup that failed) is removed too. A
    /// pack that holds one referenced blob is kept whole.
    ///
    /// - Throws: ``RepositoryError`` `locked` when a backup or another prune is running;
    ///   `damaged` when a kept backup's tree cannot be read (nothing is removed then but the
    ///   dropped backups' records).
    public func prune(policy: RetentionPolicy, holder: String, now: Int64) async throws -> PruneReport {
        let lock = try await takeLock(kind: "prune", holder: holder, now: { now })
        do {
            let report = try await pruneHoldingLock(policy: policy)
            try? await releaseLock(lock)
            return report
        } catch {
            try? await releaseLock(lock)
            throw error
        }
    }

    private func pruneHoldingLock(policy: RetentionPolicy) async throws -> PruneReport {
        let ids = try await snapshotIDs()
        let kept = policy.kept(ids)
        let removed = ids.filter { !kept.contains($0) }
        for id in removed { try await deleteSnapshot(id) }
        var referenced: Set<String> = []
        for id in ids where kept.contains(id) {
            let record = try await snapshot(id)
            let tree = try await tree(of: record)
            referenced.insert(record.tree.location.pack)
            for reference in tree.parts.values { referenced.insert(reference.location.pack) }
            for reference in tree.contents { referenced.insert(reference.location.pack) }
        }
        let (_, unreadable) = try await loadIndex()
        let unreadableIndexes = Set(unreadable)
        var removedPacks = 0
        var keptPacks = 0
        for pack in try await storedPacks() {
            if referenced.contains(pack) || unreadableIndexes.contains(pack) {
                keptPacks += 1
                continue
            }
            try await deletePack(pack)
            removedPacks += 1
        }
        // Indexes whose pack is gone (a prune interrupted between the two deletes).
        let stored = Set(try await storedPacks())
        for pack in try await names(in: "index") where !stored.contains(pack) && !unreadableIndexes.contains(pack) {
            try await s3.deleteObject(bucket: location.bucket, key: location.key("index/\(pack)"))
        }
        // Uploads of streamed packs that a dead backup began: while this prune holds the lock no
        // backup runs, so none of them will be completed. Their parts cost storage until aborted.
        let orphans = try await s3.multipartUploads(bucket: location.bucket, prefix: location.key("data/"))
        for upload in orphans {
            try await s3.abortMultipartUpload(uploadID: upload.uploadID, bucket: location.bucket, key: upload.key)
        }
        return PruneReport(
            removedBackups: removed, keptBackups: ids.filter { kept.contains($0) }, removedPacks: removedPacks,
            keptPacks: keptPacks, abortedUploads: orphans.count)
    }
}
