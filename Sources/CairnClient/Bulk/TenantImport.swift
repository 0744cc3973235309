import CairnDigest
import CairnManifest
import CairnProtocol
import Foundation

/// An import of an export into a tenant (`cairn import`), keeping artifact ids.
///
/// Three steps, each a method, so that a caller can report between them:
/// ``checkContent(progress:)`` checks every content file against its
/// digest; ``plan(on:)`` asks the server what the import would do
/// (`artifacts.import` with `dryRun`) and refuses conflicts and quotas
/// passed before any byte is sent; ``run(_:on:progress:)`` sends what the
/// tenant lacks (see ``ImportBatches``) and sets the non-secret
/// configuration values.
///
/// Each batch is one request and one transaction on the server; a batch
/// that committed stays, so an import that was interrupted (a crash, a
/// dropped connection) is finished by running it again: the new plan finds
/// the artifacts already there `present` and sends only the rest. Running
/// a finished import again changes nothing and sends nothing.
public struct TenantImport {
    /// The tenant to import into.
    public let tenant: String
    /// The export.
    public let source: ExportReader
    /// Its index.
    public let document: ExportDocument

    /// Two batches in flight: the next is read from the export while the server commits one.
    public static let batchesInFlight = 2

    /// What the server would do, checked against the tenant's quotas.
    public struct Plan: Sendable {
        /// Each artifact's status, in the manifest's order: `present`, `link` or `needsContent`.
        public var statuses: [String]
        /// Artifacts the import creates.
        public var newArtifacts: UInt64
        /// Distinct contents to send, and their bytes.
        public var newContents: Int
        public var newBytes: UInt64
        /// Artifacts the tenant has already.
        public var present: Int { statuses.filter { $0 == "present" }.count }
    }

    /// What an import did.
    public struct Summary: Sendable {
        public var present = 0
        public var created = 0
        public var uploadedContents = 0
        public var uploadedBytes: UInt64 = 0
        public var configurations: [ConfigurationOutcome] = []
    }

    /// What happened to one exported configuration.
    public struct ConfigurationOutcome: Sendable {
        public var providerId: String
        /// Whether values were set (they differed from the tenant's).
        public var changed: Bool
        /// Secret fields the export names that the tenant has no value for.
        public var unsetSecrets: [String]
    }

    /// An import of the export read by `source` (its index, `document`) into `tenant`.
    public init(tenant: String, source: ExportReader, document: ExportDocument) {
        self.tenant = tenant
        self.source = source
        self.document = document
    }

    /// An import of the export at `path`: opens it and reads its index.
    ///
    /// - Throws: ``BulkTransferError``.
    public init(tenant: String, exportAt path: String) throws(BulkTransferError) {
        let source = try ExportReader(path: path)
        self.init(
            tenant: tenant, source: source,
            document: try ExportDocument(parsing: try source.contents(of: ExportDocument.fileName)))
    }

    /// Checks every content file of the export against its size and sha256, before anything is sent.
    ///
    /// - Throws: ``BulkTransferError`` ``BulkTransferError/Code/damagedExport`` with one problem per
    ///   faulty file.
    public func checkContent(progress: (UInt64) -> Void = { _ in }) async throws {
        var problems: [String] = []
        var done: UInt64 = 0
        for blob in document.blobs {
            var hasher = SHA256Hasher()
            var size: UInt64? = nil
            do {
                // One open per file: its size comes from the open file.
                size = try await source.forEachPiece(of: blob.path, piece: 4 << 20) { hasher.update($0) }
            } catch let error as BulkTransferError where error.code == .damagedExport {
                size = nil
            }
            guard size == blob.sizeBytes else {
                problems.append("\(blob.path) is missing or not \(blob.sizeBytes) bytes")
                continue
            }
            let actual = hasher.finalize()
            if actual != blob.sha256 { problems.append("\(blob.path) has sha256 \(actual.hex)") }
            done += blob.sizeBytes
            progress(done)
        }
        guard problems.isEmpty else {
            throw BulkTransferError(
                .damagedExport, "the export is damaged (\(problems.count) content files); nothing was imported",
                problems: problems)
        }
    }

    /// The server's plan, a page at a time; refuses every conflict and any quota that would be passed.
    ///
    /// - Throws: ``BulkTransferError`` ``BulkTransferError/Code/conflict`` (one problem per id in
    ///   use) or ``BulkTransferError/Code/quotaExceeded``; nothing was written.
    public func plan(on connection: CairnClient) async throws -> Plan {
        let pageSize = 1000
        var statuses: [String] = []
        var usage: JSONValue = .null
        let entries = document.manifest.artifacts
        // Every page in flight at once: a plan writes nothing, so its pages need not wait for each other.
        let pages = stride(from: 0, to: entries.count, by: pageSize).map {
            Array(entries[$0..<min(entries.count, $0 + pageSize)])
        }
        let requests = pages.map {
            CairnClient.Request(Methods.artifactsImport, ImportParams(tenant: tenant, artifacts: $0, dryRun: true))
        }
        for (page, reply) in zip(pages, try await connection.pipeline(requests)) {
            let result = try reply.get().result
            let answered = (result["artifacts"]?.arrayValue ?? []).map { $0["status"]?.stringValue ?? "" }
            guard answered.count == page.count else {
                throw BulkTransferError(
                    .inconsistent, "the server planned \(answered.count) of \(page.count) artifacts")
            }
            statuses += answered
            usage = result["usage"] ?? .null
        }
        let conflicts = zip(document.manifest.artifacts, statuses).filter { $0.1 == "conflict" }.map(\.0.id)
        guard conflicts.isEmpty else {
            throw BulkTransferError(
                .conflict, "\(conflicts.count) artifact ids are in use; nothing was imported",
                problems: conflicts.map { "artifact id \($0) is in use by another artifact" })
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
            throw BulkTransferError(
                .quotaExceeded,
                "QUOTA_EXCEEDED: the import's \(newArtifacts) new artifacts would pass the tenant's artifact quota (limit \(max), used \(count)); nothing was imported"
            )
        }
        if let max = usage["quota"]?["maxBytes"]?.uint64, stored + newBytes > max {
            throw BulkTransferError(
                .quotaExceeded,
                "QUOTA_EXCEEDED: the import's \(newBytes) new bytes would pass the tenant's byte quota (limit \(max), used \(stored)); nothing was imported"
            )
        }
        return Plan(statuses: statuses, newArtifacts: newArtifacts, newContents: digests.count, newBytes: newBytes)
    }

    /// The batch limits for a server: its page size, at most 8 MiB (and its `maxRequestBytes`)
    /// attached, contents up to 1 MiB (and its `maxChunkBytes`) attached.
    public static func limits(of connection: CairnClient) async throws -> ImportBatches.Limits {
        ImportBatches.Limits(
            entries: 1000, bytes: UInt64(min(try await connection.maxRequestBytes(), 8 << 20)),
            inlineBytes: UInt64(min(try await connection.maxChunkBytes(), 1 << 20)))
    }

    /// Sends what `plan` says the tenant lacks, then sets the configurations.
    ///
    /// - Parameters:
    ///   - limits: how large a batch may be; ``limits(of:)`` when `nil`.
    ///   - progress: told the content bytes sent so far, and the ids of the artifacts the server
    ///     has just acknowledged (a large upload's, or a whole batch's), once per acknowledgement.
    /// - Throws: the server's refusal of a batch (``CairnClientError/server(_:)``); batches before
    ///   it stay committed, and running the import again finishes it.
    public func run(
        _ plan: Plan, on connection: CairnClient, limits: ImportBatches.Limits? = nil,
        progress: (_ sentBytes: UInt64, _ acknowledged: [UUID]) -> Void = { _, _ in }
    ) async throws -> Summary {
        let artifacts = document.manifest.artifacts
        var summary = Summary()
        summary.present = plan.present
        var given = limits
        if given == nil { given = try await Self.limits(of: connection) }
        let sending = ImportBatches(artifacts: artifacts, statuses: plan.statuses, limits: given!)
        var sent: UInt64 = 0
        for index in sending.large {
            try await upload(artifacts[index], connection) { progress(sent + $0, []) }
            sent += artifacts[index].sizeBytes
            summary.uploadedContents += 1
            summary.uploadedBytes += artifacts[index].sizeBytes
            summary.created += 1
            progress(sent, [artifacts[index].artifactId])
        }
        var next = 0
        var inFlight: [ImportBatches.Batch] = []
        do {
            while next < sending.batches.count || !inFlight.isEmpty {
                while next < sending.batches.count, inFlight.count < Self.batchesInFlight {
                    let batch = sending.batches[next]
                    next += 1
                    try await connection.send(try request(batch))
                    inFlight.append(batch)
                }
                let batch = inFlight.removeFirst()
                let result = try await connection.receive().get().result
                let statuses = (result["artifacts"]?.arrayValue ?? []).map { $0["status"]?.stringValue ?? "" }
                guard statuses.count == batch.artifacts.count, !statuses.contains("needsContent") else {
                    throw BulkTransferError(
                        .inconsistent, "the server still lacks the content of artifacts of a batch; import again")
                }
                summary.created += statuses.filter { $0 == "created" }.count
                summary.present += statuses.filter { $0 == "present" }.count
                summary.uploadedContents += batch.contents.count
                summary.uploadedBytes += batch.bytes
                sent += batch.bytes
                progress(sent, batch.artifacts.map { artifacts[$0].artifactId })
            }
        } catch {
            await connection.discardResponsesInFlight()
            throw error
        }
        summary.configurations = try await configure(connection)
        return summary
    }

    /// The `artifacts.importBatch` of `batch`, its contents read from the export.
    private func request(_ batch: ImportBatches.Batch) throws -> CairnClient.Request {
        let artifacts = document.manifest.artifacts
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(batch.bytes))
        var contents: [ImportBatchParams.Content] = []
        for index in batch.contents {
            let artifact = artifacts[index]
            bytes += try source.contents(of: ExportDocument.Blob(sha256: artifact.sha256, sizeBytes: 0).path)
            contents.append(ImportBatchParams.Content(sha256: artifact.sha256, sizeBytes: artifact.sizeBytes))
        }
        let params = ImportBatchParams(
            tenant: tenant, artifacts: batch.artifacts.map { artifacts[$0] }, contents: contents)
        return CairnClient.Request(Methods.artifactsImportBatch, params, attachment: bytes)
    }

    /// Sends one large content as a new artifact with the export's id: begin with size and digest,
    /// appends (several in flight), commit.
    private func upload(
        _ artifact: TenantManifest.Artifact, _ connection: CairnClient, progress: (UInt64) -> Void
    ) async throws {
        let uploadId = try await connection.beginUpload(
            tenant: tenant, providerId: artifact.providerId, mimeType: artifact.mimeType,
            sizeBytes: artifact.sizeBytes, sha256: artifact.sha256.hex)
        do {
            let piece = UInt64(min(try await connection.maxChunkBytes(), 4 << 20))
            let path = ExportDocument.Blob(sha256: artifact.sha256, sizeBytes: artifact.sizeBytes).path
            let upload = ChunkedUpload(connection: connection, uploadId: uploadId)
            try await upload.send(from: 0, progress: progress) { offset in
                guard offset < artifact.sizeBytes else { return nil }
                return try source.range(of: path, at: offset, count: Int(min(piece, artifact.sizeBytes - offset)))
            }
            _ = try await connection.call(
                Methods.uploadsCommit,
                CommitUploadParams(
                    uploadId: try CairnClient.uuid(uploadId, "uploadId"), sha256: artifact.sha256,
                    artifactId: artifact.artifactId))
        } catch {
            try? await connection.abort(uploadId: uploadId)
            throw error
        }
    }

    /// Sets each exported configuration's values where they differ from the tenant's.
    private func configure(_ connection: CairnClient) async throws -> [ConfigurationOutcome] {
        var outcomes: [ConfigurationOutcome] = []
        for configuration in document.configurations {
            let params = JSONObject([
                ("tenant", .string(tenant)), ("providerId", .string(configuration.providerId)),
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
            outcomes.append(
                ConfigurationOutcome(providerId: configuration.providerId, changed: differs, unsetSecrets: unset))
        }
        return outcomes
    }
}

@available(*, unavailable)
extension TenantImport: Sendable {}
