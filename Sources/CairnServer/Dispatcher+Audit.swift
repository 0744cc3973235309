import CairnDigest
import CairnProtocol
import CairnStore
import Foundation

/// The auditing methods: manifests, the event chain, and imports that keep artifact ids.
extension Dispatcher {
    func tenantsList(_ params: NoParams, _ call: Call) throws -> JSONDocument {
        // Only tenants the caller may read or back up: a name it has no grant on is never shown.
        let tenants = try store.tenants().filter {
            policy.allows(call.peer, .read, on: $0.rawValue) || policy.allows(call.peer, .backup, on: $0.rawValue)
        }
        return JSONDocument(.object(JSONObject([("tenants", .array(tenants.map { .string($0.rawValue) }))])))
    }

    /// `tenants.manifest`. A manifest lists every artifact of the tenant: not on the connection's thread.
    func tenantsManifest(_ params: TenantParams, _ call: Call) async throws -> JSONDocument {
        JSONDocument(ManifestCoding.encode(try store.manifest(tenant: call.grantedTenant)))
    }

    func eventsVerify(_ params: VerifyEventsParams, _ call: Call) async throws -> JSONDocument {
        let tenant = call.grantedTenant
        let anchor = params.anchor.map { EventChainHead(seq: $0.seq, sha256: $0.sha256) }
        let report = try store.verifyEventChain(tenant: tenant, anchor: anchor)
        let problems: [JSONValue] = report.problems.map {
            .object(JSONObject([("seq", Wire.number($0.seq)), ("message", .string($0.message))]))
        }
        return JSONDocument(
            .object(
                JSONObject([
                    ("tenant", .string(tenant.rawValue)), ("checkedEvents", Wire.number(report.checkedEvents)),
                    (
                        "head",
                        .object(
                            JSONObject([
                                ("seq", Wire.number(report.head.seq)),
                                ("sha256", report.head.sha256.map { .string($0.hex) } ?? .null),
                            ]))
                    ),
                    ("intact", .bool(report.problems.isEmpty)), ("problems", .array(problems)),
                ])))
    }

    func artifactsImport(_ params: ImportParams, _ call: Call) async throws -> JSONDocument {
        let tenant = call.grantedTenant
        let entries = params.artifacts.map {
            ImportEntry(
                artifactId: $0.artifactId, sha256: $0.sha256, sizeBytes: $0.sizeBytes,
                providerId: ProviderID($0.providerId)!, mimeType: $0.mimeType)
        }
        if params.dryRun {
            let plan = try store.planImport(tenant: tenant, entries: entries)
            var result = JSONObject([
                ("artifacts", Self.dispositions(entries, plan.dispositions, linkedAs: "link")),
                ("newArtifacts", Wire.number(plan.newArtifacts)), ("newBytes", Wire.number(plan.newBytes)),
                ("usage", Wire.usage(plan.usage).encoded), ("fits", .bool(plan.quotaProblem == nil)),
            ])
            if let problem = plan.quotaProblem { result["quotaError"] = Wire.error(problem).json }
            return JSONDocument(.object(result))
        }
        let dispositions = try await store.importArtifacts(tenant: tenant, entries: entries, actor: call.actor)
        return JSONDocument(
            .object(
                JSONObject([
                    ("artifacts", Self.dispositions(entries, dispositions, linkedAs: "created")),
                    ("created", Wire.number(dispositions.filter { $0 == .link }.count)),
                ])))
    }

    /// `artifacts.importBatch`: the entries and the contents they bring, one transaction, one sync.
    func artifactsImportBatch(_ params: ImportBatchParams, _ call: Call) async throws -> JSONDocument {
        let bytes = try payload(call.params, attachment: call.attachment, limit: limits.maxRequestBytes)
        guard params.contentBytes == UInt64(bytes.count) else {
            throw RPCError.invalidParams(
                "contents", "the contents' sizes add up to \(params.contentBytes) bytes, but \(bytes.count) were sent")
        }
        let entries = params.artifacts.map {
            ImportEntry(
                artifactId: $0.artifactId, sha256: $0.sha256, sizeBytes: $0.sizeBytes,
                providerId: ProviderID($0.providerId)!, mimeType: $0.mimeType)
        }
        let dispositions = try await store.importArtifacts(
            tenant: call.grantedTenant, entries: entries,
            contents: params.contents.map { ImportContent(sha256: $0.sha256, sizeBytes: $0.sizeBytes) }, bytes: bytes,
            actor: call.actor)
        return JSONDocument(
            .object(
                JSONObject([
                    ("artifacts", Self.dispositions(entries, dispositions, linkedAs: "created")),
                    ("created", Wire.number(dispositions.filter { $0 == .link }.count)),
                ])))
    }

    private static func dispositions(
        _ entries: [ImportEntry], _ dispositions: [ImportDisposition], linkedAs: String
    ) -> JSONValue {
        .array(
            zip(entries, dispositions).map { entry, disposition in
                .object(
                    JSONObject([
                        ("artifactId", Wire.id(entry.artifactId)),
                        ("status", .string(disposition == .link ? linkedAs : disposition.rawValue)),
                    ]))
            })
    }
}
