import Foundation
import LMDB
import Logging
import StoreLayout
import Synchronization

/// Freeing the chunks of extents nobody needs any more: blobs whose last
/// artifact was deleted, uploads that were aborted, expired, or committed as
/// a duplicate.
///
/// The transaction that drops the last reference records the extent in
/// ``DatabaseName/garbage``; the chunks are then deleted in small batches,
/// each its own transaction, so that no single transaction grows with the
/// size of the content and other writes go on in between. Work left over by
/// a crash resumes when the store opens.
extension ArtifactStore {
    /// Chunks deleted per transaction.
    static let reclaimBatch = 64

    /// Queues reclamation on the writer unless it is already queued or
    /// running. The flag stays set until no work remains, so ``flush()`` can
    /// wait for it.
    func scheduleReclaim() {
        guard !reclaimScheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        enqueueReclaimBatch()
    }

    private func enqueueReclaimBatch() {
        writer.enqueue { [self] in
            do {
                if try reclaimStepOnQueue() {
                    enqueueReclaimBatch()
                    return
                }
            } catch {
                logger.error("reclamation failed; it resumes at the next open", metadata: ["error": "\(error)"])
            }
            reclaimScheduled.store(false, ordering: .releasing)
        }
    }

    /// Reclaims everything pending, now. Used at start-up.
    func reclaimAllNow() throws {
        let reclaimed = try writer.onQueueNow { try reclaimAllOnQueue() }
        if reclaimed { logger.info("reclaimed unreferenced chunks") }
    }

    /// Reclaims everything pending from work on the writer queue: what the
    /// writer does before it refuses a write for want of room (see
    /// ``StoreWriter/setReclaimer(_:)``).
    ///
    /// - Returns: whether anything was pending.
    func reclaimAllOnQueue() throws -> Bool {
        var reclaimed = false
        while try reclaimStepOnQueue() { reclaimed = true }
        return reclaimed
    }

    /// One transaction of reclamation, on the writer queue: up to
    /// ``reclaimBatch`` chunks, or one chunk when the store has no room
    /// for the free-list entry of a whole batch (it lists every page it
    /// frees, some 130 KiB for a batch, and must itself be written).
    ///
    /// - Returns: whether anything was pending.
    private func reclaimStepOnQueue() throws -> Bool {
        do {
            return try writer.performNowOnQueue(.deferred, .frees) { txn in
                try self.reclaimBatch(txn, chunks: Self.reclaimBatch)
            }
        } catch let error as StoreError where error.code == .storeFull {
            return try writer.performNowOnQueue(.deferred, .frees) { txn in try self.reclaimBatch(txn, chunks: 1) }
        }
    }

    /// Deletes up to `chunks` chunks of the first pending extent.
    ///
    /// - Returns: whether anything was pending.
    private func reclaimBatch(_ txn: borrowing Transaction, chunks limit: Int) throws -> Bool {
        var pending: UInt64?
        try txn.scan(tables.garbage, prefix: []) { key, _ in
            pending = Keys.trailingSequence(of: key)
            return false
        }
        guard let extent = pending else { return false }
        var deleted = 0
        var exhausted = false
        try txn.withCursor(on: tables.chunks) { cursor in
            let prefix = Keys.extent(extent)
            var entry = try cursor.seek(atOrAfter: prefix)
            while deleted < limit {
                guard let current = entry, current.key.starts(with: prefix) else {
                    exhausted = true
                    return
                }
                try cursor.deleteCurrent()
                deleted += 1
                // After a delete the cursor stands on the following entry.
                entry = try cursor.seek(atOrAfter: prefix)
            }
        }
        if exhausted { try txn.delete(Keys.extent(extent), in: tables.garbage) }
        return true
    }

    /// Expires uploads idle for longer than the configured time.
    ///
    /// - Returns: how many expired.
    @discardableResult
    public func expireIdleUploads() async throws -> Int {
        let expired = try await writer.perform(.durable, .frees) { txn in try self.expireIdle(txn) }
        if expired > 0 { scheduleReclaim() }
        return expired
    }

    func expireIdleUploadsNow() throws {
        let expired = try writer.performNow(.durable, .frees) { txn in try self.expireIdle(txn) }
        if expired > 0 { logger.info("expired idle uploads", metadata: ["count": "\(expired)"]) }
    }

    private func expireIdle(_ txn: borrowing Transaction) throws -> Int {
        var victims: [([UInt8], UInt64)] = []
        try txn.scan(tables.uploads, prefix: []) { key, value in
            let record = try UploadRecord(decoding: value)
            if isExpired(record, id: UUID(bytes: key)) { victims.append((Array(key), record.extent)) }
            return true
        }
        for (key, extent) in victims {
            try txn.delete(key, in: tables.uploads)
            try txn.put([], for: Keys.extent(extent), in: tables.garbage)
            if let id = UUID(bytes: key) {
                uploadDigests.forget(id)
                uploadActivity.forget(id)
            }
        }
        return victims.count
    }
}
