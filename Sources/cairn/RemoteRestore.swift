import ArgumentParser
import BackupRepository
import CairnClient
import CairnDigest
import CairnProtocol
import CairnServer
import CairnStore
import Foundation

/// `cairn restore --from s3://…` and `cairn verify --remote s3://…`.
extension RemoteCommands {
    /// The backup's record, tree and manifest, each checked.
    struct OpenedBackup {
        var record: SnapshotRecord
        var tree: SnapshotTree
        var manifest: BackupManifest
    }

    static func openBackup(_ repo: BackupRepository) async throws -> OpenedBackup {
        let record = try await repo.selectedSnapshot()
        let tree = try await repo.tree(of: record)
        guard let manifestPart = tree.parts["manifest"], tree.parts["metadata"] != nil else {
            throw RepositoryError(.damaged, "backup \(record.id) has no manifest or metadata file")
        }
        let manifest = try BackupManifest(
            parsing: try await repo.readBlob(manifestPart), path: "the manifest of backup \(record.id)")
        return OpenedBackup(record: record, tree: tree, manifest: manifest)
    }

    /// Reads `references` (blobs of any packs), whole packs' spans at a time, `parallelism` packs at
    /// once, and hands each to `body` (on the caller's task) with its bytes or why it is damaged.
    /// Blobs of at least ``PackWriter/streamedBlobSize`` are read in pieces through `large`.
    static func readContents(
        _ references: [ContentReference], from repo: BackupRepository, parallelism: Int = 4,
        _ body: (ContentReference, Result<[UInt8], RepositoryError>) throws -> Void,
        large: (ContentReference) async throws -> Void
    ) async throws {
        let (small, big) = (
            references.filter { $0.sizeBytes < PackWriter.streamedBlobSize },
            references.filter { $0.sizeBytes >= PackWriter.streamedBlobSize }
        )
        // Group by pack, in runs of at most 16 MiB of span, so one request reads many blobs.
        var groups: [(pack: String, references: [ContentReference])] = []
        for (pack, members) in Dictionary(grouping: small, by: \.location.pack).sorted(by: { $0.key < $1.key }) {
            var run: [ContentReference] = []
            var start: Int64 = 0
            for reference in members.sorted(by: { $0.location.offset < $1.location.offset }) {
                if !run.isEmpty, reference.location.offset + reference.location.length - start > 16 << 20 {
                    groups.append((pack, run))
                    run = []
                }
                if run.isEmpty { start = reference.location.offset }
                run.append(reference)
            }
            if !run.isEmpty { groups.append((pack, run)) }
        }
        try await withThrowingTaskGroup(
            of: [(reference: ContentReference, bytes: Result<[UInt8], RepositoryError>)].self
        ) { group in
            var next = 0
            func start() {
                let (pack, members) = groups[next]
                next += 1
                group.addTask { try await repo.readBlobs(members, inPack: pack) }
            }
            while next < min(parallelism, groups.count) { start() }
            while let results = try await group.next() {
                if next < groups.count { start() }
                for result in results { try body(result.reference, result.bytes) }
            }
        }
        for reference in big { try await large(reference) }
    }

    // MARK: - restore --from s3://

    static func restore(_ command: Restore, from text: String) async throws {
        let location = try location(text, allowsBackupID: true)
        try PrivateFiles.createEmptyDirectory(command.dataDir)
        let server = ServerConfiguration(dataDirectory: command.dataDir)
        let work = command.dataDir + "/.fetching-\(UUID().uuidString.prefix(8).lowercased())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (opened, report): (OpenedBackup, RestoreReport) = try await command.repository.withRepository(
            location, create: false
        ) { repo in
            let opened = try await openBackup(repo)
            try PrivateFiles.createEmptyDirectory(work)
            try PrivateFiles.write(
                try await repo.readBlob(opened.tree.parts["metadata"]!),
                to: work + "/" + ArtifactStore.backupDataFileName)
            var problems: [String] = []
            let contents = Dictionary(opened.tree.contents.map { ($0.sha256, $0) }, uniquingKeysWith: { a, _ in a })
            let refill = try ContentRefill(
                directory: work, contentBytes: UInt64(opened.tree.contents.reduce(0) { $0 + $1.sizeBytes }))
            var extentsBySHA: [String: [ContentExtent]] = [:]
            for extent in refill.extents {
                let sha256: String?
                switch extent.owner {
                case .blob(_, let digest): sha256 = digest.hex
                case .upload(let id): sha256 = opened.tree.uploads[UUIDBytesText.text(id)]
                }
                guard let sha256, contents[sha256] != nil else {
                    problems.append("the backup has no content for extent \(extent.extent) (\(extent.owner))")
                    continue
                }
                extentsBySHA[sha256, default: []].append(extent)
            }
            let needed = extentsBySHA.keys.sorted().compactMap { contents[$0] }
            var progress = ProgressBar(
                label: "restore", total: UInt64(needed.reduce(0) { $0 + $1.sizeBytes }),
                enabled: ProgressBar.shouldShow(json: command.json))
            defer { progress.interrupt() }
            var done: UInt64 = 0
            try await readContents(needed, from: repo) { reference, bytes in
                switch bytes {
                case .success(let bytes):
                    for extent in extentsBySHA[reference.sha256] ?? [] where extent.sizeBytes == bytes.count {
                        try refill.write(bytes, at: 0, to: extent)
                    }
                case .failure(let error):
                    problems.append(damage(error, reference, opened.manifest))
                }
                done += UInt64(reference.sizeBytes)
                progress.update(done)
            } large: { reference in
                // Written a chunk at a time as it arrives; checked whole at the end (the restore
                // below reads every blob back too).
                var buffer: [UInt8] = []
                var offset: UInt64 = 0
                let chunk = 1 << 20
                do {
                    try await repo.streamBlob(reference) { piece in
                        buffer += piece
                        while buffer.count >= chunk {
                            for extent in extentsBySHA[reference.sha256] ?? [] {
                                try refill.write(Array(buffer[..<chunk]), at: offset, to: extent)
                            }
                            buffer.removeFirst(chunk)
                            offset += UInt64(chunk)
                        }
                        done += UInt64(piece.count)
                        progress.update(done)
                    }
                    if !buffer.isEmpty {
                        for extent in extentsBySHA[reference.sha256] ?? [] {
                            try refill.write(buffer, at: offset, to: extent)
                        }
                    }
                } catch let error as RepositoryError {
                    problems.append(damage(error, reference, opened.manifest))
                }
            }
            progress.finish()
            try refill.finish()
            guard problems.isEmpty else { throw command.refusal(problems) }
            let report: RestoreReport
            do {
                report = try ArtifactStore.restore(
                    dataFile: work + "/" + ArtifactStore.backupDataFileName, into: server.storeDirectory,
                    expected: opened.manifest.store, expectedFile: nil, logger: quietLogger)
            } catch let refused as RestoreRefusal {
                throw command.refusal(refused.problems)
            }
            // The configuration files, each checked by the digest its reference holds.
            for (name, reference) in opened.tree.parts where name.hasPrefix("config/") {
                let relative = String(name.dropFirst("config/".count))
                guard !relative.isEmpty, !relative.hasPrefix("/"), !relative.split(separator: "/").contains("..")
                else { continue }
                let target = (command.dataDir as NSString).appendingPathComponent(relative)
                try PrivateFiles.createDirectory((target as NSString).deletingLastPathComponent)
                try PrivateFiles.write(try await repo.readBlob(reference), to: target)
            }
            return (opened, report)
        }
        command.printReport(report, backup: opened.record.id)
    }

    /// One line naming a damaged content and the artifacts that hold it.
    static func damage(_ error: RepositoryError, _ reference: ContentReference, _ manifest: BackupManifest) -> String {
        var holders: [String] = []
        for tenant in manifest.store.tenants {
            for artifact in tenant.artifacts where artifact.sha256.hex == reference.sha256 {
                holders.append("tenant \(tenant.tenant) artifact \(artifact.id)")
            }
        }
        let who = holders.isEmpty ? "an open upload" : holders.joined(separator: ", ")
        return "content sha256:\(reference.sha256) (\(who)) is damaged: \(error.message)"
    }

    // MARK: - verify --remote

    /// Checks every object a backup references (or a random `subset` percent of its contents):
    /// exists, decrypts, and hashes to what the backup records. Exit status 0 clean, 1 damage
    /// found, 2 could not check.
    static func verify(_ text: String, subset: Double?, repository: RepositoryOptions, json: Bool) async throws {
        let location = try location(text, allowsBackupID: true)
        let (record, checked, bytes, problems) = try await repository.withRepository(location, create: false) {
            repo in
            let opened: OpenedBackup
            do { opened = try await openBackup(repo) } catch let error as RepositoryError where error.code == .damaged {
                return (SnapshotRecord?.none, 0, Int64(0), [error.message])
            }
            var selected = opened.tree.contents
            if let subset, subset < 100 {
                var generator = SystemRandomNumberGenerator()
                selected = selected.filter { _ in Double.random(in: 0..<100, using: &generator) < subset }
            }
            var problems: [String] = []
            var checked = 0
            var bytes: Int64 = 0
            let all = Array(opened.tree.parts.values) + selected
            try await readContents(all, from: repo) { reference, result in
                checked += 1
                bytes += reference.sizeBytes
                if case .failure(let error) = result { problems.append(damage(error, reference, opened.manifest)) }
            } large: { reference in
                checked += 1
                bytes += reference.sizeBytes
                do { try await repo.streamBlob(reference) { _ in } } catch let error as RepositoryError {
                    problems.append(damage(error, reference, opened.manifest))
                }
            }
            return (Optional(opened.record), checked, bytes, problems)
        }
        for problem in problems { Output.error("cairn: verify: \(problem)") }
        if json {
            Output.json(
                .object(
                    JSONObject([
                        ("repository", .string(location.description)),
                        ("backup", record.map { .string($0.id) } ?? .null),
                        ("checkedObjects", .number(JSONNumber(checked))),
                        ("checkedBytes", .number(JSONNumber(bytes))),
                        ("damaged", .array(problems.map { .string($0) })),
                    ])))
        } else {
            Output.fields([
                ("backup", record?.id ?? "-"),
                ("checked", "\(checked) objects, \(Output.exactBytes(UInt64(bytes)))"),
                ("damaged", "\(problems.count)"),
            ])
        }
        if !problems.isEmpty { throw ExitCode(1) }
    }
}

/// `cairn import --from s3://…`: one tenant of a backup, staged as an export.
extension RemoteCommands {
    /// Writes the export of `tenant` of the selected backup into the new directory `directory`:
    /// the index the backup recorded for it and every content it names, each checked against
    /// its sha256 as it is fetched.
    ///
    /// - Returns: the directory, and the name the import's report gives it (`s3://…#ID tenant T`).
    static func stageExport(
        from text: String, tenant: String, repository: RepositoryOptions, into directory: String, showsProgress: Bool
    ) async throws -> (path: String, name: String) {
        let location = try location(text, allowsBackupID: true)
        return try await repository.withRepository(location, create: false) { repo in
            let opened = try await openBackup(repo)
            guard let part = opened.tree.parts["exports/\(tenant)"] else {
                let held = opened.tree.parts.keys.filter { $0.hasPrefix("exports/") }.map { $0.dropFirst(8) }.sorted()
                throw RemoteFailure.couldNotCheck(
                    "backup \(opened.record.id) holds no tenant \(tenant) (it holds: \(held.isEmpty ? "none" : held.joined(separator: ", ")))"
                )
            }
            let index = try await repo.readBlob(part)
            let document: ExportDocument
            do { document = try ExportDocument(parsing: index) } catch {
                throw RepositoryError(
                    .damaged, "the export index of tenant \(tenant) in backup \(opened.record.id): \(error)")
            }
            let contents = Dictionary(opened.tree.contents.map { ($0.sha256, $0) }, uniquingKeysWith: { a, _ in a })
            let needed = try document.blobs.map { blob in
                guard let reference = contents[blob.sha256.hex], reference.sizeBytes == Int64(blob.sizeBytes) else {
                    throw RepositoryError(
                        .damaged, "backup \(opened.record.id) lacks content sha256:\(blob.sha256.hex)")
                }
                return reference
            }
            let writer = try ExportWriter(target: directory)
            var progress = ProgressBar(
                label: "fetch \(tenant)", total: UInt64(needed.reduce(0) { $0 + $1.sizeBytes }), enabled: showsProgress)
            defer { progress.interrupt() }
            var done: UInt64 = 0
            do {
                try writer.add(ExportDocument.fileName, index)
                try await readContents(needed, from: repo) { reference, bytes in
                    let bytes = try bytes.get()
                    try writer.add("blobs/sha256/\(reference.sha256)", bytes)
                    done += UInt64(bytes.count)
                    progress.update(done)
                } large: { reference in
                    try writer.beginFile("blobs/sha256/\(reference.sha256)", sizeBytes: UInt64(reference.sizeBytes))
                    try await repo.streamBlob(reference) { piece in
                        try writer.write(piece)
                        done += UInt64(piece.count)
                        progress.update(done)
                    }
                    try writer.endFile()
                }
                try writer.publish()
            } catch {
                writer.discard()
                throw error
            }
            progress.finish()
            return (directory, "\(location.bucket)/\(location.prefix)#\(opened.record.id) tenant \(tenant)")
        }
    }
}
