import CairnClient
import CairnDigest
import CairnProtocol
import CairnStore
import Foundation

/// Where an off-host backup reads the content its snapshot's metadata file refers to: the
/// store of a data directory this process opened (``ContentInStore``), or the server, over the
/// connection that took the snapshot (``ContentOverSocket``). Either reads the store as it is
/// now: a blob's bytes are those of its digest, and an open upload's first bytes stay as they
/// were while it is open, so a content deleted since the snapshot is the only change it sees,
/// and that fails the backup.
protocol SnapshotContent: Sendable {
    /// The bytes `range` of `extent`'s content, each chunk checked against its header.
    func bytes(of extent: ContentExtent, range: Range<UInt64>) async throws -> [UInt8]
}

extension ContentExtent {
    /// How a message names the content.
    var described: String {
        switch owner {
        case .blob(let tenant, let sha256): "content sha256:\(sha256.hex) of tenant \(tenant)"
        case .upload(let uploadId): "upload \(UUIDBytesText.text(uploadId))"
        }
    }
}

/// The content of a data directory's store, read by this process.
struct ContentInStore: SnapshotContent {
    let store: ArtifactStore

    func bytes(of extent: ContentExtent, range: Range<UInt64>) async throws -> [UInt8] {
        guard let bytes = try store.currentContentBytes(of: extent.owner, range: range) else {
            throw LocalFailure(
                "the store no longer holds the \(extent.described): it changed while the backup ran; take the backup again"
            )
        }
        return bytes
    }
}

/// The content of the server's `separate` snapshot, read with `backup.readContent` in ranges
/// of at most the server's `maxChunkBytes`.
///
/// `@unchecked Sendable`: a `CairnClient` is not, and a backup reads one range at a time (the
/// pack writer pulls the parts of a streamed blob one after another, and awaits each before
/// the next content), so the client is never used by two tasks at once.
struct ContentOverSocket: SnapshotContent, @unchecked Sendable {
    let client: CairnClient
    let snapshotId: UUID
    let chunkBytes: UInt64

    func bytes(of extent: ContentExtent, range: Range<UInt64>) async throws -> [UInt8] {
        let content: BackupContentParams.Content
        switch extent.owner {
        case .blob(let tenant, let sha256): content = .blob(tenant: tenant, sha256: sha256)
        case .upload(let uploadId):
            content = .upload(uploadId.withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) })
        }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var offset = range.lowerBound
        while offset < range.upperBound {
            let length = min(range.upperBound - offset, chunkBytes)
            let chunk = try await client.call(
                Methods.backupReadContent,
                BackupContentParams(snapshotId: snapshotId, content: content, offset: offset, length: length))
            guard chunk.offset == offset, !chunk.bytes.isEmpty, UInt64(chunk.bytes.count) <= length else {
                throw LocalFailure("the server sent the \(extent.described) out of order")
            }
            out += chunk.bytes
            offset += UInt64(chunk.bytes.count)
        }
        return out
    }
}
