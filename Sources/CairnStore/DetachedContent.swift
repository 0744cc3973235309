import CairnDigest
import Foundation
import LMDB
import StoreLayout

/// One extent of live content in a store: a tenant's blob, or the bytes an open upload has
/// received so far.
public struct ContentExtent: Sendable, Hashable {
    /// Whose content it is.
    public enum Owner: Sendable, Hashable {
        /// The blob of `sha256` in `tenant`.
        case blob(tenant: String, sha256: SHA256Digest)
        /// The open upload `uploadId` (16 bytes).
        case upload(uploadId: [UInt8])
    }

    /// Whose content it is.
    public var owner: Owner
    /// The extent's number.
    public var extent: UInt64
    /// The content's length: the blob's size, or the upload's offset.
    public var sizeBytes: UInt64
}

/// A store split into its content and everything else, for backups that store content by
/// digest: the *metadata file* is the store with its `chunks` (and `garbage`) emptied, and the
/// content of each extent is read separately; a restore puts the content back into the
/// metadata file's extents.
extension ArtifactStore {
    /// Every extent of live content: each tenant's blobs, then the open uploads, in key order.
    public func contentExtents() throws -> [ContentExtent] {
        try read { txn in try Self.contentExtents(txn, tables: tables) }
    }

    static func contentExtents(_ txn: borrowing Transaction, tables: Tables) throws -> [ContentExtent] {
        var extents: [ContentExtent] = []
        try txn.scan(tables.blobs, prefix: []) { key, value in
            let record = try BlobRecord(decoding: value)
            guard key.count > 33, let digest = SHA256Digest(bytes: key.suffix(32)) else {
                throw StoreError(.internalError, .none, "a blob key is damaged")
            }
            let tenant = String(decoding: key.prefix(key.count - 33), as: UTF8.self)
            extents.append(
                ContentExtent(
                    owner: .blob(tenant: tenant, sha256: digest), extent: record.extent, sizeBytes: record.sizeBytes))
            return true
        }
        try txn.scan(tables.uploads, prefix: []) { key, value in
            let record = try UploadRecord(decoding: value)
            extents.append(
                ContentExtent(owner: .upload(uploadId: Array(key)), extent: record.extent, sizeBytes: record.offset))
            return true
        }
        return extents
    }

    /// The verified bytes `range` of an extent's content (each chunk checked against its header).
    public func contentBytes(of content: ContentExtent, range: Range<UInt64>) throws -> [UInt8] {
        guard range.upperBound <= content.sizeBytes else {
            throw StoreError.invalid("range", "beyond the content's \(content.sizeBytes) bytes")
        }
        return try read { txn in try verifiedBytes(txn, of: content, range: range) }
    }

    /// The bytes `range` of `content`, each chunk checked against its header.
    private func verifiedBytes(
        _ txn: borrowing Transaction, of content: ContentExtent, range: Range<UInt64>
    ) throws -> [UInt8] {
        var blob: SHA256Digest?
        if case .blob(_, let sha256) = content.owner { blob = sha256 }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        try withVerifiedChunks(txn, extent: content.extent, size: content.sizeBytes, range: range, blob: blob) {
            chunkOffset, data in
            let from = Int(max(range.lowerBound, chunkOffset) - chunkOffset)
            let to = Int(min(range.upperBound, chunkOffset + UInt64(data.count)) - chunkOffset)
            out.append(contentsOf: data[from..<to])
        }
        return out
    }

    /// The verified bytes `range` of `owner`'s content as this store holds it now, or `nil` when
    /// it no longer holds that content in full: the blob was deleted, or the upload was
    /// committed, aborted or expired. A blob's bytes are those of its digest whichever extent
    /// holds them, so a reader of a ``DetachedSnapshot`` takes a blob's content from the live
    /// store; an upload only grows while it is open, so the bytes it had stay as they were.
    public func currentContentBytes(of owner: ContentExtent.Owner, range: Range<UInt64>) throws -> [UInt8]? {
        try read { txn in
            let content: ContentExtent
            switch owner {
            case .blob(let tenant, let sha256):
                guard
                    let record = try txn.record(
                        BlobRecord.self, Keys.blob(tenant: tenant, sha256: sha256.bytes), in: tables.blobs)
                else { return nil }
                content = ContentExtent(owner: owner, extent: record.extent, sizeBytes: record.sizeBytes)
            case .upload(let uploadId):
                guard let id = UUIDBytes(uploadId),
                    let record = try txn.record(UploadRecord.self, Keys.upload(id), in: tables.uploads)
                else { return nil }
                content = ContentExtent(owner: owner, extent: record.extent, sizeBytes: record.offset)
            }
            guard range.upperBound <= content.sizeBytes else { return nil }
            return try verifiedBytes(txn, of: content, range: range)
        }
    }

    /// Writes this store's metadata file into `directory` (``writeMetadataFile(into:)``) and
    /// reads back from it the manifest and the content extents: everything of a backup but the
    /// content, from one consistent state, the content to be read afterwards with
    /// ``currentContentBytes(of:range:)``.
    public func detachedSnapshot(into directory: String) throws -> DetachedSnapshot {
        let dataFile = try writeMetadataFile(into: directory)
        defer { unlink(directory + "/lock.mdb") }  // made by reading it; the metadata file is the data file alone
        let metadata = try Self.openReadOnly(directory: directory, configuration: configuration, logger: logger)
        return DetachedSnapshot(
            dataFile: dataFile, manifest: try metadata.storeManifest(), extents: try metadata.contentExtents(),
            layoutVersion: metadata.layoutVersion)
    }

    /// Writes the metadata file of this store into `directory`: every database of the current
    /// layout but `chunks` and `garbage`, copied entry by entry in one read transaction of this
    /// store (so one consistent state) into a new environment. `directory` must not exist or be
    /// empty; the file is flushed to disk. The store is not changed.
    public func writeMetadataFile(into directory: String) throws -> BackupFile {
        try Self.createEmptyPrivateDirectory(directory)
        let target: Environment
        do {
            // Room for every entry but content: the whole map is never more than this store's file.
            target = try Environment(
                path: directory, configuration: .init(mapSize: max(1 << 30, environment.info.mapSize)))
        } catch {
            throw StoreError(.internalError, .none, "cannot create the metadata file in \(directory): \(error)")
        }
        do {
            try read { source in
                try target.withWriteTransaction { output in
                    for name in Tables.names where name != .chunks && name != .garbage {
                        guard let from = try source.openDatabase(name.rawValue, create: false),
                            let into = try output.openDatabase(name.rawValue, create: true)
                        else { continue }
                        try source.scan(from, prefix: []) { key, value in
                            try output.put(value, for: Array(key), in: into)
                            return true
                        }
                    }
                    // Empty, as a store has them.
                    _ = try output.openDatabase(DatabaseName.chunks.rawValue, create: true)
                    _ = try output.openDatabase(DatabaseName.garbage.rawValue, create: true)
                }
            }
            try target.sync()
        } catch let error as StoreError {
            throw error
        } catch let error as LMDBError where error.isOutOfSpace {
            throw StoreError(.storeFull, .none, "the disk is full while writing the metadata file")
        } catch {
            throw StoreError(.internalError, .none, "cannot write the metadata file into \(directory): \(error)")
        }
        return try Self.digestAndSync(directory + "/" + Self.backupDataFileName)
    }
}

/// A store's metadata file with what was read back from it: ``ArtifactStore/detachedSnapshot(into:)``.
public struct DetachedSnapshot: Sendable {
    /// The metadata file, its size and SHA-256.
    public var dataFile: BackupFile
    /// Every tenant's manifest, computed from the metadata file.
    public var manifest: StoreManifest
    /// The content the metadata file refers to, as ``ArtifactStore/contentExtents()`` lists it.
    public var extents: [ContentExtent]
    /// The layout version of the metadata file.
    public var layoutVersion: UInt32
}

/// Puts content back into a metadata file's extents: the first step of restoring a backup
/// that stores content apart.
///
/// Open it on a directory holding a metadata file, ``write(_:at:to:)`` every extent's content
/// in order, then ``finish()``. Writes go in transactions of about 64 MiB. The file is then a
/// store like any other, to be restored with ``ArtifactStore/restore(dataFile:into:expected:expectedFile:configuration:logger:)``,
/// which verifies every blob.
public final class ContentRefill {
    private let environment: Environment
    private let chunks: Database
    private let chunkSize: Int
    private var pending: [(key: [UInt8], value: [UInt8])] = []
    private var pendingBytes = 0

    /// The extents to fill, as ``ArtifactStore/contentExtents()`` lists them.
    public let extents: [ContentExtent]

    /// Opens the metadata file in `directory`, with a map large enough for `contentBytes` more.
    public init(directory: String, contentBytes: UInt64) throws {
        let fileSize =
            (try? FileManager.default.attributesOfItem(atPath: directory + "/" + ArtifactStore.backupDataFileName)[
                .size] as? NSNumber)?.intValue ?? 0
        // Each chunk takes its data, a 32-byte header and part of a page more; leave room for both.
        let needed = 2 * fileSize + Int(contentBytes) + Int(contentBytes / 8) + (256 << 20)
        let mapSize = max(1 << 30, (needed + (1 << 20) - 1) / (1 << 20) * (1 << 20))
        do {
            environment = try Environment(path: directory, configuration: .init(mapSize: mapSize))
            (chunks, extents) = try environment.withWriteTransaction { txn in
                let tables = try Tables(opening: txn)
                return (tables.chunks, try ArtifactStore.contentExtents(txn, tables: tables))
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.internalError, .none, "cannot open the metadata file in \(directory): \(error)")
        }
        chunkSize = Int(ChunkGeometry.standard.chunkSize)
    }

    /// Writes `bytes`, the content of `extent` from offset `offset`, which must be a chunk
    /// boundary (or the end of the content).
    public func write(_ bytes: [UInt8], at offset: UInt64, to extent: ContentExtent) throws {
        guard offset % UInt64(chunkSize) == 0, offset + UInt64(bytes.count) <= extent.sizeBytes else {
            throw StoreError.invalid("offset", "content is put back a whole chunk at a time")
        }
        var start = 0
        var index = UInt32(offset / UInt64(chunkSize))
        while start < bytes.count {
            let end = min(bytes.count, start + chunkSize)
            let data = bytes[start..<end]
            var value = [UInt8](repeating: 0, count: ChunkHeader.byteCount)
            data.withUnsafeBytes { raw in
                value.withUnsafeMutableBytes { ChunkHeader(for: raw).write(to: $0) }
            }
            value += data
            pending.append((Keys.chunk(extent: extent.extent, index: index), value))
            pendingBytes += value.count
            start = end
            index += 1
        }
        if pendingBytes >= 64 << 20 { try flush() }
    }

    /// Commits what is pending and flushes the file to disk.
    public func finish() throws {
        try flush()
        do { try environment.sync() } catch {
            throw StoreError(.internalError, .none, "cannot flush the refilled store: \(error)")
        }
    }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        do {
            try environment.withWriteTransaction { txn in
                for entry in pending { try txn.put(entry.value, for: entry.key, in: chunks) }
            }
        } catch let error as LMDBError where error.isOutOfSpace {
            throw StoreError(.storeFull, .none, "the disk is full while restoring content")
        } catch {
            throw StoreError(.internalError, .none, "cannot write restored content: \(error)")
        }
        pending.removeAll(keepingCapacity: true)
        pendingBytes = 0
    }
}
