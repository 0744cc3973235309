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

/// Carries out one request for one peer: checks the grant, decodes the
/// typed params of the method's definition in ``Methods``, runs its
/// handler, encodes the result. Knows nothing about sockets or framing.
final class Dispatcher: Sendable {
    let store: ArtifactStore
    let policy: AccessPolicy
    let limits: ServerConfiguration.Limits
    let catalog: LoadedCatalog
    let logger: Logger
    /// What the server measures (requests, connections, the store's figures).
    let metrics = ServerMetrics()
    static let version = "0.1.0"
    /// What `system.hello` lists in `capabilities`: `binaryAttachments`
    /// (the contract's raw bytes after a JSON line) and `xxh128` (Cairn's
    /// addition: `uploads.commit` takes an XXH3-128 transfer check).
    static let capabilities = ["binaryAttachments", "xxh128"]
    /// What decoding params needs: the limits and the name rules.
    let context: ParamsContext
    /// The whole-store snapshots of `backup.*`.
    let snapshots: BackupSnapshots

    /// - Parameter snapshots: Where `backup.begin` keeps its snapshots;
    ///   by default `<store directory>.snapshots`, with no configuration
    ///   file copied (the server passes `<data-dir>/snapshots` and its files).
    init(
        store: ArtifactStore, policy: AccessPolicy, limits: ServerConfiguration.Limits,
        catalog: LoadedCatalog = LoadedCatalog(catalog: ProviderCatalog(), problems: []),
        snapshots: BackupSnapshots? = nil, logger: Logger
    ) {
        self.snapshots = snapshots ?? BackupSnapshots(directory: store.directory + ".snapshots")
        self.store = store
        self.policy = policy
        self.limits = limits
        self.catalog = catalog
        self.logger = logger
        let known = catalog.catalog
        context = ParamsContext(
            maxChunkBytes: limits.maxChunkBytes, maxPageSize: ArtifactStore.maxPageSize,
            isProviderID: { ProviderID($0) != nil }, knowsProvider: { known.definition($0) != nil })
        precondition(Set(Self.handlers.entries.keys) == Set(Methods.names), "a method of the table has no handler")
    }

    func handle(_ request: RPCRequest, peer: Peer, attachment: [UInt8]?) async -> Reply {
        do {
            let (entry, call) = try prepare(request, peer: peer, attachment: attachment)
            switch entry.run {
            case .now(let run): return try run(self, call)
            case .later(let run): return try await run(self, call)
            }
        } catch {
            return reply(for: error, method: request.method)
        }
    }

    /// Looks the method up and checks what comes before its params: an
    /// attachment it does not take, then (for a tenant method) the tenant
    /// name and the peer's grant.
    private func prepare(_ request: RPCRequest, peer: Peer, attachment: [UInt8]?) throws -> (
        MethodHandlers.Entry, Call
    ) {
        guard let entry = Self.handlers[request.method] else {
            throw RPCError(.methodNotFound, "no method \(request.method)")
        }
        if attachment != nil, !entry.takesAttachment {
            throw RPCError.invalidParams("dataLength", "\(request.method) takes no attachment")
        }
        let params = Params(request.params)
        var tenant: TenantID? = nil
        switch entry.access {
        case .tenant(let scope): tenant = try authorize(params, peer, scope)
        case .tenantEither(let scope, let alternative): tenant = try authorize(params, peer, scope, or: alternative)
        case .everywhere(let scope): try authorizeEverywhere(peer, scope)
        case .open, .upload: break
        }
        return (
            entry, Call(peer: peer, actor: Actor(peer.name), params: params, attachment: attachment, tenant: tenant)
        )
    }

    /// Whether the connection may pipeline `request`: an `uploads.append`
    /// with its attachment, handed on with ``dispatch(_:peer:attachment:)``
    /// while the connection reads the next request.
    static func pipelines(_ request: RPCRequest, attachment: [UInt8]?) -> Bool {
        request.method == Methods.uploadsAppend.name && attachment != nil
    }

    /// The most content bytes (an attachment, or a `data` param's base64
    /// text) of a request that ``runsOnConnection(_:attachment:)``: hashing
    /// them takes the event loop some tens of microseconds.
    static let maxContentOnConnection = 64 << 10

    /// Whether the connection may carry out `request` on its own event loop
    /// rather than on the global executor: a method registered as one that
    /// writes, with at most ``maxContentOnConnection`` bytes of content. Its
    /// wait for the store's writer then resumes on the connection's thread,
    /// with no hop through a pool thread either way.
    func runsOnConnection(_ request: RPCRequest, attachment: [UInt8]?) -> Bool {
        guard Self.handlers[request.method]?.waitsForWriter == true else { return false }
        if let attachment { return attachment.count <= Self.maxContentOnConnection }
        guard case .string(let data)? = request.params["data"] else { return true }
        return data.utf8.count <= Self.maxContentOnConnection
    }

    /// The reply to `request` when it can be given at once, on the calling
    /// thread and without waiting for anything (a read that touches only
    /// the store's read transactions); `nil` when the request must go
    /// through ``dispatch(_:peer:attachment:)``.
    func answerNow(_ request: RPCRequest, peer: Peer, attachment: [UInt8]?) -> Reply? {
        // An unknown method's answer needs nothing either.
        guard let entry = Self.handlers[request.method] else {
            return .error(RPCError(.methodNotFound, "no method \(request.method)"))
        }
        guard case .now(let run) = entry.run else { return nil }
        do {
            let (_, call) = try prepare(request, peer: peer, attachment: attachment)
            return try run(self, call)
        } catch {
            return reply(for: error, method: request.method)
        }
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
            let params = try AppendParams(decoding: Params(request.params), context: context)
            let call = Call(
                peer: peer, actor: Actor(peer.name), params: Params(request.params), attachment: attachment,
                tenant: nil)
            return .appending(try await acceptAppend(params, call))
        } catch {
            return .now(reply(for: error, method: request.method))
        }
    }

    /// The reply to an accepted append, once it is stored or has failed.
    func reply(to append: AcceptedAppend) async -> Reply {
        do {
            let offset = try await append.pending.stored()
            return .result(UploadStateResult(uploadId: append.uploadId, offset: offset).encoded)
        } catch {
            return reply(for: error, method: Methods.uploadsAppend.name)
        }
    }

    /// Checks the upload and has the store accept the append's bytes.
    func acceptAppend(_ params: AppendParams, _ call: Call) async throws -> AcceptedAppend {
        _ = try authorizeUpload(params.uploadId, peer: call.peer, actor: call.actor)
        let bytes = try payload(call.params, attachment: call.attachment, limit: limits.maxChunkBytes)
        let pending = try await store.beginAppend(
            uploadId: params.uploadId, offset: params.offset, bytes: bytes, actor: call.actor)
        return AcceptedAppend(uploadId: params.uploadId, pending: pending)
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

    /// The handler of every method of ``Methods``: quick reads answer now,
    /// on the caller's thread; writes, and reads that may take long (a
    /// scrub, a manifest, a readiness check that re-reads every referenced
    /// artifact), later. Writes that do little besides waiting for the
    /// writer are registered as such (`writes:`); an upload's append and
    /// commit are not, since either may first re-read the whole upload to
    /// rebuild its digest after a restart, nor are imports and backups.
    static let handlers: MethodHandlers = {
        var handlers = MethodHandlers()
        handlers.on(Methods.systemHello, now: Dispatcher.systemHello)
        handlers.on(Methods.systemHealth, now: Dispatcher.systemHealth)
        handlers.on(Methods.systemMetrics, later: Dispatcher.systemMetrics)
        handlers.on(Methods.artifactsUpload, writes: Dispatcher.artifactsUpload)
        handlers.on(Methods.artifactsList, now: Dispatcher.artifactsList)
        handlers.on(Methods.artifactsMeta, now: Dispatcher.artifactsMeta)
        handlers.on(Methods.artifactsRead, now: Dispatcher.artifactsRead)
        handlers.on(Methods.artifactsDelete, writes: Dispatcher.artifactsDelete)
        handlers.on(Methods.artifactsImport, later: Dispatcher.artifactsImport)
        handlers.on(Methods.artifactsImportBatch, later: Dispatcher.artifactsImportBatch)
        handlers.on(Methods.uploadsBegin, writes: Dispatcher.uploadsBegin)
        handlers.on(Methods.uploadsAppend, later: Dispatcher.uploadsAppend)
        handlers.on(Methods.uploadsStatus, now: Dispatcher.uploadsStatus)
        handlers.on(Methods.uploadsCommit, later: Dispatcher.uploadsCommit)
        handlers.on(Methods.uploadsAbort, writes: Dispatcher.uploadsAbort)
        handlers.on(Methods.blobsStat, now: Dispatcher.blobsStat)
        handlers.on(Methods.blobsVerify, later: Dispatcher.blobsVerify)
        handlers.on(Methods.tenantsList, now: Dispatcher.tenantsList)
        handlers.on(Methods.tenantsUsage, now: Dispatcher.tenantsUsage)
        handlers.on(Methods.tenantsSetQuota, writes: Dispatcher.tenantsSetQuota)
        handlers.on(Methods.tenantsManifest, later: Dispatcher.tenantsManifest)
        handlers.on(Methods.eventsList, now: Dispatcher.eventsList)
        handlers.on(Methods.eventsVerify, later: Dispatcher.eventsVerify)
        handlers.on(Methods.providersList, now: Dispatcher.providersList)
        handlers.on(Methods.providersConfigGet, later: Dispatcher.providersConfigGet)
        handlers.on(Methods.providersConfigSet, writes: Dispatcher.providersConfigSet)
        handlers.on(Methods.providersReadiness, later: Dispatcher.providersReadiness)
        handlers.on(Methods.backupBegin, later: Dispatcher.backupBegin)
        handlers.on(Methods.backupRead, later: Dispatcher.backupRead)
        handlers.on(Methods.backupReadContent, later: Dispatcher.backupReadContent)
        handlers.on(Methods.backupEnd, later: Dispatcher.backupEnd)
        return handlers
    }()

    // MARK: - Handlers

    func systemHello(_ params: NoParams, _ call: Call) throws -> JSONDocument {
        JSONDocument(hello(call.peer))
    }

    func systemHealth(_ params: NoParams, _ call: Call) throws -> JSONDocument {
        JSONDocument(try health(call.peer))
    }

    func artifactsUpload(_ params: UploadArtifactParams, _ call: Call) async throws -> ArtifactMetaResult {
        let content = try payload(call.params, attachment: call.attachment, limit: limits.maxRequestBytes)
        let committed = try await store.stage(
            tenant: call.grantedTenant, providerId: ProviderID(params.providerId)!, mimeType: params.mimeType,
            content: content, expectedSHA256: params.sha256, artifactId: params.artifactId, actor: call.actor)
        return Wire.meta(committed.meta, deduplicated: committed.deduplicated)
    }

    func artifactsList(_ params: ListArtifactsParams, _ call: Call) throws -> JSONDocument {
        let page = try store.list(
            tenant: call.grantedTenant, providerId: params.providerId.flatMap(ProviderID.init), limit: params.limit,
            cursor: params.cursor)
        return JSONDocument(
            .object(
                JSONObject([
                    ("artifacts", .array(page.artifacts.map { Wire.meta($0).encoded })),
                    ("nextCursor", page.nextCursor.map(JSONValue.string) ?? .null),
                ])))
    }

    func artifactsMeta(_ params: ArtifactParams, _ call: Call) throws -> ArtifactMetaResult {
        Wire.meta(try store.meta(tenant: call.grantedTenant, artifactId: params.artifactId))
    }

    func artifactsRead(_ params: ReadParams, _ call: Call) throws -> ReadResult {
        let range = try store.read(
            tenant: call.grantedTenant, artifactId: params.artifactId, offset: params.offset,
            length: Int(params.length ?? UInt64(limits.maxChunkBytes)))
        return ReadResult(
            bytes: range.bytes, offset: range.offset, eof: range.eof, sha256: range.sha256, binary: params.binary)
    }

    func artifactsDelete(_ params: ArtifactParams, _ call: Call) async throws -> ArtifactDeletedResult {
        let freed = try await store.delete(tenant: call.grantedTenant, artifactId: params.artifactId, actor: call.actor)
        return ArtifactDeletedResult(artifactId: params.artifactId, blobFreed: freed)
    }

    func blobsStat(_ params: BlobParams, _ call: Call) throws -> JSONDocument {
        let tenant = call.grantedTenant
        let stat = try store.stat(tenant: tenant, sha256: params.sha256)
        return JSONDocument(
            .object(
                JSONObject([
                    ("sha256", .string(stat.sha256.hex)), ("sizeBytes", Wire.number(stat.sizeBytes)),
                    ("artifactIds", .array(stat.artifactIds.map(Wire.id))), ("storedAt", Wire.time(stat.storedAt)),
                    ("references", references(to: stat.artifactIds, tenant: tenant)),
                ])))
    }

    /// `blobs.verify`. A scrub reads up to gigabytes: never on the connection's thread.
    func blobsVerify(_ params: VerifyBlobsParams, _ call: Call) async throws -> JSONDocument {
        let tenant = call.grantedTenant
        let maxBytes = min(params.maxBytes ?? (256 << 20), limits.maxVerifyBytesPerCall)
        let page =
            try params.sha256.map { try store.verifyBlob(tenant: tenant, sha256: $0) }
            ?? store.verifyBlobs(tenant: tenant, cursor: params.cursor, maxBytes: maxBytes)
        let corrupt: [JSONValue] = try page.corrupt.map { try corruptBlob($0, tenant: tenant) }
        return JSONDocument(
            .object(
                JSONObject([
                    ("checkedBlobs", Wire.number(page.checkedBlobs)),
                    ("checkedBytes", Wire.number(page.checkedBytes)),
                    ("corrupt", .array(corrupt)), ("nextCursor", page.nextCursor.map(JSONValue.string) ?? .null),
                ])))
    }

    func uploadsBegin(_ params: BeginUploadParams, _ call: Call) async throws -> UploadStateResult {
        let status = try await store.beginUpload(
            tenant: call.grantedTenant, providerId: ProviderID(params.providerId)!, mimeType: params.mimeType,
            declaredSize: params.sizeBytes, expectedSHA256: params.sha256, actor: call.actor)
        return UploadStateResult(uploadId: status.uploadId, offset: 0)
    }

    func uploadsAppend(_ params: AppendParams, _ call: Call) async throws -> UploadStateResult {
        let accepted = try await acceptAppend(params, call)
        return UploadStateResult(uploadId: accepted.uploadId, offset: try await accepted.pending.stored())
    }

    func uploadsStatus(_ params: UploadParams, _ call: Call) throws -> UploadStateResult {
        Wire.upload(try authorizeUpload(params.uploadId, peer: call.peer, actor: call.actor))
    }

    func uploadsCommit(_ params: CommitUploadParams, _ call: Call) async throws -> ArtifactMetaResult {
        _ = try authorizeUpload(params.uploadId, peer: call.peer, actor: call.actor)
        let committed = try await store.commitUpload(
            uploadId: params.uploadId, expectedSHA256: params.sha256, expectedXXH128: params.xxh128,
            artifactId: params.artifactId, actor: call.actor)
        return Wire.meta(committed.meta, deduplicated: committed.deduplicated)
    }

    func uploadsAbort(_ params: UploadParams, _ call: Call) async throws -> UploadAbortedResult {
        _ = try authorizeUpload(params.uploadId, peer: call.peer, actor: call.actor)
        try await store.abortUpload(uploadId: params.uploadId, actor: call.actor)
        return UploadAbortedResult(uploadId: params.uploadId)
    }

    func tenantsUsage(_ params: TenantParams, _ call: Call) throws -> TenantUsageResult {
        Wire.usage(try store.usage(tenant: call.grantedTenant))
    }

    func tenantsSetQuota(_ params: SetQuotaParams, _ call: Call) async throws -> TenantUsageResult {
        func change(_ value: Nullable<UInt64>) -> QuotaChange {
            switch value {
            case .absent: .unchanged
            case .null: .remove
            case .value(let limit): .set(limit)
            }
        }
        return Wire.usage(
            try await store.setQuota(
                tenant: call.grantedTenant, maxBytes: change(params.maxBytes),
                maxArtifacts: change(params.maxArtifacts), actor: call.actor))
    }

    func eventsList(_ params: ListEventsParams, _ call: Call) throws -> JSONDocument {
        let page = try store.events(tenant: call.grantedTenant, limit: params.limit, cursor: params.cursor)
        return JSONDocument(
            .object(
                JSONObject([
                    ("events", .array(page.events.map(Wire.event))),
                    ("nextCursor", page.nextCursor.map(JSONValue.string) ?? .null),
                ])))
    }

    // MARK: - System

    func hello(_ peer: Peer) -> JSONValue {
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
    func health(_ peer: Peer) throws -> JSONValue {
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

    /// Validates `tenant` and checks the peer's grant for it: `scope`, or
    /// `alternative` when given (a refusal names `scope`).
    func authorize(_ params: Params, _ peer: Peer, _ scope: Scope, or alternative: Scope? = nil) throws -> TenantID {
        let name = try params.string("tenant")
        guard let tenant = TenantID(name) else {
            throw RPCError.invalidParams("tenant", "tenant must match ^[a-z0-9][a-z0-9._-]{0,62}$")
        }
        guard
            policy.allows(peer, scope, on: tenant.rawValue)
                || alternative.map({ policy.allows(peer, $0, on: tenant.rawValue) }) == true
        else {
            throw RPCError(
                .forbidden, "no \(scope.rawValue) grant on tenant \(tenant.rawValue)",
                data: JSONObject([("tenant", .string(tenant.rawValue)), ("scope", .string(scope.rawValue))]))
        }
        return tenant
    }

    /// Checks the peer's grant of `scope` on every tenant (`*`).
    func authorizeEverywhere(_ peer: Peer, _ scope: Scope) throws {
        guard policy.allowsEverywhere(peer, scope) else {
            throw RPCError(
                .forbidden, "no \(scope.rawValue) grant on every tenant (\"*\")",
                data: JSONObject([("tenant", "*"), ("scope", .string(scope.rawValue))]))
        }
    }

    /// Looks up the peer's own upload and checks its admin grant on the upload's tenant.
    func authorizeUpload(_ uploadId: UUID, peer: Peer, actor: Actor) throws -> UploadStatus {
        let status = try store.uploadStatus(uploadId: uploadId, actor: actor)
        guard policy.allows(peer, .admin, on: status.tenant.rawValue) else {
            throw RPCError(
                .forbidden, "no admin grant on tenant \(status.tenant.rawValue)",
                data: JSONObject([("tenant", .string(status.tenant.rawValue)), ("scope", "admin")]))
        }
        return status
    }

    /// A corrupt blob of a scrub, with every provider reference to the artifacts it affects.
    func corruptBlob(_ corrupt: VerificationPage.Corrupt, tenant: TenantID) throws -> JSONValue {
        .object(
            JSONObject([
                ("sha256", .string(corrupt.sha256.hex)), ("artifactIds", .array(corrupt.artifactIds.map(Wire.id))),
                ("references", references(to: corrupt.artifactIds, tenant: tenant)),
            ]))
    }

    /// `[{artifactId, providerId, field}]`: every configuration field of the tenant that references one of the artifacts.
    func references(to artifactIds: [UUID], tenant: TenantID) -> JSONValue {
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

    /// The bytes of an upload: base64 `data`, or the attachment announced by `dataLength`.
    func payload(_ params: Params, attachment: [UInt8]?, limit: Int) throws -> [UInt8] {
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
