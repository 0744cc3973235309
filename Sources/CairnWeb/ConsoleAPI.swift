import CairnClient
import CairnDigest
import CairnProtocol

/// The console's JSON API: each call one or a few requests to `cairn serve`
/// through ``CairnClient``, on a connection of its own, as the user who
/// started the console.
///
/// It adds nothing to what the socket allows: the server's peer-credential
/// authorization decides every call, and its errors come back with their
/// contract code. It keeps no state between calls: an upload lives on the
/// server, named by its id, and the page keeps the offset.
public struct ConsoleAPI: Sendable {
    /// The server's socket.
    public let socketPath: String

    /// Largest piece of an upload the page may post at once.
    public static let maxPostedChunk = 4 << 20
    /// The piece size the page is told to use.
    public static let postedChunk = 1 << 20
    /// Pages of `artifacts.list` read for one table, at most.
    static let maxArtifactPages = 20
    /// Bytes one `blobs.verify` call of the page checks.
    static let verifyBudget: UInt64 = 64 << 20

    /// - Parameter socketPath: the socket of the `cairn serve` to call.
    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// Runs `body` on a new connection; any failure becomes a ``ConsoleError``.
    func withClient<R>(_ body: (CairnClient) async throws -> R) async throws(ConsoleError) -> R {
        do {
            return try await CairnClient.withConnection(socketPath: socketPath, body)
        } catch {
            throw ConsoleError.from(error)
        }
    }

    // MARK: Who and where

    /// The session's facts for the page: its CSRF token, and `system.hello`
    /// (the peer, its grants, the limits).
    func session(csrfToken: String) async throws(ConsoleError) -> JSONValue {
        let hello = try await withClient { try await $0.hello() }
        return .object(
            JSONObject([
                ("csrfToken", .string(csrfToken)), ("hello", hello),
                ("chunkBytes", .number(JSONNumber(Self.postedChunk))),
            ]))
    }

    /// `tenants.list`: the tenants the user may read.
    func tenants() async throws(ConsoleError) -> JSONValue {
        try await withClient { try await $0.call(Methods.tenantsList, NoParams()).json }
    }

    // MARK: Providers

    /// The catalog, each provider with its readiness in `tenant` (or the error that took its place).
    func providers(tenant: String?) async throws(ConsoleError) -> JSONValue {
        try await withClient { client in
            var entries: [JSONValue] = []
            for provider in try await client.providers() {
                guard var entry = provider.objectValue, let id = entry["providerId"]?.stringValue else { continue }
                if let tenant {
                    do {
                        entry["readiness"] = try await client.readiness(tenant: tenant, providerId: id)
                    } catch {
                        entry["readinessError"] = ConsoleError.from(error).json["error"]
                    }
                }
                entries.append(.object(entry))
            }
            return .object(JSONObject([("providers", .array(entries))]))
        }
    }

    /// One provider's definition and its configuration in `tenant` (`providers.config.get`).
    func provider(_ providerId: String, tenant: String) async throws(ConsoleError) -> JSONValue {
        try await withClient { client in
            let definition = try await client.providers().first { $0["providerId"]?.stringValue == providerId }
            guard let definition else {
                throw CairnClientError.server(
                    RPCError(
                        .unknownProvider, "no provider \(providerId) in the catalog",
                        data: JSONObject([("providerId", .string(providerId))])))
            }
            let configuration = try await client.providerConfiguration(tenant: tenant, providerId: providerId)
            return .object(JSONObject([("definition", definition), ("configuration", configuration)]))
        }
    }

    /// `providers.config.set` with the page's `{values, clear, expectedRevision}`.
    func configure(_ providerId: String, tenant: String, body: JSONValue) async throws(ConsoleError) -> JSONValue {
        let values = body["values"]?.objectValue ?? JSONObject()
        let clear = (body["clear"]?.arrayValue ?? []).compactMap(\.stringValue)
        var revision: UInt64? = nil
        if case .number(let number)? = body["expectedRevision"] {
            guard let value = number.int64, value >= 0 else {
                throw ConsoleError(status: 400, code: "INVALID_PARAMS", "expectedRevision must be an integer")
            }
            revision = UInt64(value)
        }
        return try await withClient { client in
            try await client.setProviderConfiguration(
                tenant: tenant, providerId: providerId, values: values, clear: clear, expectedRevision: revision)
        }
    }

    // MARK: Artifacts

    /// The tenant's artifacts (optionally of one provider), each with the
    /// configuration fields that reference it (`referencedBy`).
    func artifacts(tenant: String, providerId: String?) async throws(ConsoleError) -> JSONValue {
        try await withClient { client in
            var references: [String: [JSONValue]] = [:]
            for provider in try await client.providers() {
                guard let id = provider["providerId"]?.stringValue else { continue }
                let snapshot = try await client.providerConfiguration(tenant: tenant, providerId: id)
                for field in snapshot["fields"]?.arrayValue ?? [] {
                    for artifact in field["artifacts"]?.arrayValue ?? [] {
                        guard let artifactId = artifact["artifactId"]?.stringValue else { continue }
                        references[artifactId, default: []].append(
                            .object(JSONObject([("providerId", .string(id)), ("field", field["key"] ?? .null)])))
                    }
                }
            }
            var artifacts: [JSONValue] = []
            var cursor: String? = nil
            var pages = 0
            repeat {
                let page = try await client.call(
                    Methods.artifactsList,
                    ListArtifactsParams(tenant: tenant, providerId: providerId, limit: 1000, cursor: cursor)
                ).json
                for artifact in page["artifacts"]?.arrayValue ?? [] {
                    guard var meta = artifact.objectValue else { continue }
                    meta["referencedBy"] = .array(references[meta["artifactId"]?.stringValue ?? ""] ?? [])
                    artifacts.append(.object(meta))
                }
                cursor = page["nextCursor"]?.stringValue
                pages += 1
            } while cursor != nil && pages < Self.maxArtifactPages
            return .object(JSONObject([("artifacts", .array(artifacts)), ("truncated", .bool(cursor != nil))]))
        }
    }

    /// `artifacts.delete`.
    func delete(tenant: String, artifactId: String) async throws(ConsoleError) -> JSONValue {
        try await withClient { client in
            let freed = try await client.delete(tenant: tenant, artifactId: artifactId)
            return .object(
                JSONObject([
                    ("artifactId", .string(artifactId.lowercased())), ("deleted", true), ("blobFreed", .bool(freed)),
                ]))
        }
    }

    /// `artifacts.meta`, before a download.
    func meta(tenant: String, artifactId: String) async throws(ConsoleError) -> ArtifactInfo {
        try await withClient { try await $0.meta(tenant: tenant, artifactId: artifactId) }
    }

    /// Reads the artifact `meta` describes, handing each piece to `write`,
    /// and holds the last piece back until the whole content's SHA-256 is
    /// the artifact's: bytes that fail the check never complete the download.
    ///
    /// - Throws: ``CairnClientError/digestMismatch(expected:actual:)`` instead of the last piece.
    func download(_ meta: ArtifactInfo, write: ([UInt8]) async throws -> Void) async throws {
        try await CairnClient.withConnection(socketPath: socketPath) { client in
            var hasher = SHA256Hasher()
            var held: [UInt8]? = nil
            var offset: UInt64 = 0
            repeat {
                let piece = try await client.read(tenant: meta.tenantId, artifactId: meta.artifactId, offset: offset)
                guard piece.sha256 == meta.sha256, piece.offset == offset else {
                    throw CairnClientError.digestMismatch(expected: meta.sha256, actual: piece.sha256)
                }
                hasher.update(piece.bytes)
                offset += UInt64(piece.bytes.count)
                if let held { try await write(held) }
                held = piece.bytes
                if piece.eof || piece.bytes.isEmpty { break }
            } while true
            let actual = hasher.finalize().hex
            guard actual == meta.sha256, offset == meta.sizeBytes else {
                throw CairnClientError.digestMismatch(expected: meta.sha256, actual: actual)
            }
            if let held, !held.isEmpty { try await write(held) }
        }
    }

    // MARK: Uploads

    /// `uploads.begin` with the page's `{providerId, mimeType, sizeBytes, sha256?}`.
    func beginUpload(tenant: String, body: JSONValue) async throws(ConsoleError) -> JSONValue {
        guard let providerId = body["providerId"]?.stringValue else {
            throw ConsoleError(
                status: 400, code: "INVALID_PARAMS", "providerId is missing",
                data: JSONObject([("field", .string("providerId"))]))
        }
        let mimeType = body["mimeType"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "application/octet-stream"
        var size: UInt64? = nil
        if case .number(let number)? = body["sizeBytes"], let value = number.int64, value >= 0 { size = UInt64(value) }
        let sha256 = body["sha256"]?.stringValue
        return try await withClient { client in
            let id = try await client.beginUpload(
                tenant: tenant, providerId: providerId, mimeType: mimeType, sizeBytes: size, sha256: sha256)
            return .object(JSONObject([("uploadId", .string(id)), ("offset", 0)]))
        }
    }

    /// Where an upload stands (`uploads.status`), to resume after a dropped connection.
    func uploadStatus(_ uploadId: String) async throws(ConsoleError) -> JSONValue {
        try await withClient { client in
            let offset = try await client.uploadOffset(uploadId: uploadId)
            return .object(
                JSONObject([("uploadId", .string(uploadId.lowercased())), ("offset", .number(JSONNumber(offset)))]))
        }
    }

    /// Appends one posted piece at `offset`, in appends of at most the
    /// server's `maxChunkBytes`, through ``ChunkedUpload``.
    func append(_ uploadId: String, offset: UInt64, bytes: [UInt8]) async throws(ConsoleError) -> JSONValue {
        try await withClient { client in
            let chunk = try await client.maxChunkBytes()
            let end = offset + UInt64(bytes.count)
            let stored = try await ChunkedUpload(connection: client, uploadId: uploadId).send(from: offset) { at in
                guard at < end, !bytes.isEmpty else { return nil }
                let start = Int(at - offset)
                return Array(bytes[start..<min(bytes.count, start + chunk)])
            }
            return .object(
                JSONObject([("uploadId", .string(uploadId.lowercased())), ("offset", .number(JSONNumber(stored)))]))
        }
    }

    /// `uploads.commit`, with the digest the page computed when it could.
    func commit(_ uploadId: String, body: JSONValue) async throws(ConsoleError) -> JSONValue {
        let sha256 = body["sha256"]?.stringValue
        return try await withClient { client in
            try await client.commit(uploadId: uploadId, sha256: sha256).json
        }
    }

    /// `uploads.abort`.
    func abort(_ uploadId: String) async throws(ConsoleError) -> JSONValue {
        try await withClient { client in
            try await client.abort(uploadId: uploadId)
            return .object(JSONObject([("uploadId", .string(uploadId.lowercased())), ("aborted", true)]))
        }
    }

    // MARK: Usage, events, verification

    /// `tenants.usage`.
    func usage(tenant: String) async throws(ConsoleError) -> JSONValue {
        try await withClient { try await $0.call(Methods.tenantsUsage, TenantParams(tenant: tenant)).encoded }
    }

    /// A page of `events.list`, newest pages first being the page's business, and `events.verify`.
    func events(tenant: String, cursor: String?) async throws(ConsoleError) -> JSONValue {
        try await withClient { client in
            let page = try await client.call(
                Methods.eventsList, ListEventsParams(tenant: tenant, limit: 100, cursor: cursor)
            ).json
            let verification = try await client.call(Methods.eventsVerify, VerifyEventsParams(tenant: tenant)).json
            return .object(
                JSONObject([
                    ("events", page["events"] ?? .array([])), ("nextCursor", page["nextCursor"] ?? .null),
                    ("verification", verification),
                ]))
        }
    }

    /// One step of a scrub: `blobs.verify` from `cursor` with a budget of ``verifyBudget`` bytes.
    func verify(tenant: String, cursor: String?) async throws(ConsoleError) -> JSONValue {
        try await withClient { client in
            try await client.call(
                Methods.blobsVerify, VerifyBlobsParams(tenant: tenant, maxBytes: Self.verifyBudget, cursor: cursor)
            ).json
        }
    }
}
