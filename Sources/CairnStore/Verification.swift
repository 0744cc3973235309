import CairnDigest
import Foundation
import LMDB
import StoreLayout

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
                return page
            }
            if page.checkedBlobs > 0 && page.checkedBytes + blob.sizeBytes > maxBytes {
                page.nextCursor = "v1." + (last?.hex ?? "")
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

    func blobIsIntact(tenant: TenantID, digest: SHA256Digest, blob: BlobRecord) throws -> Bool {
        do {
            return try read { txn in
                var whole = SHA256Hasher()
                try withVerifiedChunks(
                    txn, extent: blob.extent, size: blob.sizeBytes, range: 0..<blob.sizeBytes, blob: digest
                ) { _, data in
                    whole.update(data)
                }
                return whole.finalize() == digest
            }
        } catch let error as StoreError where error.code == .integrityError {
            return false
        }
    }
}
