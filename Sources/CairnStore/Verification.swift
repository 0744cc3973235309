import CairnDigest
import Foundation
import LMDB
import Logging
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

    /// Whether every chunk of the blob matches its header and the whole
    /// content matches the blob's digest.
    ///
    /// One pass over the chunk values in LMDB's map (no copies): each chunk
    /// is checked against its header and fed to the blob's SHA-256. A chunk
    /// with an XXH3 header (layout 5 on) adds a tenth of a SHA-256 pass; one
    /// with a SHA-256 header (layouts 1 to 4) a whole second pass, except in a
    /// blob of one chunk, where the chunk is the content and its header must
    /// be the blob's digest.
    func blobIsIntact(tenant: TenantID, digest: SHA256Digest, blob: BlobRecord) throws -> Bool {
        try read { txn in
            let count = Int(geometry.chunkCount(for: blob.sizeBytes))
            var whole = SHA256Hasher()
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
                let header = UnsafeRawBufferPointer(rebasing: value[..<ChunkHeader.byteCount])
                let data = UnsafeRawBufferPointer(rebasing: value[ChunkHeader.byteCount...])
                whole.update(data)
                let chunkIntact =
                    count == 1 && ChunkHeader.form(of: header) == .sha256
                    ? header.elementsEqual(digest.bytes)  // the whole-content check below hashes the same bytes
                    : ChunkHeader.matches(header, data: data)
                guard chunkIntact else {
                    logger.error("chunk failed verification", metadata: ["blob": "\(digest.hex)", "chunk": "\(index)"])
                    return false
                }
            }
            guard whole.finalize() == digest else {
                logger.error("blob failed verification", metadata: ["blob": "\(digest.hex)"])
                return false
            }
            return true
        }
    }
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
        return page
    }
}
