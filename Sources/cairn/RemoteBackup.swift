import ArgumentParser
import BackupRepository
import CairnClient
import CairnDigest
import CairnProtocol
import CairnProviders
import CairnServer
import CairnStore
import Foundation
import Logging
import ObjectStorage

/// Options of every command that works on an off-host repository.
struct RepositoryOptions: ParsableArguments {
    @Option(
        name: .customLong("s3-endpoint"),
        help: ArgumentHelp(
            "The S3 endpoint, e.g. http://127.0.0.1:7480; else $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL.",
            valueName: "url"))
    var s3Endpoint: String?

    @Option(
        help: ArgumentHelp(
            "A file holding the repository's encryption key (at least 32 bytes); else $CAIRN_BACKUP_KEY_FILE.",
            valueName: "file"))
    var encryptionKeyFile: String?

    /// The S3 configuration from the environment, with `--s3-endpoint` first.
    func s3Configuration() throws -> S3Configuration {
        do {
            return try S3Configuration(environment: ProcessInfo.processInfo.environment, endpoint: s3Endpoint)
        } catch {
            throw RemoteFailure.couldNotCheck("S3: \(error)")
        }
    }

    /// The key file's contents, if a key file is named.
    func keyFile() throws -> [UInt8]? {
        guard
            let path = encryptionKeyFile
                ?? ProcessInfo.processInfo.environment["CAIRN_BACKUP_KEY_FILE"].flatMap({ $0.isEmpty ? nil : $0 })
        else { return nil }
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw RemoteFailure.couldNotCheck("cannot read the encryption key file \(path)")
        }
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            Output.error(
                "cairn: warning: the encryption key file \(path) can be read by others than its owner (chmod 600 it)")
        }
        return Array(contents)
    }

    /// Runs `body` with the repository at `location`, translating failures into exit codes.
    func withRepository<Result>(
        _ location: RepositoryLocation, create: Bool, _ body: (BackupRepository) async throws -> Result
    ) async throws -> Result {
        let configuration = try s3Configuration()
        let keyFile = try keyFile()
        do {
            return try await S3Client.withClient(configuration, logger: quietS3Logger) { s3 in
                let repository = try await BackupRepository.open(
                    s3: s3, location: location, keyFile: keyFile, create: create)
                return try await body(repository)
            }
        } catch let error as S3Error where error.kind == .endpointUnreachable {
            throw RemoteFailure.couldNotCheck(
                "cannot reach the S3 endpoint \(configuration.endpoint) for \(location): \(error.message)")
        } catch let error as S3Error {
            throw RemoteFailure.couldNotCheck("\(location): \(error)")
        } catch let error as RepositoryError {
            throw RemoteFailure.couldNotCheck(error.message)
        }
    }
}

/// A failure of a command on a repository, with the exit status it ends with: 2 when it could
/// not do or check what was asked (unreachable, refused, wrong key), as `cairn verify` does.
struct RemoteFailure: Error, CustomStringConvertible {
    var message: String
    var status: Int32

    static func couldNotCheck(_ message: String) -> RemoteFailure { RemoteFailure(message: message, status: 2) }

    var description: String { message }
}

let quietS3Logger: Logger = {
    var logger = Logger(label: "cairn.object-storage")
    logger.logLevel = .warning
    return logger
}()

/// `cairn backup --to s3://…`: the store's snapshot sent to a repository, only what it lacks.
struct RemoteBackup {
    var location: RepositoryLocation
    var repository: RepositoryOptions
    var allowPlaintextSecrets: Bool
    var showsProgress: Bool

    /// What one backup did.
    struct Outcome {
        var record: SnapshotRecord
        var newContents: Int
        var reusedContents: Int
        var sentBytes: Int64
        var sentPacks: Int
        var seconds: Double
    }

    /// Sends the snapshot in `snapshotDirectory` (a detached `StoreSnapshot`: its metadata file
    /// and configuration files, with `manifest`) and the content it refers to, read from
    /// `content`, to the repository, the metadata file last but for the snapshot record.
    func send(
        snapshotDirectory: String, manifest: BackupManifest, content: any SnapshotContent, source: String
    ) async throws -> Outcome {
        let started = ContinuousClock.now
        let keyFile = try repository.keyFile()
        if keyFile == nil, !allowPlaintextSecrets {
            let secrets = try Self.secretsHeld(in: snapshotDirectory, manifest: manifest)
            if !secrets.isEmpty {
                throw RemoteFailure.couldNotCheck(
                    "the store holds secret configuration values (\(secrets.prefix(3).joined(separator: "; "))\(secrets.count > 3 ? "; …" : "")); give an encryption key (--encryption-key-file) or, to store them in clear, --allow-plaintext-secrets"
                )
            }
        }
        return try await repository.withRepository(location, create: true) { repo in
            let holder = "\(Self.hostName()) pid \(getpid())"
            // A prune in the way is waited for, up to half a lease: the lock taken first stays live.
            let lock = try await repo.takeLock(
                kind: "backup", holder: holder, now: { Self.now() }, patience: .seconds(RepositoryLocks.lease / 2))
            let renewal = Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: RepositoryLocks.renewal)
                    try? await repo.renewLock(lock, kind: "backup", holder: holder, now: Self.now())
                }
            }
            defer { renewal.cancel() }
            do {
                let outcome = try await send(
                    to: repo, snapshotDirectory: snapshotDirectory, manifest: manifest, content: content,
                    source: source, started: started)
                try? await repo.releaseLock(lock)
                return outcome
            } catch {
                try? await repo.releaseLock(lock)
                throw error
            }
        }
    }

    private func send(
        to repo: BackupRepository, snapshotDirectory: String, manifest: BackupManifest, content: any SnapshotContent,
        source: String, started: ContinuousClock.Instant
    ) async throws -> Outcome {
        let index = try await repo.loadIndex().blobs
        let writer = PackWriter(repository: repo)
        var contents: [String: ContentReference] = [:]  // by sha256 hex; locations filled in below
        var uploads: [String: String] = [:]
        var reused = 0
        var fresh = 0
        var progress = ProgressBar(label: "backup", total: 0, enabled: showsProgress)
        defer { progress.interrupt() }
        // The metadata file: the content it refers to, and the rest of the store.
        let snapshotStore = try ArtifactStore.openReadOnly(directory: snapshotDirectory, logger: quietLogger)
        do {
            let extents = try snapshotStore.contentExtents()
            progress = ProgressBar(
                label: "backup", total: extents.reduce(0) { $0 + $1.sizeBytes }, enabled: showsProgress)
            var done: UInt64 = 0
            for extent in extents {
                let sha256: SHA256Digest
                switch extent.owner {
                case .blob(_, let digest): sha256 = digest
                case .upload(let id):
                    sha256 = try await Self.digest(of: extent, from: content)
                    uploads[UUIDBytesText.text(id)] = sha256.hex
                }
                defer {
                    done += extent.sizeBytes
                    progress.update(done)
                }
                guard contents[sha256.hex] == nil else { continue }
                let name = repo.blobName(sha256: sha256.bytes)
                let placeholder = BlobLocation(pack: "", offset: 0, length: Int64(extent.sizeBytes), packLength: 0)
                contents[sha256.hex] = ContentReference(
                    sha256: sha256.hex, sizeBytes: Int64(extent.sizeBytes), blob: name,
                    location: index[name] ?? placeholder)
                if index[name] != nil {
                    reused += 1
                    continue
                }
                fresh += 1
                if Int64(extent.sizeBytes) >= PackWriter.streamedBlobSize {
                    try await writer.addStreamed(
                        blob: name, length: Int64(extent.sizeBytes), sha256: sha256.bytes,
                        read: { range in
                            try await content.bytes(
                                of: extent, range: UInt64(range.lowerBound)..<UInt64(range.upperBound))
                        })
                } else {
                    let bytes = try await content.bytes(of: extent, range: 0..<extent.sizeBytes)
                    guard SHA256Hasher.digest(bytes) == sha256 else {
                        throw LocalFailure(
                            "content sha256:\(sha256.hex) does not hash to its digest in the store; run cairn verify")
                    }
                    try await writer.add(bytes, blob: name)
                }
            }
        }
        progress.finish()
        // The parts: the metadata file (the store without its content), the manifest, the configuration files.
        var parts: [String: ContentReference] = [:]
        func addPart(_ name: String, _ bytes: [UInt8]) async throws {
            let sha256 = SHA256Hasher.digest(bytes)
            let blob = repo.blobName(sha256: sha256.bytes)
            parts[name] = ContentReference(
                sha256: sha256.hex, sizeBytes: Int64(bytes.count), blob: blob,
                location: index[blob] ?? BlobLocation(pack: "", offset: 0, length: Int64(bytes.count), packLength: 0))
            if index[blob] == nil { try await writer.add(bytes, blob: blob) }
        }
        // Each tenant as `cairn export` would write its index, for `cairn import --from s3://…`.
        for document in try Self.exportDocuments(
            of: snapshotStore, manifest: manifest, snapshotDirectory: snapshotDirectory)
        {
            try await addPart("exports/\(document.manifest.tenant.rawValue)", document.json.serialized())
        }
        try await addPart(
            "metadata", try Self.contents(of: snapshotDirectory + "/" + ArtifactStore.backupDataFileName))
        try await addPart("manifest", manifest.json.serialized())
        for file in manifest.files.dropFirst() {
            try await addPart(
                file.path, try Self.contents(of: (snapshotDirectory as NSString).appendingPathComponent(file.path)))
        }
        try await writer.finish()
        func resolved(_ reference: ContentReference) -> ContentReference {
            var reference = reference
            if reference.location.pack.isEmpty, let location = writer.locations[reference.blob] {
                reference.location = location
            }
            return reference
        }
        let tree = SnapshotTree(
            parts: parts.mapValues(resolved), contents: contents.values.map(resolved).sorted { $0.sha256 < $1.sha256 },
            uploads: uploads)
        let treeBytes = try JSONEncoder.sorted.encode(tree)
        let treeDigest = SHA256Hasher.digest(Array(treeBytes))
        let treeBlob = repo.blobName(sha256: treeDigest.bytes)
        if index[treeBlob] == nil {
            try await writer.add(Array(treeBytes), blob: treeBlob)
            try await writer.finish()
        }
        guard let treeLocation = index[treeBlob] ?? writer.locations[treeBlob] else {
            throw LocalFailure("the backup's tree was not stored")
        }
        let nowMilliseconds = Int64(Date().timeIntervalSince1970 * 1000)
        let now = nowMilliseconds / 1000
        let tenants = manifest.store.tenants
        let record = SnapshotRecord(
            id: SnapshotID.make(epochMilliseconds: nowMilliseconds, random: UInt32.random(in: 0...UInt32.max)),
            time: CivilTimeText.iso8601(now), host: Self.hostName(), source: source,
            tenants: tenants.map(\.tenant.rawValue), artifacts: tenants.reduce(0) { $0 + $1.artifacts.count },
            logicalBytes: Int64(tenants.reduce(0) { $0 + $1.usage.logicalBytes }), contents: tree.contents.count,
            contentBytes: tree.contents.reduce(0) { $0 + $1.sizeBytes },
            tree: ContentReference(
                sha256: treeDigest.hex, sizeBytes: Int64(treeBytes.count), blob: treeBlob, location: treeLocation))
        try await repo.putSnapshot(record)
        return Outcome(
            record: record, newContents: fresh, reusedContents: reused, sentBytes: writer.sentBytes,
            sentPacks: writer.sentPacks, seconds: (ContinuousClock.now - started).seconds)
    }

    /// The SHA-256 of an extent's content, read in chunks.
    private static func digest(of extent: ContentExtent, from content: any SnapshotContent) async throws
        -> SHA256Digest
    {
        var hasher = SHA256Hasher()
        var offset: UInt64 = 0
        while offset < extent.sizeBytes {
            let end = min(extent.sizeBytes, offset + (8 << 20))
            hasher.update(try await content.bytes(of: extent, range: offset..<end))
            offset = end
        }
        return hasher.finalize()
    }

    /// Where secret configuration values are set: `tenant T: provider P field F`. A configured
    /// provider the catalog does not define counts as holding secrets (nothing says it does not).
    static func secretsHeld(in snapshotDirectory: String, manifest: BackupManifest) throws -> [String] {
        let catalog = LoadedCatalog.load(
            directory: snapshotDirectory + "/config/providers.d", logger: quietLogger
        ).catalog
        let store = try ArtifactStore.openReadOnly(directory: snapshotDirectory, logger: quietLogger)
        var found: [String] = []
        for tenant in manifest.store.tenants {
            for configuration in tenant.configurations {
                guard let definition = catalog.definition(configuration.providerId) else {
                    found.append("tenant \(tenant.tenant): provider \(configuration.providerId) (not defined here)")
                    continue
                }
                guard let providerId = ProviderID(configuration.providerId) else { continue }
                let values = try store.providerConfiguration(tenant: tenant.tenant, providerId: providerId).values
                for field in definition.fields where field.secret && values[field.key] != nil {
                    found.append("tenant \(tenant.tenant): provider \(configuration.providerId) field \(field.key)")
                }
            }
        }
        return found
    }

    /// The export index of every tenant of the snapshot: its manifest, and its configurations
    /// with the values of non-secret fields (the secret ones named, never copied). Configurations
    /// of providers the snapshot's catalog does not define carry no value.
    static func exportDocuments(
        of store: ArtifactStore, manifest: BackupManifest, snapshotDirectory: String
    ) throws -> [ExportDocument] {
        let catalog = LoadedCatalog.load(
            directory: snapshotDirectory + "/config/providers.d", logger: quietLogger
        ).catalog
        return try manifest.store.tenants.map { tenant in
            let configurations = try tenant.configurations.map { configuration in
                guard let definition = catalog.definition(configuration.providerId),
                    let providerId = ProviderID(configuration.providerId)
                else {
                    return ExportDocument.Configuration(
                        providerId: configuration.providerId, revision: configuration.revision, values: JSONObject(),
                        secretFields: [])
                }
                let values = try store.providerConfiguration(tenant: tenant.tenant, providerId: providerId).values
                var shown = JSONObject()
                var secrets: [String] = []
                for field in definition.fields {
                    guard let value = values[field.key] else { continue }
                    if field.secret { secrets.append(field.key) } else { shown[field.key] = Wire.value(value) }
                }
                return ExportDocument.Configuration(
                    providerId: configuration.providerId, revision: configuration.revision, values: shown,
                    secretFields: secrets)
            }
            return ExportDocument(exportedAt: Timestamp.now(), manifest: tenant, configurations: configurations)
        }
    }

    static func contents(of path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LocalFailure("cannot read \(path)")
        }
        return Array(data)
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension JSONEncoder {
    /// An encoder with sorted keys, so that equal values encode to equal bytes.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Upload ids as the protocol spells them.
enum UUIDBytesText {
    static func text(_ bytes: [UInt8]) -> String {
        let uuid = bytes.withUnsafeBytes { raw in UUID(uuid: raw.loadUnaligned(as: uuid_t.self)) }
        return uuid.uuidString.lowercased()
    }
}

/// Times as the repository records them.
enum CivilTimeText {
    static func iso8601(_ epochSeconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(epochSeconds)))
    }
}
