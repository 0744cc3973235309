import CairnClient
import CairnDigest
import CairnProtocol
import CairnServer
import CairnStore
import Foundation

/// A consistent copy of the whole store in a local directory: `data.mdb`, the configuration
/// files under `config/`, and the manifest computed from the copy. Taken either by this
/// process from a data directory (`offline`) or by the server over the socket (`overSocket`);
/// `cairn backup --out` keeps it as the backup, `cairn backup --to` sends it to a repository.
struct StoreSnapshot {
    /// Where the copy goes: an existing, empty, private directory.
    var directory: String
    /// Whether to draw progress bars for large files.
    var showsProgress: Bool
    /// Whether to flush the copy to disk: a backup directory must be durable; the snapshot of an
    /// off-host backup is read once and removed, and need not be.
    var flushes = true

    /// The offline backup: LMDB's compacted copy of the data directory's store, made by this process.
    func offline(_ dataDir: String) throws -> BackupManifest {
        let (server, store) = try Self.openStore(dataDir)
        let outcome = try store.backup(to: directory, flushes: flushes)
        var files = [
            BackupManifest.File(
                path: ArtifactStore.backupDataFileName, sizeBytes: outcome.dataFile.sizeBytes,
                sha256: outcome.dataFile.sha256)
        ]
        files += try copyConfiguration(from: server)
        return BackupManifest(
            createdAt: Timestamp.now(), layoutVersion: store.layoutVersion, files: files, store: outcome.manifest)
    }

    /// The off-host backup's snapshot of a data directory: the store's metadata file (its store
    /// without content), written by this process, the configuration files, and the store to
    /// read the content from.
    func detachedOffline(_ dataDir: String) throws -> (BackupManifest, any SnapshotContent) {
        let (server, store) = try Self.openStore(dataDir)
        let snapshot = try store.detachedSnapshot(into: directory)
        var files = [
            BackupManifest.File(
                path: ArtifactStore.backupDataFileName, sizeBytes: snapshot.dataFile.sizeBytes,
                sha256: snapshot.dataFile.sha256)
        ]
        files += try copyConfiguration(from: server)
        let manifest = BackupManifest(
            createdAt: Timestamp.now(), layoutVersion: snapshot.layoutVersion, files: files, store: snapshot.manifest)
        return (manifest, ContentInStore(store: store))
    }

    /// The data directory's store, opened read-only, and the server's configuration for it.
    private static func openStore(_ dataDir: String) throws -> (ServerConfiguration, ArtifactStore) {
        let server = ServerConfiguration(dataDirectory: dataDir)
        do {
            return (server, try ArtifactStore.openReadOnly(directory: server.storeDirectory, logger: quietLogger))
        } catch {
            throw LocalFailure("cannot open the store in \(server.storeDirectory): \(error)")
        }
    }

    /// The backup over the socket: the server's snapshot, fetched file by
    /// file, each checked against the size and SHA-256 the server recorded.
    func overSocket(_ socket: String) async throws -> BackupManifest {
        try await overSocket(socket, content: .included) { manifest, _ in manifest }
    }

    /// The off-host backup's snapshot over the socket: the server's metadata file and
    /// configuration files, fetched as ``overSocket(_:)`` fetches them, and `body` run with the
    /// content read from the server over the same connection, which stays open until `body`
    /// returns.
    func detachedOverSocket<Result>(
        _ socket: String, _ body: (BackupManifest, any SnapshotContent) async throws -> Result
    ) async throws -> Result {
        try await overSocket(socket, content: .separate, body)
    }

    private func overSocket<Result>(
        _ socket: String, content: BackupBeginParams.Content,
        _ body: (BackupManifest, any SnapshotContent) async throws -> Result
    ) async throws -> Result {
        do {
            return try await CairnClient.withConnection(socketPath: socket) { client in
                let snapshot = try await client.call(Methods.backupBegin, BackupBeginParams(content: content))
                let end = BackupSnapshotParams(snapshotId: snapshot.snapshotId)
                do {
                    guard snapshot.content == content else {
                        throw LocalFailure("the server took a snapshot with its content \(snapshot.content.rawValue)")
                    }
                    let manifest = try await fetch(snapshot, with: client)
                    let source = ContentOverSocket(
                        client: client, snapshotId: snapshot.snapshotId,
                        chunkBytes: UInt64(try await client.maxChunkBytes()))
                    let result = try await body(manifest, source)
                    _ = try? await client.call(Methods.backupEnd, end)
                    return result
                } catch {
                    _ = try? await client.call(Methods.backupEnd, end)
                    throw error
                }
            }
        } catch let error as CairnClientError {
            throw Failure.report(error, socket: socket)
        }
    }

    private func fetch(_ snapshot: BackupSnapshotResult, with client: CairnClient) async throws -> BackupManifest {
        let tenants: [TenantManifest]
        do { tenants = try snapshot.tenants.map(ManifestCoding.decode) } catch {
            throw LocalFailure("the server's snapshot manifest is malformed: \(error)")
        }
        let store = StoreManifest(tenants: tenants)
        guard store.digest == snapshot.digest, snapshot.files.first?.path == ArtifactStore.backupDataFileName else {
            throw LocalFailure("the server's snapshot manifest does not match its digest")
        }
        var files: [BackupManifest.File] = []
        var directories: Set<String> = [directory]
        for file in snapshot.files {
            let parts = file.path.split(separator: "/")
            guard !file.path.hasPrefix("/"), !parts.contains(".."), !parts.contains("."), !parts.isEmpty else {
                throw LocalFailure("the server named a file outside the backup: \(file.path)")
            }
            let target = path(file.path)
            let directory = (target as NSString).deletingLastPathComponent
            if !directories.contains(directory) {
                try PrivateFiles.createDirectory(directory)
                directories.insert(directory)
            }
            try await download(file, of: snapshot.snapshotId, to: target, with: client)
            files.append(.init(path: file.path, sizeBytes: file.sizeBytes, sha256: file.sha256))
        }
        if flushes { for directory in directories { try PrivateFiles.syncDirectory(directory) } }
        return BackupManifest(
            createdAt: snapshot.createdAt, layoutVersion: UInt32(snapshot.layoutVersion), files: files, store: store)
    }

    /// Writes one file of the snapshot, hashing it as it comes, and flushes it.
    private func download(
        _ file: BackupFileEntry, of snapshot: UUID, to target: String, with client: CairnClient
    ) async throws {
        var writer = try PrivateFiles.Writer(creating: target)
        defer { writer.close() }
        var hasher = SHA256Hasher()
        var offset: UInt64 = 0
        var progress = ProgressBar(
            label: file.path, total: file.sizeBytes,
            enabled: showsProgress && file.sizeBytes > 4 << 20)
        while true {
            let chunk = try await client.call(
                Methods.backupRead, BackupReadParams(snapshotId: snapshot, path: file.path, offset: offset))
            guard chunk.offset == offset, offset + UInt64(chunk.bytes.count) <= file.sizeBytes else {
                throw LocalFailure("the server sent \(file.path) out of order")
            }
            hasher.update(chunk.bytes)
            try writer.write(chunk.bytes)
            offset += UInt64(chunk.bytes.count)
            progress.update(offset)
            if chunk.eof { break }
            guard !chunk.bytes.isEmpty else { throw LocalFailure("the server sent \(file.path) short") }
        }
        progress.finish()
        let digest = hasher.finalize()
        guard offset == file.sizeBytes, digest == file.sha256 else {
            throw LocalFailure(
                "\(file.path) arrived as \(offset) bytes with sha256 \(digest.hex), not the \(file.sizeBytes) bytes with sha256 \(file.sha256.hex) the server recorded"
            )
        }
        if flushes { try writer.finish() }
    }

    /// Copies `access.json` and `providers.d/*.json` of the data directory under `config/`.
    func copyConfiguration(from server: ServerConfiguration) throws -> [BackupManifest.File] {
        var sources: [(String, String)] = []
        let access = (server.dataDirectory as NSString).appendingPathComponent("access.json")
        if FileIO.status(path: access).map(FileIO.isRegular) == true { sources.append((access, "config/access.json")) }
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: server.providersDirectory))?
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted() ?? []
        for name in names {
            sources.append(
                ((server.providersDirectory as NSString).appendingPathComponent(name), "config/providers.d/\(name)"))
        }
        var files: [BackupManifest.File] = []
        for (source, relative) in sources {
            guard let contents = FileManager.default.contents(atPath: source) else {
                throw LocalFailure("cannot read \(source)")
            }
            try PrivateFiles.createDirectory((path(relative) as NSString).deletingLastPathComponent)
            try PrivateFiles.write(Array(contents), to: path(relative))
            files.append(
                .init(path: relative, sizeBytes: UInt64(contents.count), sha256: SHA256Hasher.digest(Array(contents))))
        }
        return files
    }

    private func path(_ relative: String) -> String { (directory as NSString).appendingPathComponent(relative) }
}
