import CairnDigest
import DurableFiles
import Foundation
import LMDB
import Logging
import StoreLayout

#if canImport(Glibc)
    import Glibc
#endif

/// A backup's data file as its manifest records it, so that anyone can check
/// the file with `sha256sum`.
public struct BackupFile: Sendable, Equatable {
    /// The file's size in bytes.
    public var sizeBytes: UInt64
    /// The SHA-256 of the whole file.
    public var sha256: SHA256Digest

    /// A file of this size and digest.
    public init(sizeBytes: UInt64, sha256: SHA256Digest) {
        self.sizeBytes = sizeBytes
        self.sha256 = sha256
    }
}

/// A backup that did not restore, and every reason why; nothing was left
/// behind in the target.
public struct RestoreRefusal: Error, Sendable, CustomStringConvertible {
    /// One line per problem: a blob that fails verification (with the
    /// artifacts it affects), a manifest difference, a data file whose digest
    /// is not the recorded one.
    public var problems: [String]

    public var description: String { problems.joined(separator: "\n") }
}

/// What a restore checked.
public struct RestoreReport: Sendable, Equatable {
    /// The manifest of the restored store.
    public var manifest: StoreManifest
    /// The data file as it was copied.
    public var dataFile: BackupFile
    /// The blobs read back and verified, across all tenants.
    public var checkedBlobs: Int
    /// Their bytes.
    public var checkedBytes: UInt64
}

extension ArtifactStore {
    /// The name of the data file in a backup directory.
    public static let backupDataFileName = "data.mdb"

    /// Opens an existing store for reading only: no migration, no upload
    /// expiry, no reclamation, and no write of any kind. Safe beside a
    /// server that has the same store open (LMDB is multi-process safe).
    ///
    /// - Throws: ``StoreError`` when there is no store, or it is not at this
    ///   build's layout (``StoreError/Code/layoutTooNew`` for a newer one; an
    ///   older one must be opened read-write once, e.g. by `cairn serve`).
    public static func openReadOnly(
        directory: String, configuration: Configuration = .init(), logger: Logger = Logger(label: "cairn.store")
    ) throws -> ArtifactStore {
        guard FileManager.default.fileExists(atPath: directory + "/" + backupDataFileName) else {
            throw StoreError(.notFound, .what("store"), "there is no store in \(directory)")
        }
        let environment: Environment
        do {
            environment = try Environment(
                path: directory, configuration: .init(mapSize: configuration.initialMapSize, readOnly: true))
        } catch let error as LMDBError where error.code == LMDBError.needsRecovery {
            throw StoreError(
                .internalError, .none,
                "the store in \(directory) was not closed cleanly (a crash or a power loss): start cairn serve on it once, which recovers it from its redo log, then try again"
            )
        } catch {
            throw StoreError(.internalError, .none, "cannot open the store in \(directory): \(error)")
        }
        let (tables, version): (Tables, UInt32)
        do {
            (tables, version) = try environment.withReadTransaction { txn in
                guard let meta = try txn.openDatabase(DatabaseName.meta.rawValue, create: false),
                    let bytes = try txn.get(MetaKey.layoutVersion, in: meta), bytes.count == 4
                else { throw StoreError(.internalError, .none, "the store in \(directory) has no layout version") }
                let version = bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                if version > Layout.currentVersion {
                    throw StoreError(
                        .layoutTooNew, .versions(store: version, supported: Layout.currentVersion),
                        "the store is at layout \(version), written by a newer Cairn; this build supports up to \(Layout.currentVersion)"
                    )
                }
                guard version == Layout.currentVersion else {
                    throw StoreError(
                        .internalError, .none,
                        "the store is at layout \(version); open it read-write once (cairn serve) to migrate it to \(Layout.currentVersion)"
                    )
                }
                return (try Tables(opening: txn), version)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.internalError, .none, "cannot read the store in \(directory): \(error)")
        }
        let writer = StoreWriter(
            environment: environment, mapSizeLimit: configuration.mapSizeLimit,
            reservedBytes: configuration.reservedDiskBytes, logger: logger)
        return ArtifactStore(
            environment: environment, tables: tables, writer: writer, configuration: configuration, logger: logger,
            directory: directory, layoutVersion: version)
    }

    /// Writes a consistent, compacted copy of the whole store into
    /// `directory` while writers go on, and returns the copy's manifest.
    ///
    /// The copy is LMDB's (`mdb_env_copyfd2` with `MDB_CP_COMPACT`) inside
    /// a read transaction of its own, so it never waits for or holds up the
    /// writer. `directory` must not exist or be empty; it is created 0700
    /// (its parent flushed), the copy is 0600 and flushed to disk, and so is
    /// `directory`'s entry for it. The manifest is computed from the copy,
    /// so it describes exactly what was copied. Nothing else is written
    /// into `directory`.
    ///
    /// - Parameter flushes: whether to flush the copy to disk; a copy that is only read once and
    ///   removed (the local snapshot of an off-host backup) need not be.
    public func backup(to directory: String, flushes: Bool = true) throws -> (
        manifest: StoreManifest, dataFile: BackupFile
    ) {
        try Self.createEmptyPrivateDirectory(directory)
        let target = directory + "/" + Self.backupDataFileName
        var attempt = 0
        while true {
            do {
                try environment.copy(to: directory, compact: true)
                break
            } catch let error as LMDBError where error.code == LMDBError.mapResized && attempt < 3 {
                // The server grew the map since this process opened it: adopt its size and copy again.
                attempt += 1
                unlink(target)
                try? environment.setMapSize(0)
            } catch {
                throw StoreError(.internalError, .none, "cannot copy the store to \(directory): \(error)")
            }
        }
        let dataFile = try Self.digestAndSync(target, flushes: flushes)
        if flushes { try Self.durably { () throws(DurableFileError) in try Durable.syncDirectory(directory) } }
        let manifest: StoreManifest = try {
            let copy = try Self.openReadOnly(directory: directory, configuration: configuration, logger: logger)
            return try copy.storeManifest()
        }()
        // Reading the copy made LMDB's lock file beside it; the backup is the data file alone.
        unlink(directory + "/lock.mdb")
        return (manifest, dataFile)
    }

    /// Restores a backup's data file as the store `directory`, which must
    /// not exist yet, and verifies it before it becomes usable.
    ///
    /// The file is copied (and hashed) into a staging directory beside
    /// `directory`, opened (running any pending migrations), every blob
    /// of every tenant is read back and checked chunk by chunk and as a
    /// whole, and every tenant's audit chain is checked (against the chain
    /// head `expected` records). The restored store's manifest is compared with `expected`
    /// and the file's digest with `expectedFile`, when given. Only when
    /// everything matches is the staging directory renamed to `directory`
    /// (the staging directory flushed before, its parent after);
    /// otherwise it is removed and ``RestoreRefusal`` lists every problem.
    public static func restore(
        dataFile: String, into directory: String, expected: StoreManifest?, expectedFile: BackupFile?,
        configuration: Configuration = .init(), logger: Logger = Logger(label: "cairn.store")
    ) throws -> RestoreReport {
        guard !FileManager.default.fileExists(atPath: directory) else {
            throw StoreError(.invalidArgument, .field("directory"), "\(directory) already exists")
        }
        let parent = (directory as NSString).deletingLastPathComponent
        let staging =
            (parent as NSString).appendingPathComponent(
                ".\((directory as NSString).lastPathComponent).restoring-\(UUID().uuidString.prefix(8).lowercased())")
        try createEmptyPrivateDirectory(staging)
        do {
            let report = try restore(
                dataFile: dataFile, staging: staging, expected: expected, expectedFile: expectedFile,
                configuration: configuration, logger: logger)
            try durably { () throws(DurableFileError) in try Durable.publishDirectory(staging, as: directory) }
            return report
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    private static func restore(
        dataFile: String, staging: String, expected: StoreManifest?, expectedFile: BackupFile?,
        configuration: Configuration, logger: Logger
    ) throws -> RestoreReport {
        var problems: [String] = []
        let copied = try copyFile(dataFile, to: staging + "/" + backupDataFileName)
        if let expectedFile, expectedFile != copied {
            problems.append(
                "the data file is not the one the manifest records: \(copied.sizeBytes) bytes with sha256 \(copied.sha256.hex), expected \(expectedFile.sizeBytes) bytes with sha256 \(expectedFile.sha256.hex)"
            )
        }
        let store: ArtifactStore
        do {
            store = try open(directory: staging, configuration: configuration, logger: logger)
        } catch {
            throw RestoreRefusal(problems: problems + ["the data file does not open as a store: \(error)"])
        }
        var checkedBlobs = 0
        var checkedBytes: UInt64 = 0
        let anchors = Dictionary(uniqueKeysWithValues: (expected?.tenants ?? []).map { ($0.tenant, $0.events) })
        for tenant in try store.tenants() {
            for problem in try store.verifyEventChain(tenant: tenant, anchor: anchors[tenant]).problems {
                problems.append("tenant \(tenant): audit chain: \(problem.message)")
            }
            let page = try store.verifyBlobs(tenant: tenant, maxBytes: .max)
            checkedBlobs += page.checkedBlobs
            checkedBytes += page.checkedBytes
            for corrupt in page.corrupt {
                let ids = corrupt.artifactIds.map { $0.uuidString.lowercased() }.joined(separator: ", ")
                problems.append(
                    "tenant \(tenant): blob sha256:\(corrupt.sha256.hex) fails verification (artifacts: \(ids.isEmpty ? "none" : ids))"
                )
            }
        }
        let manifest = try store.storeManifest()
        if let expected { problems += manifest.differences(from: expected) }
        try store.flush()
        guard problems.isEmpty else { throw RestoreRefusal(problems: problems) }
        return RestoreReport(
            manifest: manifest, dataFile: copied, checkedBlobs: checkedBlobs, checkedBytes: checkedBytes)
    }

    /// Creates `path` with mode 0700 (flushing its parent), or accepts it when it is an empty directory.
    static func createEmptyPrivateDirectory(_ path: String) throws {
        if FileManager.default.fileExists(atPath: path),
            (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty != true
        {
            throw StoreError(.invalidArgument, .field("directory"), "\(path) exists and is not an empty directory")
        }
        try createPrivateDirectory(path)
    }

    /// Hashes the file at `path` and flushes it to disk (unless `flushes` is false).
    static func digestAndSync(_ path: String, flushes: Bool = true) throws -> BackupFile {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fileError("cannot open", path) }
        defer { close(fd) }
        var hasher = SHA256Hasher()
        let size = try forEachBlock(of: fd, path: path) { hasher.update($0) }
        if flushes { try durably { () throws(DurableFileError) in try Durable.sync(fd, path: path) } }
        return BackupFile(sizeBytes: size, sha256: hasher.finalize())
    }

    /// Copies `source` to the new file `target` (mode 0600), hashing it on the way, and flushes the copy.
    /// Its directory is flushed by whoever publishes it.
    private static func copyFile(_ source: String, to target: String) throws -> BackupFile {
        let input = Glibc.open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw fileError("cannot open", source) }
        defer { close(input) }
        let output = try durably { () throws(DurableFileError) in try NewFile(creating: target) }
        defer { output.close() }
        var hasher = SHA256Hasher()
        let size = try forEachBlock(of: input, path: source) { block in
            hasher.update(block)
            try durably { () throws(DurableFileError) in try output.write(block) }
        }
        try durably { () throws(DurableFileError) in try output.sync() }
        return BackupFile(sizeBytes: size, sha256: hasher.finalize())
    }

    /// Reads `fd` to its end in blocks of 4 MiB; returns the byte count.
    private static func forEachBlock(
        of fd: Int32, path: String, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> UInt64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var total: UInt64 = 0
        while true {
            let count = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw fileError("cannot read", path)
            }
            if count == 0 { return total }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            total += UInt64(count)
        }
    }

    /// Creates the directory `path` and its missing parents, each 0700 with
    /// its parent flushed, or accepts an existing directory
    /// (``createPrivateDirectory(_:)``).
    static func createDurableDirectory(_ path: String) throws {
        do throws(DurableFileError) {
            try Durable.createDirectory(path)
        } catch let error where error.code == .notDirectory && error.path == path {
            throw StoreError(.internalError, .none, "\(path) exists and is not a directory")
        } catch {
            throw StoreError(.internalError, .none, "cannot create \(path): \(error.reason)")
        }
    }

    /// Flushes the store directory, so that the files LMDB created in it are durable.
    static func syncStoreDirectory(_ path: String) throws {
        try durably { () throws(DurableFileError) in try Durable.syncDirectory(path) }
    }

    /// Runs a durable step, its failure a ``StoreError`` (`INTERNAL`) with the step's message.
    private static func durably<R>(_ step: () throws(DurableFileError) -> R) throws -> R {
        do throws(DurableFileError) {
            return try step()
        } catch {
            throw StoreError(.internalError, .none, error.message)
        }
    }

    private static func fileError(_ what: String, _ path: String) -> StoreError {
        StoreError(.internalError, .none, "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}

extension StoreManifest {
    /// How this manifest differs from `expected`, one line per difference
    /// (empty when they are equal).
    public func differences(from expected: StoreManifest) -> [String] {
        var lines: [String] = []
        let mine = Dictionary(uniqueKeysWithValues: tenants.map { ($0.tenant, $0) })
        let theirs = Dictionary(uniqueKeysWithValues: expected.tenants.map { ($0.tenant, $0) })
        for manifest in expected.tenants where mine[manifest.tenant] == nil {
            lines.append("tenant \(manifest.tenant) is missing")
        }
        for manifest in tenants {
            guard let other = theirs[manifest.tenant] else {
                lines.append("tenant \(manifest.tenant) is not in the manifest")
                continue
            }
            lines += manifest.differences(from: other)
        }
        return lines
    }
}

extension TenantManifest {
    /// How this manifest differs from `expected`, one line per difference.
    public func differences(from expected: TenantManifest) -> [String] {
        guard canonicalText != expected.canonicalText else { return [] }
        let prefix = "tenant \(tenant): "
        var lines: [String] = []
        let mine = Dictionary(uniqueKeysWithValues: artifacts.map { ($0.artifactId, $0) })
        let theirs = Dictionary(uniqueKeysWithValues: expected.artifacts.map { ($0.artifactId, $0) })
        for artifact in expected.artifacts {
            guard let found = mine[artifact.artifactId] else {
                lines.append(prefix + "artifact \(artifact.id) (sha256:\(artifact.sha256.hex)) is missing")
                continue
            }
            if found != artifact {
                lines.append(
                    prefix
                        + "artifact \(artifact.id) differs: sha256:\(found.sha256.hex) \(found.sizeBytes) bytes \(found.providerId) \(found.mimeType), expected sha256:\(artifact.sha256.hex) \(artifact.sizeBytes) bytes \(artifact.providerId) \(artifact.mimeType)"
                )
            }
        }
        for artifact in artifacts where theirs[artifact.artifactId] == nil {
            lines.append(prefix + "artifact \(artifact.id) (sha256:\(artifact.sha256.hex)) is not in the manifest")
        }
        if usage != expected.usage {
            lines.append(
                prefix
                    + "usage is \(usage.artifactCount) artifacts, \(usage.logicalBytes) logical and \(usage.storedBytes) stored bytes, quotas \(usage.maxBytes.map(String.init) ?? "none")/\(usage.maxArtifacts.map(String.init) ?? "none"); expected \(expected.usage.artifactCount), \(expected.usage.logicalBytes), \(expected.usage.storedBytes), \(expected.usage.maxBytes.map(String.init) ?? "none")/\(expected.usage.maxArtifacts.map(String.init) ?? "none")"
            )
        }
        if events != expected.events {
            lines.append(
                prefix
                    + "the audit chain ends at event \(events.seq) (\(events.sha256?.hex ?? "none")), expected \(expected.events.seq) (\(expected.events.sha256?.hex ?? "none"))"
            )
        }
        if configurations != expected.configurations {
            func list(_ items: [Configuration]) -> String {
                items.isEmpty ? "none" : items.map { "\($0.providerId)@\($0.revision)" }.joined(separator: ", ")
            }
            lines.append(
                prefix + "configurations are \(list(configurations)), expected \(list(expected.configurations))")
        }
        if lines.isEmpty { lines.append(prefix + "the manifest differs") }
        return lines
    }
}
