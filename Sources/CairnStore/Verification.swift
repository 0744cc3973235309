import CairnDigest
import Dispatch
import Foundation
import LMDB
import Logging
import StoreLayout
import Synchronization

/// One page of an integrity scrub.
public struct VerificationPage: Sendable, Equatable {
    /// A blob whose stored bytes failed verification, and who it affects.
    public struct Corrupt: Sendable, Equatable {
        public var sha256: SHA256Digest
        public var artifactIds: [UUID]
    }

    public var checkedBlobs: Int
    public var checkedBytes: UInt64
    public var corrupt: [Corrupt]
    /// Where the next call resumes; `nil` when every blob was visited.
    public var nextCursor: String?
}

extension ArtifactStore {
    /// Verifies the tenant's blobs in digest order, from `cursor`, until
    /// about `maxBytes` were checked (at least one blob per call, so every
    /// call makes progress and paging visits each blob exactly once).
    ///
    /// Each blob is checked chunk by chunk and as a whole against its
    /// SHA-256. Each blob is read in its own read transaction.
    public func verifyBlobs(tenant: TenantID, cursor: String? = nil, maxBytes: UInt64 = 256 << 20) throws
        -> VerificationPage
    {
        var after: SHA256Digest? = nil
        if let cursor {
            guard cursor.hasPrefix("v1."), let digest = SHA256Digest(parsing: cursor.dropFirst(3)) else {
                throw StoreError.invalid("cursor", "not a cursor this store issued")
            }
            after = digest
        }
        let prefix = Keys.tenant(tenant.rawValue)
        var page = VerificationPage(checkedBlobs: 0, checkedBytes: 0, corrupt: [], nextCursor: nil)
        var last = after
        while true {
            let next: (SHA256Digest, BlobRecord)? = try read { txn in
                var found: (SHA256Digest, BlobRecord)?
                var start = prefix
                if let last { start += last.bytes + [0] }
                try txn.scan(tables.blobs, prefix: prefix, from: start) { key, value in
                    guard let digest = SHA256Digest(bytes: key.suffix(32)) else { return true }
                    found = (digest, try BlobRecord(decoding: value))
                    return false
                }
                return found
            }
            guard let (digest, blob) = next else {
                page.nextCursor = nil
                instruments.verified(page, completed: true)
                return page
            }
            if page.checkedBlobs > 0 && page.checkedBytes + blob.sizeBytes > maxBytes {
                page.nextCursor = "v1." + (last?.hex ?? "")
                instruments.verified(page, completed: false)
                return page
            }
            if !(try blobIsIntact(tenant: tenant, digest: digest, blob: blob)) {
                let ids = (try? stat(tenant: tenant, sha256: digest).artifactIds) ?? []
                page.corrupt.append(.init(sha256: digest, artifactIds: ids))
            }
            page.checkedBlobs += 1
            page.checkedBytes += blob.sizeBytes
            last = digest
        }
    }

    /// Whether every chunk of the blob matches its header and the whole
    /// content matches the blob's digest.
    ///
    /// Reads the chunk values in LMDB's map (no copies): each chunk is
    /// checked against its header and fed to the blob's SHA-256. A chunk
    /// with an XXH3 header (layout 5 on) adds a tenth of a SHA-256 pass, in
    /// the same loop. Chunks with SHA-256 headers (layouts 1 to 4) cost a
    /// whole second SHA-256 pass, which runs on a second thread beside the
    /// blob's; in a blob of one chunk the chunk is the content, and its
    /// header must simply be the blob's digest.
    func blobIsIntact(tenant: TenantID, digest: SHA256Digest, blob: BlobRecord) throws -> Bool {
        try read { txn in
            let count = Int(geometry.chunkCount(for: blob.sizeBytes))
            var chunks: [(header: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer)] = []
            chunks.reserveCapacity(count)
            for index in 0..<count {
                let expected = Int(
                    min(UInt64(geometry.chunkSize), blob.sizeBytes - UInt64(index) * UInt64(geometry.chunkSize)))
                guard let value = try txn.get(Keys.chunk(extent: blob.extent, index: UInt32(index)), in: tables.chunks),
                    value.count == ChunkHeader.byteCount + expected
                else {
                    logger.error(
                        "chunk missing or of the wrong size", metadata: ["blob": "\(digest.hex)", "chunk": "\(index)"])
                    return false
                }
                chunks.append(
                    (
                        UnsafeRawBufferPointer(rebasing: value[..<ChunkHeader.byteCount]),
                        UnsafeRawBufferPointer(rebasing: value[ChunkHeader.byteCount...])
                    ))
            }
            let (whole, damagedChunk) = Self.check(chunks, of: digest)
            if let damagedChunk {
                logger.error(
                    "chunk failed verification", metadata: ["blob": "\(digest.hex)", "chunk": "\(damagedChunk)"])
                return false
            }
            guard whole == digest else {
                logger.error("blob failed verification", metadata: ["blob": "\(digest.hex)"])
                return false
            }
            return true
        }
    }

    /// A blob's chunks as read: headers and data in LMDB's map.
    ///
    /// `@unchecked Sendable`: the buffers are read only, and they stay valid
    /// while the read transaction is open, which outlasts every thread that
    /// ``check(_:of:)`` lends them to.
    private struct ChunkViews: @unchecked Sendable {
        var list: [(header: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer)]

        var whole: SHA256Digest {
            var hasher = SHA256Hasher()
            for chunk in list { hasher.update(chunk.data) }
            return hasher.finalize()
        }

        var firstDamaged: Int? {
            list.indices.first { !ChunkHeader.matches(list[$0].header, data: list[$0].data) }
        }
    }

    /// The SHA-256 of the chunks' data, and the first chunk whose header
    /// does not match its data (`nil` when all do).
    private static func check(
        _ list: [(header: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer)], of digest: SHA256Digest
    ) -> (whole: SHA256Digest, damagedChunk: Int?) {
        let chunks = ChunkViews(list: list)
        let legacy = list.contains { ChunkHeader.form(of: $0.header) == .sha256 }
        if legacy && list.count == 1 {
            // The whole-content check hashes the same bytes as the chunk's.
            return (chunks.whole, list[0].header.elementsEqual(digest.bytes) ? nil : 0)
        }
        guard legacy else {
            // One loop: each chunk's XXH3 while it is in cache for the SHA-256.
            var whole = SHA256Hasher()
            var damaged: Int? = nil
            for (index, chunk) in list.enumerated() {
                whole.update(chunk.data)
                if damaged == nil && !ChunkHeader.matches(chunk.header, data: chunk.data) { damaged = index }
            }
            return (whole.finalize(), damaged)
        }
        // Two SHA-256 passes: the chunks' on the check queue, the blob's here.
        let damaged = Mutex<Int?>(nil)
        let checked = DispatchSemaphore(value: 0)
        chunkCheckQueue.async {
            let first = chunks.firstDamaged
            damaged.withLock { $0 = first }
            checked.signal()
        }
        let whole = chunks.whole
        checked.wait()
        return (whole, damaged.withLock { $0 })
    }

    /// Where the chunk headers of layouts 1 to 4 are checked, beside the
    /// blob's SHA-256. A private serial queue targets an overcommitting root
    /// queue and so always gets a thread; `concurrentPerform` and the global
    /// queues, called from a Swift concurrency thread, were measured to run
    /// the second pass on no thread of its own when the CPUs looked busy
    /// (docs/performance.md, "The integrity scrub").
    private static let chunkCheckQueue = DispatchQueue(label: "cairn.store.scrub.chunks")
}

extension ArtifactStore {
    /// Verifies the one blob the tenant holds under `sha256`, as
    /// ``verifyBlobs(tenant:cursor:maxBytes:)`` verifies each.
    ///
    /// - Throws: ``StoreError/Code/notFound`` when the tenant holds no such content.
    public func verifyBlob(tenant: TenantID, sha256: SHA256Digest) throws -> VerificationPage {
        let blob = try read { txn in
            try txn.record(BlobRecord.self, Keys.blob(tenant: tenant.rawValue, sha256: sha256.bytes), in: tables.blobs)
        }
        guard let blob else { throw StoreError.notFound("blob") }
        var page = VerificationPage(checkedBlobs: 1, checkedBytes: blob.sizeBytes, corrupt: [], nextCursor: nil)
        if !(try blobIsIntact(tenant: tenant, digest: sha256, blob: blob)) {
            page.corrupt.append(
                .init(sha256: sha256, artifactIds: (try? stat(tenant: tenant, sha256: sha256).artifactIds) ?? []))
        }
        instruments.verified(page, completed: false)
        return page
    }
}
