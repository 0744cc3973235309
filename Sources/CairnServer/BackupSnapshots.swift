import CairnDigest
import CairnProtocol
import CairnStore
import DurableFiles
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The whole-store snapshots that `backup.begin` takes for a backup job
/// that has no access to the data directory, and that it then fetches
/// with `backup.read`.
///
/// A snapshot is what `cairn backup --data-dir` writes: LMDB's compacted
/// copy of the store (taken in a read transaction of its own, beside the
/// writer), the manifest computed from that copy, and copies of the
/// server's configuration files, all in a private directory of its own
/// under `<data-dir>/snapshots/`. Each peer uid has at most one snapshot:
/// a new `backup.begin` replaces its previous one. A snapshot that nobody
/// reads for ``idleTimeout`` is removed (``expire(now:)``), and so is
/// every snapshot left over when the server starts. Only the uid that took
/// a snapshot can read or end it; to anyone else it does not exist.
///
/// The server never opens a path a client names: `backup.read` names a
/// file by the path this registry listed, and only those are served.
final class BackupSnapshots: Sendable {
    /// A configuration file of the data directory and where it goes in a backup.
    struct ConfigurationFile: Sendable {
        /// Where the server reads it.
        var source: String
        /// Its path in a backup directory, e.g. `config/access.json`.
        var path: String
    }

    private struct Snapshot: Sendable {
        let owner: UInt32
        let directory: String
        let result: BackupSnapshotResult
        /// The content a `separate` snapshot refers to, and each one's length in it.
        let contents: [ContentExtent.Owner: UInt64]
        var lastUsed: ContinuousClock.Instant
    }

    /// `<data-dir>/snapshots`.
    let directory: String
    /// How long a snapshot may go unread before it is removed.
    let idleTimeout: Duration
    private let configurationFiles: @Sendable () -> [ConfigurationFile]
    private let snapshots = Mutex<[UUID: Snapshot]>([:])

    /// A registry keeping its snapshots in `directory`, which it empties.
    ///
    /// - Parameter configurationFiles: The files to copy beside the store,
    ///   listed afresh for each snapshot.
    init(
        directory: String, idleTimeout: Duration = .seconds(900),
        configurationFiles: @escaping @Sendable () -> [ConfigurationFile] = { [] }
    ) {
        self.directory = directory
        self.idleTimeout = idleTimeout
        self.configurationFiles = configurationFiles
        // A snapshot outlives no server: whatever a previous run left is removed.
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Takes a snapshot for `owner`, replacing its previous one: with `content` `.included`
    /// LMDB's compacted copy of the store, with `.separate` its metadata file (the store
    /// without its content, ``ArtifactStore/detachedSnapshot(into:)``), whose content
    /// ``readContent(_:owner:content:offset:length:store:now:)`` then reads from the store.
    ///
    /// - Throws: `STORE_FULL` when the disk cannot hold the copy (nothing is
    ///   left behind); `INTERNAL` for any other failure.
    func begin(
        owner: UInt32, store: ArtifactStore, content: BackupBeginParams.Content = .included,
        now: ContinuousClock.Instant
    ) throws -> BackupSnapshotResult {
        removeSnapshots { _, snapshot in snapshot.owner == owner }
        let id = UUID()
        let target = (directory as NSString).appendingPathComponent(UUIDText.lowercase(id))
        do {
            try Durable.createDirectory(directory)
            let manifest: StoreManifest
            let dataFile: BackupFile
            var contents: [ContentExtent.Owner: UInt64] = [:]
            switch content {
            case .included:
                let health = try store.health()
                // The compacted copy is at most the map's used part.
                guard health.diskFreeBytes > health.usedBytes else {
                    throw RPCError(
                        .storeFull,
                        "not enough free disk for a snapshot: \(health.diskFreeBytes) bytes free, the store uses \(health.usedBytes)"
                    )
                }
                (manifest, dataFile) = try store.backup(to: target)
            case .separate:
                let detached = try store.detachedSnapshot(into: target)
                (manifest, dataFile) = (detached.manifest, detached.dataFile)
                for extent in detached.extents { contents[extent.owner] = extent.sizeBytes }
            }
            var files = [
                BackupFileEntry(
                    path: ArtifactStore.backupDataFileName, sizeBytes: dataFile.sizeBytes, sha256: dataFile.sha256)
            ]
            for file in configurationFiles() {
                files.append(try copy(file, into: target))
            }
            let result = BackupSnapshotResult(
                snapshotId: id, createdAt: Wire.timeText(Date()), layoutVersion: UInt64(store.layoutVersion),
                files: files, digest: manifest.digest, tenants: manifest.tenants.map(ManifestCoding.encode),
                content: content)
            snapshots.withLock {
                $0[id] = Snapshot(
                    owner: owner, directory: target, result: result, contents: contents, lastUsed: now)
            }
            return result
        } catch {
            try? FileManager.default.removeItem(atPath: target)
            if let error = error as? RPCError { throw error }
            var fs = statvfs()
            if statvfs(directory, &fs) == 0, UInt64(fs.f_bavail) * UInt64(fs.f_frsize) < 1 << 20 {
                throw RPCError(.storeFull, "the disk filled up while taking the snapshot; nothing was kept")
            }
            throw error
        }
    }

    /// Up to `length` bytes of the file `path` of `owner`'s snapshot `id`, from `offset`.
    func read(
        _ id: UUID, owner: UInt32, path: String, offset: UInt64, length: Int, now: ContinuousClock.Instant
    ) throws -> BackupChunkResult {
        let snapshot = try use(id, owner: owner, now: now)
        guard let file = snapshot.result.files.first(where: { $0.path == path }) else {
            throw RPCError(
                .notFound, "the snapshot has no file \(path)", data: JSONObject([("what", "file")]))
        }
        guard offset <= file.sizeBytes else {
            throw RPCError.invalidParams("offset", "offset is past the file's end (\(file.sizeBytes) bytes)")
        }
        let count = Int(min(UInt64(length), file.sizeBytes - offset))
        let location = (snapshot.directory as NSString).appendingPathComponent(path)
        let fd = open(location, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RPCError(.internalError, "cannot open the snapshot's \(path)") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw RPCError(.internalError, "cannot read the snapshot's \(path)") }
            done += n
        }
        return BackupChunkResult(
            path: path, offset: offset, bytes: bytes, eof: offset + UInt64(count) == file.sizeBytes)
    }

    /// Up to `length` bytes of one content of `owner`'s `separate` snapshot `id`, from `offset`.
    ///
    /// The bytes come from the store as it is now: a blob's are those of its digest, and an open
    /// upload's first bytes do not change while it stays open.
    ///
    /// - Throws: `NOT_FOUND` (`what: content`) when the snapshot does not refer to that content,
    ///   or when the store no longer holds it (deleted, or the upload ended, since the snapshot
    ///   was taken: take the backup again); `INVALID_PARAMS` for an offset past its end.
    func readContent(
        _ id: UUID, owner: UInt32, content: BackupContentParams.Content, offset: UInt64, length: Int,
        store: ArtifactStore, now: ContinuousClock.Instant
    ) throws -> BackupContentResult {
        let snapshot = try use(id, owner: owner, now: now)
        let key: ContentExtent.Owner
        let name: String
        switch content {
        case .blob(let tenant, let sha256):
            key = .blob(tenant: tenant, sha256: sha256)
            name = "content sha256:\(sha256.hex) of tenant \(tenant)"
        case .upload(let uploadId):
            key = .upload(uploadId: withUnsafeBytes(of: uploadId.uuid) { Array($0) })
            name = "upload \(UUIDText.lowercase(uploadId))"
        }
        guard let size = snapshot.contents[key] else {
            throw RPCError(.notFound, "the snapshot holds no \(name)", data: JSONObject([("what", "content")]))
        }
        guard offset <= size else {
            throw RPCError.invalidParams("offset", "offset is past the content's end (\(size) bytes)")
        }
        let end = offset + min(UInt64(length), size - offset)
        guard let bytes = try store.currentContentBytes(of: key, range: offset..<end) else {
            throw RPCError(
                .notFound,
                "the store no longer holds the \(name): it changed since the snapshot; take the backup again",
                data: JSONObject([("what", "content")]))
        }
        return BackupContentResult(offset: offset, bytes: bytes, eof: end == size)
    }

    /// Removes `owner`'s snapshot `id`.
    func end(_ id: UUID, owner: UInt32, now: ContinuousClock.Instant) throws {
        _ = try use(id, owner: owner, now: now)
        removeSnapshots { candidate, _ in candidate == id }
    }

    /// Removes every snapshot unread for ``idleTimeout``; returns their ids.
    @discardableResult
    func expire(now: ContinuousClock.Instant) -> [UUID] {
        removeSnapshots { _, snapshot in now - snapshot.lastUsed >= idleTimeout }
    }

    /// The ids of the snapshots held, for tests and health.
    var ids: [UUID] { snapshots.withLock { Array($0.keys) } }

    private func use(_ id: UUID, owner: UInt32, now: ContinuousClock.Instant) throws -> Snapshot {
        let found: Snapshot? = snapshots.withLock { all in
            guard var snapshot = all[id], snapshot.owner == owner else { return nil }
            snapshot.lastUsed = now
            all[id] = snapshot
            return snapshot
        }
        guard let found else {
            throw RPCError(.notFound, "no snapshot \(UUIDText.lowercase(id))", data: JSONObject([("what", "snapshot")]))
        }
        return found
    }

    @discardableResult
    private func removeSnapshots(where condition: (UUID, Snapshot) -> Bool) -> [UUID] {
        let removed: [(UUID, Snapshot)] = snapshots.withLock { all in
            let matching = all.filter { condition($0.key, $0.value) }
            for id in matching.keys { all[id] = nil }
            return matching.map { ($0.key, $0.value) }
        }
        for (_, snapshot) in removed { try? FileManager.default.removeItem(atPath: snapshot.directory) }
        return removed.map(\.0)
    }

    /// Copies a configuration file into the snapshot, hashing it.
    private func copy(_ file: ConfigurationFile, into target: String) throws -> BackupFileEntry {
        guard let contents = FileManager.default.contents(atPath: file.source) else {
            throw RPCError(.internalError, "cannot read \(file.path) for the snapshot")
        }
        let location = (target as NSString).appendingPathComponent(file.path)
        try Durable.createDirectory((location as NSString).deletingLastPathComponent)
        let bytes = Array(contents)
        let output = try NewFile(creating: location)
        defer { output.close() }
        try bytes.withUnsafeBytes { try output.write($0) }
        return BackupFileEntry(path: file.path, sizeBytes: UInt64(bytes.count), sha256: SHA256Hasher.digest(bytes))
    }
}
