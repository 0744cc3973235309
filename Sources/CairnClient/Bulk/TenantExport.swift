import CairnDigest
import CairnManifest
import CairnProtocol
import Foundation

/// A tenant's export (`cairn export`): its manifest, the non-secret values
/// of its provider configurations, and every distinct content once,
/// verified, written through an ``ExportWriter``.
///
/// Contents are read with many `artifacts.read` requests in flight (up to
/// ``readsInFlight`` of them, and ``bytesInFlight`` bytes), each a whole
/// content of at most the server's `maxChunkBytes` in one answer, so that
/// thousands of small artifacts cost a few round trips, not two each.
/// Larger contents are downloaded range by range. Memory stays bounded by
/// the window and the manifest: no content is held once written.
///
/// Artifacts may be deleted while the export runs; a content is then read
/// through another artifact that has it, and only when every one of them
/// is gone does the export fail (``BulkTransferError/Code/inconsistent``).
///
/// ```swift
/// let writer = try ExportWriter(target: "/srv/acme.tar")
/// let document = try await TenantExport(tenant: "acme").run(on: client, into: writer, exportedAt: "2026-12-07T15:00:00Z")
/// try writer.publish()
/// ```
public struct TenantExport: Sendable {
    /// The tenant to export.
    public let tenant: String

    /// Reads in flight at most.
    public static let readsInFlight = 128
    /// Bytes asked for and not yet received, at most (one content larger than this is still read).
    public static let bytesInFlight: UInt64 = 16 << 20

    /// An export of `tenant`.
    public init(tenant: String) {
        self.tenant = tenant
    }

    /// Writes the export: `EXPORT.json` first, then every content file.
    ///
    /// - Parameters:
    ///   - exportedAt: the time to record (RFC 3339, UTC).
    ///   - progress: told the content bytes written so far, and their total.
    /// - Returns: the index written.
    /// - Throws: ``CairnClientError`` for the server's refusals; ``BulkTransferError`` when the
    ///   manifest does not check out, a content is gone or not what the manifest says, or a file
    ///   cannot be written. The caller then discards the writer.
    public func run(
        on connection: CairnClient, into writer: ExportWriter, exportedAt: String,
        progress: (_ done: UInt64, _ total: UInt64) -> Void = { _, _ in }
    ) async throws -> ExportDocument {
        let document = ExportDocument(
            exportedAt: exportedAt, manifest: try await manifest(connection),
            configurations: try await configurations(connection))
        try writer.add(ExportDocument.fileName, document.json.serialized() + [0x0a])
        let total = document.blobs.reduce(0) { $0 + $1.sizeBytes }
        var done: UInt64 = 0
        progress(0, total)
        var holders: [SHA256Digest: [UUID]] = [:]
        for artifact in document.manifest.artifacts {
            holders[artifact.sha256, default: []].append(artifact.artifactId)
        }
        let maxChunk = UInt64(try await connection.maxChunkBytes())
        let deferred = try await readSmall(
            document.blobs.filter { $0.sizeBytes <= maxChunk }, holders: holders, connection, writer
        ) { bytes in
            done += bytes
            progress(done, total)
        }
        for blob in deferred + document.blobs.filter({ $0.sizeBytes > maxChunk }) {
            try await download(blob, holders: holders[blob.sha256] ?? [], connection, writer) { bytes in
                done += bytes
                progress(done, total)
            }
        }
        return document
    }

    private func manifest(_ connection: CairnClient) async throws -> TenantManifest {
        let result = try await connection.call(Methods.tenantsManifest, TenantParams(tenant: tenant)).json
        do { return try ManifestCoding.decode(result) } catch {
            throw BulkTransferError(.inconsistent, "the server's manifest does not check out: \(error)")
        }
    }

    /// Every configured provider of the catalog, without secret values.
    private func configurations(_ connection: CairnClient) async throws -> [ExportDocument.Configuration] {
        let providers = try await connection.call(Methods.providersList, NoParams()).json["providers"]?.arrayValue ?? []
        let requests = providers.compactMap { $0["providerId"]?.stringValue }.map {
            CairnClient.Request(Methods.providersConfigGet, ProviderParams(tenant: tenant, providerId: $0))
        }
        var configurations: [ExportDocument.Configuration] = []
        for (request, reply) in zip(requests, try await connection.pipeline(requests)) {
            let snapshot = try reply.get().result
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
                .init(
                    providerId: request.params["providerId"]?.stringValue ?? "", revision: revision, values: values,
                    secretFields: secrets))
        }
        return configurations
    }

    /// Reads each content whole through its first artifact, many reads in flight, and writes it.
    ///
    /// - Returns: the contents whose first artifact was gone, for ``download(_:holders:_:_:progress:)``.
    private func readSmall(
        _ blobs: [ExportDocument.Blob], holders: [SHA256Digest: [UUID]], _ connection: CairnClient,
        _ writer: ExportWriter, progress: (UInt64) -> Void
    ) async throws -> [ExportDocument.Blob] {
        var deferred: [ExportDocument.Blob] = []
        var next = 0
        var inFlight: [ExportDocument.Blob] = []
        var bytesInFlight: UInt64 = 0
        do {
            while next < blobs.count || !inFlight.isEmpty {
                var requests: [CairnClient.Request] = []
                // Refill once half the window is answered: one write for many requests, not one each.
                while next < blobs.count, inFlight.count <= Self.readsInFlight / 2 || !requests.isEmpty,
                    inFlight.count < Self.readsInFlight,
                    inFlight.isEmpty || bytesInFlight + blobs[next].sizeBytes <= Self.bytesInFlight
                {
                    let blob = blobs[next]
                    next += 1
                    let params = ReadParams(
                        tenant: tenant, artifactId: holders[blob.sha256]![0], offset: 0,
                        length: max(blob.sizeBytes, 1), binary: true)
                    requests.append(CairnClient.Request(Methods.artifactsRead, params))
                    inFlight.append(blob)
                    bytesInFlight += blob.sizeBytes
                }
                if !requests.isEmpty { try await connection.send(requests) }
                let blob = inFlight.removeFirst()
                bytesInFlight -= blob.sizeBytes
                let range: ReadResult
                switch try await connection.receive() {
                case .success(let reply): range = try CairnClient.decode(Methods.artifactsRead, reply)
                case .failure(.server(let error)) where error.code == .notFound:
                    deferred.append(blob)
                    continue
                case .failure(let error): throw error
                }
                guard range.offset == 0, range.eof, UInt64(range.bytes.count) == blob.sizeBytes,
                    range.sha256 == blob.sha256
                else {
                    throw BulkTransferError(
                        .inconsistent,
                        "the artifacts of sha256 \(blob.sha256.hex) are not what the manifest says; export again")
                }
                let actual = SHA256Hasher.digest(range.bytes)
                guard actual == blob.sha256 else {
                    throw CairnClientError.digestMismatch(expected: blob.sha256.hex, actual: actual.hex)
                }
                try writer.add(blob.path, range.bytes)
                progress(blob.sizeBytes)
            }
        } catch {
            await connection.discardResponsesInFlight()
            throw error
        }
        return deferred
    }

    /// Downloads one content through any artifact that still has it, verified, range by range.
    private func download(
        _ blob: ExportDocument.Blob, holders: [UUID], _ connection: CairnClient, _ writer: ExportWriter,
        progress: (UInt64) -> Void
    ) async throws {
        for artifactId in holders {
            let meta: ArtifactInfo
            do {
                meta = try await connection.meta(tenant: tenant, artifactId: artifactId.uuidString.lowercased())
            } catch CairnClientError.server(let error) where error.code == .notFound {
                continue
            }
            guard meta.sha256 == blob.sha256.hex, meta.sizeBytes == blob.sizeBytes else {
                throw BulkTransferError(
                    .inconsistent, "artifact \(meta.artifactId) is not what the manifest says; export again")
            }
            try writer.beginFile(blob.path, sizeBytes: blob.sizeBytes)
            _ = try await connection.download(meta) { bytes in
                try writer.write(bytes)
                progress(UInt64(bytes.count))
            }
            try writer.endFile()
            return
        }
        throw BulkTransferError(
            .inconsistent, "every artifact with sha256 \(blob.sha256.hex) was deleted during the export; export again")
    }
}
