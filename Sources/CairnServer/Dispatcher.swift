import CairnDigest
import CairnProtocol
import CairnProviders
import CairnStore
import Foundation
import Logging

/// What a request produces: a result, a result followed by raw bytes, or an error.
enum Reply: Sendable {
    case result(JSONValue)
    /// A result whose payload follows the response line as `dataLength` raw bytes.
    case binary(JSONValue, [UInt8])
    case error(RPCError)
}

/// Carries out one request for one peer: checks params and grants, calls
/// the store, shapes the result. Knows nothing about sockets or framing.
final class Dispatcher: Sendable {
    let store: ArtifactStore
    let policy: AccessPolicy
    let limits: ServerConfiguration.Limits
    let catalog: LoadedCatalog
    let logger: Logger
    static let version = "0.1.0"
    /// What `system.hello` lists in `capabilities`: `binaryAttachments`
    /// (the contract's raw bytes after a JSON line) and `xxh128` (Cairn's
    /// addition: `uploads.commit` takes an XXH3-128 transfer check).
    static let capabilities = ["binaryAttachments", "xxh128"]

    init(
        store: ArtifactStore, policy: AccessPolicy, limits: ServerConfiguration.Limits,
        catalog: LoadedCatalog = LoadedCatalog(catalog: ProviderCatalog(), problems: []), logger: Logger
    ) {
        self.store = store
        self.policy = policy
        self.limits = limits
        self.catalog = catalog
        self.logger = logger
    }

    /// The methods that may carry an attachment.
    static let attachmentMethods: Set<String> = ["artifacts.upload", "uploads.append"]

    func handle(_ request: RPCRequest, peer: Peer, attachment: [UInt8]?) async -> Reply {
        do {
            if attachment != nil, !Self.attachmentMethods.contains(request.method) {
                guard Self.methods.contains(request.method) else {
                    throw RPCError(.methodNotFound, "no method \(request.method)")
                }
                throw RPCError.invalidParams("dataLength", "\(request.method) takes no attachment")
            }
            return try await route(request, Params(request.params), peer: peer, attachment: attachment)
        } catch {
            return reply(for: error, method: request.method)
        }
    }

    /// Whether the connection may pipeline `request`: an `uploads.append`
    /// with its attachment, handed on with ``dispatch(_:peer:attachment:)``
    /// while the connection reads the next request.
    static func pipelines(_ request: RPCRequest, attachment: [UInt8]?) -> Bool {
        request.method == "uploads.append" && attachment != nil
    }

    /// The reply to `request` when it can be given at once, on the calling
    /// thread and without waiting for anything (a read that touches only
    /// the store's read transactions); `nil` when the request must go
    /// through ``dispatch(_:peer:attachment:)``.
    func answerNow(_ request: RPCRequest, peer: Peer, attachment: [UInt8]?) -> Reply? {
        nil
    }

    /// What ``dispatch(_:peer:attachment:)`` did with a request.
    enum Dispatched: Sendable {
        /// The reply, complete.
        case now(Reply)
        /// An `uploads.append` accepted by the store and queued for its
        /// writer; ``reply(to:)`` gives its reply once it is stored.
        case appending(AcceptedAppend)
    }

    /// An accepted `uploads.append`, waiting to be stored.
    struct AcceptedAppend: Sendable {
        let uploadId: UUID
        let pending: PendingAppend

        /// Waits until it is stored or has failed.
        func settled() async { _ = try? await pending.stored() }
    }

    /// Like ``handle(_:peer:attachment:)``, except that an `uploads.append`
    /// with its attachment returns once the store has accepted it, so that
    /// the connection can go on to the next request (usually the next
    /// append) while the writer stores it.
    func dispatch(_ request: RPCRequest, peer: Peer, attachment: [UInt8]?) async -> Dispatched {
        guard Self.pipelines(request, attachment: attachment) else {
            return .now(await handle(request, peer: peer, attachment: attachment))
        }
        do {
            return .appending(try await acceptAppend(Params(request.params), peer: peer, attachment: attachment))
        } catch {
            return .now(reply(for: error, method: request.method))
        }
    }

    /// The reply to an accepted append, once it is stored or has failed.
    func reply(to append: AcceptedAppend) async -> Reply {
        do {
            return appendReply(append.uploadId, offset: try await append.pending.stored())
        } catch {
            return reply(for: error, method: "uploads.append")
        }
    }

    private func acceptAppend(_ params: Params, peer: Peer, attachment: [UInt8]?) async throws -> AcceptedAppend {
        let actor = Actor(peer.name)
        let uploadId = try uuid(params, "uploadId")
        let offset = try params.integer("offset")
        _ = try authorizeUpload(uploadId, peer: peer, actor: actor)
        let bytes = try payload(params, attachment: attachment, limit: limits.maxChunkBytes)
        let pending = try await store.beginAppend(uploadId: uploadId, offset: offset, bytes: bytes, actor: actor)
        return AcceptedAppend(uploadId: uploadId, pending: pending)
    }

    private func appendReply(_ uploadId: UUID, offset: UInt64) -> Reply {
        .result(.object(JSONObject([("uploadId", Wire.id(uploadId)), ("offset", Wire.number(offset))])))
    }

    private func reply(for error: any Error, method: String) -> Reply {
        switch error {
        case let error as RPCError:
            return .error(error)
        case let error as StoreError:
            if error.code == .internalError {
                logger.error("request failed", metadata: ["method": "\(method)", "error": "\(error)"])
            }
            return .error(Wire.error(error))
        default:
            logger.error("request failed", metadata: ["method": "\(method)", "error": "\(error)"])
            return .error(RPCError(.internalError, "internal error"))
        }
    }

    static let methods: Set<String> = Set([
        "system.hello", "system.health", "artifacts.upload", "uploads.begin", "uploads.append", "uploads.status",
        "uploads.commit", "uploads.abort", "artifacts.list", "artifacts.meta", "artifacts.read", "artifacts.delete",
        "blobs.stat", "blobs.verify", "tenants.usage", "tenants.setQuota", "events.list",
    ]).union(providerMethods).union(auditMethods)

    private func route(_ request: RPCRequest, _ params: Params, peer: Peer, attachment: [UInt8]?) async throws -> Reply
    {
        let actor = Actor(peer.name)
        switch request.method {
        case "system.hello":
            return .result(hello(peer))
        case "system.health":
            return .result(try health(peer))

        case "artifacts.upload":
            let tenant = try authorize(params, peer, .admin)
            let providerId = try providerID(params)
            let mimeType = try params.string("mimeType")
            let expected = try digest(params, "sha256", required: false)
            let artifactId = try optionalUUID(params, "artifactId")
            let content = try payload(params, attachment: attachment, limit: limits.maxRequestBytes)
            let committed = try await store.stage(
                tenant: tenant, providerId: providerId, mimeType: mimeType, content: content,
                expectedSHA256: expected, artifactId: artifactId, actor: actor)
            return .result(Wire.committed(committed))

        case "uploads.begin":
            let tenant = try authorize(params, peer, .admin)
            let providerId = try providerID(params)
            let mimeType = try params.string("mimeType")
            let size = try params.optionalInteger("sizeBytes")
            let expected = try digest(params, "sha256", required: false)
            let status = try await store.beginUpload(
                tenant: tenant, providerId: providerId, mimeType: mimeType, declaredSize: size,
                expectedSHA256: expected, actor: actor)
            return .result(.object(JSONObject([("uploadId", Wire.id(status.uploadId)), ("offset", 0)])))

        case "uploads.append":
            let accepted = try await acceptAppend(params, peer: peer, attachment: attachment)
            return appendReply(accepted.uploadId, offset: try await accepted.pending.stored())

        case "uploads.status":
            let uploadId = try uuid(params, "uploadId")
            return .result(Wire.upload(try authorizeUpload(uploadId, peer: peer, actor: actor)))

        case "uploads.commit":
            let uploadId = try uuid(params, "uploadId")
            let expected = try digest(params, "sha256", required: false)
            let checksum = try xxh128(params, "xxh128")
            let artifactId = try optionalUUID(params, "artifactId")
            _ = try authorizeUpload(uploadId, peer: peer, actor: actor)
            let committed = try await store.commitUpload(
                uploadId: uploadId, expectedSHA256: expected, expectedXXH128: checksum, artifactId: artifactId,
                actor: actor)
            return .result(Wire.committed(committed))

        case "uploads.abort":
            let uploadId = try uuid(params, "uploadId")
            _ = try authorizeUpload(uploadId, peer: peer, actor: actor)
            try await store.abortUpload(uploadId: uploadId, actor: actor)
            return .result(.object(JSONObject([("uploadId", Wire.id(uploadId)), ("aborted", true)])))

        case "artifacts.list":
            let tenant = try authorize(params, peer, .read)
            let providerId =
                try params.has("providerId") && params.object["providerId"] != .null ? providerID(params) : nil
            let limit = try params.optionalInteger("limit") ?? 100
            guard (1...UInt64(ArtifactStore.maxPageSize)).contains(limit) else {
                throw RPCError.invalidParams("limit", "limit must be between 1 and \(ArtifactStore.maxPageSize)")
            }
            let page = try store.list(
                tenant: tenant, providerId: providerId, limit: Int(limit), cursor: try params.optionalString("cursor"))
            return .result(
                .object(
                    JSONObject([
                        ("artifacts", .array(page.artifacts.map { .object(Wire.meta($0)) })),
                        ("nextCursor", page.nextCursor.map(JSONValue.string) ?? .null),
                    ])))

        case "artifacts.meta":
            let tenant = try authorize(params, peer, .read)
            return .result(
                .object(Wire.meta(try store.meta(tenant: tenant, artifactId: try uuid(params, "artifactId")))))

        case "artifacts.read":
            let tenant = try authorize(params, peer, .read)
            let artifactId = try uuid(params, "artifactId")
            let offset = try params.optionalInteger("offset") ?? 0
            let length = try params.optionalInteger("length") ?? UInt64(limits.maxChunkBytes)
            guard length <= UInt64(limits.maxChunkBytes) else {
                throw RPCError(
                    .tooLarge, "length is over maxChunkBytes",
                    data: JSONObject([("limit", Wire.number(limits.maxChunkBytes))]))
            }
            let binary = try params.optionalBool("binary") ?? false
            let range = try store.read(tenant: tenant, artifactId: artifactId, offset: offset, length: Int(length))
            var result = JSONObject()
            if !binary { result["data"] = .string(Base64.encode(range.bytes)) }
            result["offset"] = Wire.number(range.offset)
            result["length"] = Wire.number(range.bytes.count)
            result["eof"] = .bool(range.eof)
            result["sha256"] = .string(range.sha256.hex)
            if binary {
                result["dataLength"] = Wire.number(range.bytes.count)
                return .binary(.object(result), range.bytes)
            }
            return .result(.object(result))

        case "artifacts.delete":
            let tenant = try authorize(params, peer, .admin)
            let artifactId = try uuid(params, "artifactId")
            let freed = try await store.delete(tenant: tenant, artifactId: artifactId, actor: actor)
            return .result(
                .object(
                    JSONObject([("artifactId", Wire.id(artifactId)), ("deleted", true), ("blobFreed", .bool(freed))])))

        case "blobs.stat":
            let tenant = try authorize(params, peer, .read)
            let stat = try store.stat(tenant: tenant, sha256: try digest(params, "sha256", required: true)!)
            return .result(
                .object(
                    JSONObject([
                        ("sha256", .string(stat.sha256.hex)), ("sizeBytes", Wire.number(stat.sizeBytes)),
                        ("artifactIds", .array(stat.artifactIds.map(Wire.id))), ("storedAt", Wire.time(stat.storedAt)),
                        ("references", references(to: stat.artifactIds, tenant: tenant)),
                    ])))

        case "blobs.verify":
            let tenant = try authorize(params, peer, .admin)
            let maxBytes = min(try params.optionalInteger("maxBytes") ?? (256 << 20), limits.maxVerifyBytesPerCall)
            let cursor = try params.optionalString("cursor")
            let page =
                try digest(params, "sha256", required: false).map { try store.verifyBlob(tenant: tenant, sha256: $0) }
                ?? store.verifyBlobs(tenant: tenant, cursor: cursor, maxBytes: maxBytes)
            let corrupt: [JSONValue] = try page.corrupt.map { try corruptBlob($0, tenant: tenant) }
            return .result(
                .object(
                    JSONObject([
                        ("checkedBlobs", Wire.number(page.checkedBlobs)),
                        ("checkedBytes", Wire.number(page.checkedBytes)),
                        ("corrupt", .array(corrupt)), ("nextCursor", page.nextCursor.map(JSONValue.string) ?? .null),
                    ])))

        case "tenants.usage":
            let tenant = try authorize(params, peer, .read)
            return .result(Wire.usage(try store.usage(tenant: tenant)))

        case "tenants.setQuota":
            let tenant = try authorize(params, peer, .admin)
            func change(_ key: String) throws -> QuotaChange {
                switch try params.nullableInteger(key) {
                case .absent: .unchanged
                case .null: .remove
                case .value(let limit): .set(limit)
                }
            }
            let usage = try await store.setQuota(
                tenant: tenant, maxBytes: try change("maxBytes"), maxArtifacts: try change("maxArtifacts"), actor: actor
            )
            return .result(Wire.usage(usage))

        case "events.list":
            let tenant = try authorize(params, peer, .read)
            let limit = try params.optionalInteger("limit") ?? 100
            guard (1...UInt64(ArtifactStore.maxPageSize)).contains(limit) else {
                throw RPCError.invalidParams("limit", "limit must be between 1 and \(ArtifactStore.maxPageSize)")
            }
            let page = try store.events(tenant: tenant, limit: Int(limit), cursor: try params.optionalString("cursor"))
            return .result(
                .object(
                    JSONObject([
                        ("events", .array(page.events.map(Wire.event))),
                        ("nextCursor", page.nextCursor.map(JSONValue.string) ?? .null),
                    ])))

        case _ where Self.providerMethods.contains(request.method):
            // providers.list, providers.config.get/set, providers.readiness: Dispatcher+Providers.swift.
            return try await routeProviders(request.method, params, peer: peer, actor: actor)

        case _ where Self.auditMethods.contains(request.method):
            return try await routeAudit(request.method, params, peer: peer, actor: actor)

        default:
            throw RPCError(.methodNotFound, "no method \(request.method)")
        }
    }

    // MARK: - System

    private func hello(_ peer: Peer) -> JSONValue {
        let grants: [JSONValue] = policy.grants(of: peer).map { grant in
            .object(
                JSONObject([
                    ("tenant", .string(grant.tenant)), ("scopes", .array(grant.scopes.map { .string($0.rawValue) })),
                ]))
        }
        return .object(
            JSONObject([
                ("server", "cairn"), ("version", .string(Self.version)), ("protocol", 1),
                ("capabilities", .array(Self.capabilities.map { .string($0) })),
                (
                    "limits",
                    .object(
                        JSONObject([
                            ("maxRequestBytes", Wire.number(limits.maxRequestBytes)),
                            ("maxChunkBytes", Wire.number(limits.maxChunkBytes)),
                            ("maxArtifactBytes", Wire.number(limits.maxArtifactBytes)),
                        ]))
                ),
                (
                    "peer",
                    .object(
                        JSONObject([("uid", Wire.number(UInt64(peer.uid))), ("gid", Wire.number(UInt64(peer.gid)))]))
                ),
                ("grants", .array(grants)),
            ]))
    }

    /// The server's health. Its figures (and the problems, which quote
    /// them) describe every tenant together, so they go only to a peer with
    /// the admin scope on every tenant; any other peer gets the status and
    /// the layout version alone.
    private func health(_ peer: Peer) throws -> JSONValue {
        let health = try store.health()
        let admin = policy.allowsEverywhere(peer, .admin)
        var problems: [JSONValue] = []
        if health.diskFreeBytes < 1 << 30 {
            problems.append(.string("low disk space: \(health.diskFreeBytes) bytes free"))
        }
        if health.usedBytes * 10 > health.sizeLimitBytes * 9 {
            problems.append("the store uses over 90% of its size limit")
        }
        problems += catalog.problems.map(JSONValue.string)
        guard admin else {
            return .object(
                JSONObject([
                    ("status", problems.isEmpty ? "ok" : "degraded"),
                    ("layoutVersion", Wire.number(UInt64(health.layoutVersion))),
                ]))
        }
        return .object(
            JSONObject([
                ("status", problems.isEmpty ? "ok" : "degraded"),
                ("layoutVersion", Wire.number(UInt64(health.layoutVersion))),
                (
                    "store",
                    .object(
                        JSONObject([
                            ("usedBytes", Wire.number(health.usedBytes)),
                            ("sizeLimitBytes", Wire.number(health.sizeLimitBytes)),
                            ("diskFreeBytes", Wire.number(health.diskFreeBytes)),
                            ("headroomBytes", Wire.number(health.headroomBytes)),
                            ("openUploads", Wire.number(health.openUploads)),
                            ("pendingReclaim", Wire.number(health.pendingReclaim)),
                        ]))
                ),
                ("problems", .array(problems)),
            ]))
    }

    // MARK: - Params and grants

    /// Validates `tenant` and checks the peer's grant for it.
    func authorize(_ params: Params, _ peer: Peer, _ scope: Scope) throws -> TenantID {
        let name = try params.string("tenant")
        guard let tenant = TenantID(name) else {
            throw RPCError.invalidParams("tenant", "tenant must match ^[a-z0-9][a-z0-9._-]{0,62}$")
        }
        guard policy.allows(peer, scope, on: tenant.rawValue) else {
            throw RPCError(
                .forbidden, "no \(scope.rawValue) grant on tenant \(tenant.rawValue)",
                data: JSONObject([("tenant", .string(tenant.rawValue)), ("scope", .string(scope.rawValue))]))
        }
        return tenant
    }

    /// Looks up the peer's own upload and checks its admin grant on the upload's tenant.
    private func authorizeUpload(_ uploadId: UUID, peer: Peer, actor: Actor) throws -> UploadStatus {
        let status = try store.uploadStatus(uploadId: uploadId, actor: actor)
        guard policy.allows(peer, .admin, on: status.tenant.rawValue) else {
            throw RPCError(
                .forbidden, "no admin grant on tenant \(status.tenant.rawValue)",
                data: JSONObject([("tenant", .string(status.tenant.rawValue)), ("scope", "admin")]))
        }
        return status
    }

    func providerID(_ params: Params) throws -> ProviderID {
        guard let id = ProviderID(try params.string("providerId")) else {
            throw RPCError.invalidParams("providerId", "providerId must match ^[a-z0-9][a-z0-9._:-]{0,127}$")
        }
        return id
    }

    /// A corrupt blob of a scrub, with every provider reference to the artifacts it affects.
    private func corruptBlob(_ corrupt: VerificationPage.Corrupt, tenant: TenantID) throws -> JSONValue {
        .object(
            JSONObject([
                ("sha256", .string(corrupt.sha256.hex)), ("artifactIds", .array(corrupt.artifactIds.map(Wire.id))),
                ("references", references(to: corrupt.artifactIds, tenant: tenant)),
            ]))
    }

    /// `[{artifactId, providerId, field}]`: every configuration field of the tenant that references one of the artifacts.
    private func references(to artifactIds: [UUID], tenant: TenantID) -> JSONValue {
        var references: [JSONValue] = []
        for artifactId in artifactIds {
            for reference in (try? store.references(tenant: tenant, artifactId: artifactId)) ?? [] {
                references.append(
                    .object(
                        JSONObject([
                            ("artifactId", Wire.id(artifactId)), ("providerId", .string(reference.providerId)),
                            ("field", .string(reference.field)),
                        ])))
            }
        }
        return .array(references)
    }

    private func optionalUUID(_ params: Params, _ key: String) throws -> UUID? {
        try params.optionalString(key) == nil ? nil : try uuid(params, key)
    }

    func uuid(_ params: Params, _ key: String) throws -> UUID {
        let text = try params.string(key)
        guard text.utf8.count == 36, let id = UUID(uuidString: text) else {
            throw RPCError.invalidParams(key, "\(key) must be a UUID")
        }
        return id
    }

    private func digest(_ params: Params, _ key: String, required: Bool) throws -> SHA256Digest? {
        guard let text = required ? try params.string(key) : try params.optionalString(key) else { return nil }
        guard let digest = SHA256Digest(parsing: text) else {
            throw RPCError.invalidParams(key, "\(key) must be 64 hex digits, optionally prefixed with sha256:")
        }
        return digest
    }

    private func xxh128(_ params: Params, _ key: String) throws -> XXH3Hash128? {
        guard let text = try params.optionalString(key) else { return nil }
        guard let checksum = XXH3Hash128(hex: text) else {
            throw RPCError.invalidParams(key, "\(key) must be 32 hex digits (an XXH3-128, as xxhsum -H2 prints it)")
        }
        return checksum
    }

    /// The bytes of an upload: base64 `data`, or the attachment announced by `dataLength`.
    private func payload(_ params: Params, attachment: [UInt8]?, limit: Int) throws -> [UInt8] {
        if let attachment {
            if params.has("data") { throw RPCError.invalidParams("data", "give data or dataLength, not both") }
            guard attachment.count <= limit else {
                throw RPCError(
                    .tooLarge, "the payload is over the limit", data: JSONObject([("limit", Wire.number(limit))]))
            }
            return attachment
        }
        if params.has("dataLength") {
            throw RPCError.invalidParams("dataLength", "dataLength must be a non-negative integer")
        }
        let bytes = try params.base64("data")
        guard bytes.count <= limit else {
            throw RPCError(
                .tooLarge, "the payload is over the limit", data: JSONObject([("limit", Wire.number(limit))]))
        }
        return bytes
    }
}
