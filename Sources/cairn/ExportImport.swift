import ArgumentParser
import CairnClient
import CairnDigest
import CairnProtocol
import CairnServer
import CairnStore
import Foundation

/// `cairn export --out FILE.tar|DIR`: a tenant's artifacts, configurations and manifest, portable.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export the tenant's artifacts, their meta, provider configurations and manifest.",
        discussion: """
            Writes EXPORT.json (the manifest, the content files, the configurations) and every distinct \
            content once as blobs/sha256/HEX, into a new directory, or a tar file when the path ends in \
            .tar. Every content is verified on the way; the export appears under its name only when it is \
            complete. Secret configuration values never leave the server: the export names the secret \
            fields that were set, and carries no value for them. See docs/auditing.md for the format.
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    @Option(help: ArgumentHelp("The export to create: a directory, or FILE.tar.", valueName: "path"))
    var out: String

    func run() async throws {
        var writer = try ExportWriter(target: out)
        do {
            let document = try await client.withClient { connection in
                let document = ExportDocument(
                    exportedAt: Timestamp.now(), manifest: try await manifest(connection),
                    configurations: try await configurations(connection))
                try writer.add(ExportDocument.fileName, document.json.serialized() + [0x0a])
                let total = document.blobs.reduce(0) { $0 + $1.sizeBytes }
                var progress = ProgressBar(
                    label: "export \(tenant.name)", total: total, enabled: ProgressBar.shouldShow(json: client.json))
                defer { progress.interrupt() }
                var done: UInt64 = 0
                for blob in document.blobs {
                    try await copy(blob, of: document.manifest, from: connection, into: &writer) {
                        done += UInt64($0)
                        progress.update(done)
                    }
                }
                progress.finish()
                return document
            }
            try writer.publish()
            report(document)
        } catch {
            writer.discard()
            throw error
        }
    }

    private func manifest(_ connection: CairnClient) async throws -> TenantManifest {
        let result = try await connection.call(
            Methods.tenantsManifest.name, JSONObject([("tenant", .string(tenant.name))]))
        do { return try ManifestCoding.decode(result.result) } catch {
            throw LocalFailure("the server's manifest does not check out: \(error)")
        }
    }

    /// Every configured provider of the catalog, without secret values.
    private func configurations(_ connection: CairnClient) async throws -> [ExportDocument.Configuration] {
        let providers = try await connection.call(Methods.providersList.name).result["providers"]?.arrayValue ?? []
        var configurations: [ExportDocument.Configuration] = []
        for providerId in providers.compactMap({ $0["providerId"]?.stringValue }) {
            let snapshot = try await connection.call(
                Methods.providersConfigGet.name,
                JSONObject([("tenant", .string(tenant.name)), ("providerId", .string(providerId))])
            ).result
            guard let revision = snapshot["revision"]?.uint64, revision > 0 else { continue }
            var values = JSONObject()
            var secrets: [String] = []
            for field in snapshot["fields"]?.arrayValue ?? [] {
                guard let key = field["key"]?.stringValue, let value = field["value"], value != .null else { continue }
                if case .object = value {
                    secrets.append(key)
                } else {
                    values[key] = value
                }
            }
            configurations.append(
                .init(providerId: providerId, revision: revision, values: values, secretFields: secrets))
        }
        return configurations
    }

    /// Downloads one content through any artifact that still has it (others may be deleted meanwhile), verified.
    private func copy(
        _ blob: ExportDocument.Blob, of manifest: TenantManifest, from connection: CairnClient,
        into writer: inout ExportWriter, progress: (Int) -> Void
    ) async throws {
        for artifact in manifest.artifacts where artifact.sha256 == blob.sha256 {
            let meta: ArtifactInfo
            do {
                meta = try await connection.meta(tenant: tenant.name, artifactId: artifact.id)
            } catch CairnClientError.server(let error) where error.code == .notFound {
                continue
            }
            guard meta.sha256 == blob.sha256.hex, meta.sizeBytes == blob.sizeBytes else {
                throw LocalFailure("artifact \(artifact.id) is not what the manifest says; export again")
            }
            try writer.beginFile(blob.path, sizeBytes: blob.sizeBytes)
            _ = try await connection.download(meta) { bytes in
                try writer.write(bytes)
                progress(bytes.count)
            }
            try writer.endFile()
            return
        }
        throw LocalFailure("every artifact with sha256 \(blob.sha256.hex) was deleted during the export; export again")
    }

    private func report(_ document: ExportDocument) {
        let bytes = document.blobs.reduce(0) { $0 + $1.sizeBytes }
        if client.json {
            Output.json(
                .object(
                    JSONObject([
                        ("out", .string(out)), ("tenant", .string(tenant.name)),
                        ("artifacts", .number(JSONNumber(document.manifest.artifacts.count))),
                        ("blobs", .number(JSONNumber(document.blobs.count))), ("bytes", .number(JSONNumber(bytes))),
                        ("configurations", .number(JSONNumber(document.configurations.count))),
                        ("digest", .string(document.manifest.digest.hex)),
                    ])))
            return
        }
        Output.fields([
            ("export", out),
            ("artifacts", "\(document.manifest.artifacts.count)"),
            ("blobs", "\(document.blobs.count), \(Output.exactBytes(bytes))"),
            ("configurations", "\(document.configurations.count)"),
            ("manifest", "sha256:\(document.manifest.digest.hex)"),
        ])
        for configuration in document.configurations where !configuration.secretFields.isEmpty {
            Output.error(
                "cairn: secret fields of \(configuration.providerId) not exported: \(configuration.secretFields.joined(separator: ", "))"
            )
        }
    }
}

/// `cairn import FILE.tar|DIR`: an export into this server's tenant, keeping artifact ids.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import an export (made by cairn export) into the tenant, keeping artifact ids.",
        discussion: """
            First checks every content file of the export against its sha256, then asks the server \
            what the import would do (artifacts.import with dryRun): artifacts already present, content \
            the tenant already holds (never sent again), ids in use by other artifacts, and whether the \
            result fits the tenant's quotas. Nothing is written unless all of that is fine. Then sends \
            each missing content once, creates the other artifacts from content now held, and sets the \
            non-secret configuration values (secret fields stay unset: an export carries none). Running \
            the same import again changes nothing and sends no content.
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    @Argument(help: ArgumentHelp("The export: a directory or a .tar file.", valueName: "path"))
    var path: String

    static let batch = 1000

    func run() async throws {
        let source = try ExportReader(path: path)
        let document = try ExportDocument(parsing: try await source.contents(of: ExportDocument.fileName))
        try await checkContent(document, in: source)
        let entries: [JSONValue] = document.manifest.artifacts.map { artifact in
            .object(
                JSONObject([
                    ("artifactId", .string(artifact.id)), ("sha256", .string(artifact.sha256.hex)),
                    ("sizeBytes", .number(JSONNumber(artifact.sizeBytes))),
                    ("providerId", .string(artifact.providerId)),
                    ("mimeType", .string(artifact.mimeType)),
                ]))
        }
        let summary = try await client.withClient { connection in
            let statuses = try await plan(entries, document, connection)
            var summary = Summary()
            summary.present = statuses.filter { $0 == "present" }.count
            // One upload per missing content, under the first artifact id that needs it.
            var sent = Set<SHA256Digest>()
            for (artifact, status) in zip(document.manifest.artifacts, statuses) where status == "needsContent" {
                guard sent.insert(artifact.sha256).inserted else { continue }
                try await upload(artifact, from: source, connection)
                summary.uploadedBlobs += 1
                summary.uploadedBytes += artifact.sizeBytes
                summary.created += 1
            }
            for start in stride(from: 0, to: entries.count, by: Self.batch) {
                let result = try await connection.call(
                    Methods.artifactsImport.name,
                    JSONObject([
                        ("tenant", .string(tenant.name)),
                        ("artifacts", .array(Array(entries[start..<min(entries.count, start + Self.batch)]))),
                    ])
                ).result
                let remaining = (result["artifacts"]?.arrayValue ?? []).filter { $0["status"] == "needsContent" }
                guard remaining.isEmpty else {
                    throw LocalFailure("the server still lacks the content of \(remaining.count) artifacts")
                }
                summary.created += Int(result["created"]?.uint64 ?? 0)
            }
            summary.configurations = try await configure(document.configurations, connection)
            return summary
        }
        report(summary, document)
    }

    private struct Summary {
        var present = 0
        var created = 0
        var uploadedBlobs = 0
        var uploadedBytes: UInt64 = 0
        var configurations: [(providerId: String, changed: Bool, unsetSecrets: [String])] = []
    }

    /// Checks every content file of the export against its size and sha256, before anything is sent.
    private func checkContent(_ document: ExportDocument, in source: ExportReader) async throws {
        var problems: [String] = []
        for blob in document.blobs {
            guard source.size(of: blob.path) == blob.sizeBytes else {
                problems.append("\(blob.path) is missing or not \(blob.sizeBytes) bytes")
                continue
            }
            var hasher = SHA256Hasher()
            try await source.forEachPiece(of: blob.path, piece: 4 << 20) { hasher.update($0) }
            let actual = hasher.finalize()
            if actual != blob.sha256 { problems.append("\(blob.path) has sha256 \(actual.hex)") }
        }
        guard problems.isEmpty else {
            for problem in problems { Output.error("cairn: import: \(problem)") }
            throw LocalFailure("the export is damaged (\(problems.count) content files); nothing was imported")
        }
    }

    /// The server's plan, batch by batch; stops with every conflict and any quota that would be passed.
    private func plan(_ entries: [JSONValue], _ document: ExportDocument, _ connection: CairnClient) async throws
        -> [String]
    {
        var statuses: [String] = []
        var usage: JSONValue = .null
        for start in stride(from: 0, to: entries.count, by: Self.batch) {
            let result = try await connection.call(
                Methods.artifactsImport.name,
                JSONObject([
                    ("tenant", .string(tenant.name)),
                    ("artifacts", .array(Array(entries[start..<min(entries.count, start + Self.batch)]))),
                    ("dryRun", true),
                ])
            ).result
            statuses += (result["artifacts"]?.arrayValue ?? []).map { $0["status"]?.stringValue ?? "" }
            usage = result["usage"] ?? .null
        }
        let conflicts = zip(document.manifest.artifacts, statuses).filter { $0.1 == "conflict" }.map(\.0.id)
        for id in conflicts { Output.error("cairn: import: artifact id \(id) is in use by another artifact") }
        guard conflicts.isEmpty else {
            throw LocalFailure("\(conflicts.count) artifact ids are in use; nothing was imported")
        }
        let newArtifacts = UInt64(statuses.filter { $0 == "link" || $0 == "needsContent" }.count)
        var digests = Set<SHA256Digest>()
        var newBytes: UInt64 = 0
        for (artifact, status) in zip(document.manifest.artifacts, statuses) where status == "needsContent" {
            if digests.insert(artifact.sha256).inserted { newBytes += artifact.sizeBytes }
        }
        let count = usage["artifactCount"]?.uint64 ?? 0
        let stored = usage["storedBytes"]?.uint64 ?? 0
        if let max = usage["quota"]?["maxArtifacts"]?.uint64, count + newArtifacts > max {
            throw LocalFailure(
                "QUOTA_EXCEEDED: the import's \(newArtifacts) new artifacts would pass the tenant's artifact quota (limit \(max), used \(count)); nothing was imported"
            )
        }
        if let max = usage["quota"]?["maxBytes"]?.uint64, stored + newBytes > max {
            throw LocalFailure(
                "QUOTA_EXCEEDED: the import's \(newBytes) new bytes would pass the tenant's byte quota (limit \(max), used \(stored)); nothing was imported"
            )
        }
        if !client.json {
            Output.error(
                "cairn: import plan: \(statuses.filter { $0 == "present" }.count) present, \(newArtifacts) to create, \(digests.count) contents (\(Output.bytes(newBytes))) to send"
            )
        }
        return statuses
    }

    /// Sends one content as a new artifact with the export's id: begin with size and digest, appends, commit.
    private func upload(_ artifact: TenantManifest.Artifact, from source: ExportReader, _ connection: CairnClient)
        async throws
    {
        let uploadId = try await connection.beginUpload(
            tenant: tenant.name, providerId: artifact.providerId, mimeType: artifact.mimeType,
            sizeBytes: artifact.sizeBytes, sha256: artifact.sha256.hex)
        do {
            var offset: UInt64 = 0
            let piece = min(try await connection.maxChunkBytes(), Put.maxChunk)
            try await source.forEachPiece(of: "blobs/sha256/\(artifact.sha256.hex)", piece: piece) { bytes in
                guard !bytes.isEmpty else { return }
                offset = try await connection.append(uploadId: uploadId, offset: offset, bytes: bytes)
            }
            _ = try await connection.call(
                Methods.uploadsCommit.name,
                JSONObject([
                    ("uploadId", .string(uploadId)), ("sha256", .string(artifact.sha256.hex)),
                    ("artifactId", .string(artifact.id)),
                ]))
        } catch {
            try? await connection.abort(uploadId: uploadId)
            throw error
        }
    }

    /// Sets each exported configuration's values where they differ from the tenant's.
    private func configure(_ configurations: [ExportDocument.Configuration], _ connection: CairnClient) async throws
        -> [(providerId: String, changed: Bool, unsetSecrets: [String])]
    {
        var results: [(String, Bool, [String])] = []
        for configuration in configurations {
            let params = JSONObject([
                ("tenant", .string(tenant.name)), ("providerId", .string(configuration.providerId)),
            ])
            let current = try await connection.call(Methods.providersConfigGet.name, params).result
            var currentValues: [String: JSONValue] = [:]
            for field in current["fields"]?.arrayValue ?? [] {
                if let key = field["key"]?.stringValue { currentValues[key] = field["value"] ?? .null }
            }
            let differs = configuration.values.keys.contains { currentValues[$0] != configuration.values[$0] }
            if differs {
                var set = params
                set["values"] = .object(configuration.values)
                _ = try await connection.call(Methods.providersConfigSet.name, set)
            }
            let unset = configuration.secretFields.filter { currentValues[$0] == nil || currentValues[$0] == .null }
            results.append((configuration.providerId, differs, unset))
        }
        return results
    }

    private func report(_ summary: Summary, _ document: ExportDocument) {
        if client.json {
            Output.json(
                .object(
                    JSONObject([
                        ("tenant", .string(tenant.name)),
                        ("artifacts", .number(JSONNumber(document.manifest.artifacts.count))),
                        ("present", .number(JSONNumber(summary.present))),
                        ("created", .number(JSONNumber(summary.created))),
                        ("uploadedBlobs", .number(JSONNumber(summary.uploadedBlobs))),
                        ("uploadedBytes", .number(JSONNumber(summary.uploadedBytes))),
                        (
                            "configurations",
                            .array(
                                summary.configurations.map {
                                    .object(
                                        JSONObject([
                                            ("providerId", .string($0.providerId)), ("changed", .bool($0.changed)),
                                            ("secretFieldsUnset", .array($0.unsetSecrets.map(JSONValue.string))),
                                        ]))
                                })
                        ),
                    ])))
            return
        }
        Output.fields([
            ("imported", path),
            (
                "artifacts",
                "\(document.manifest.artifacts.count): \(summary.created) created, \(summary.present) present"
            ),
            ("sent", "\(summary.uploadedBlobs) contents, \(Output.exactBytes(summary.uploadedBytes))"),
            (
                "configurations",
                summary.configurations.isEmpty
                    ? "none"
                    : summary.configurations.map { "\($0.providerId) \($0.changed ? "set" : "unchanged")" }.joined(
                        separator: ", ")
            ),
        ])
        for configuration in summary.configurations where !configuration.unsetSecrets.isEmpty {
            Output.error(
                "cairn: secret fields of \(configuration.providerId) left unset (an export carries no secrets): \(configuration.unsetSecrets.joined(separator: ", "))"
            )
        }
    }
}
