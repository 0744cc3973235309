import CairnDigest
import CairnProtocol
import CairnStore
import Foundation

/// The auditing methods: manifests, the event chain, and imports that keep artifact ids.
extension Dispatcher {
    static let auditMethods: Set<String> = ["tenants.list", "tenants.manifest", "events.verify", "artifacts.import"]

    func routeAudit(_ method: String, _ params: Params, peer: Peer, actor: Actor) async throws -> Reply {
        switch method {
        case "tenants.list":
            // Only tenants the caller may read: a name it has no grant on is never shown.
            let tenants = try store.tenants().filter { policy.allows(peer, .read, on: $0.rawValue) }
            return .result(.object(JSONObject([("tenants", .array(tenants.map { .string($0.rawValue) }))])))

        case "tenants.manifest":
            let tenant = try authorize(params, peer, .read)
            return .result(ManifestCoding.encode(try store.manifest(tenant: tenant)))

        case "events.verify":
            let tenant = try authorize(params, peer, .read)
            let anchor = try chainAnchor(params)
            let report = try store.verifyEventChain(tenant: tenant, anchor: anchor)
            let problems: [JSONValue] = report.problems.map {
                .object(JSONObject([("seq", Wire.number($0.seq)), ("message", .string($0.message))]))
            }
            return .result(
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

        case "artifacts.import":
            let tenant = try authorize(params, peer, .admin)
            let entries = try importEntries(params)
            let dryRun = try params.optionalBool("dryRun") ?? false
            if dryRun {
                let plan = try store.planImport(tenant: tenant, entries: entries)
                var result = JSONObject([
                    ("artifacts", Self.dispositions(entries, plan.dispositions, linkedAs: "link")),
                    ("newArtifacts", Wire.number(plan.newArtifacts)), ("newBytes", Wire.number(plan.newBytes)),
                    ("usage", Wire.usage(plan.usage)), ("fits", .bool(plan.quotaProblem == nil)),
                ])
                if let problem = plan.quotaProblem { result["quotaError"] = Wire.error(problem).json }
                return .result(.object(result))
            }
            let dispositions = try await store.importArtifacts(tenant: tenant, entries: entries, actor: actor)
            return .result(
                .object(
                    JSONObject([
                        ("artifacts", Self.dispositions(entries, dispositions, linkedAs: "created")),
                        ("created", Wire.number(dispositions.filter { $0 == .link }.count)),
                    ])))

        default:
            throw RPCError(.methodNotFound, "no method \(method)")
        }
    }

    /// `[{artifactId, status}]`, with ``ImportDisposition/link`` spelled `linkedAs`
    /// (`link` in a plan, `created` once done).
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

    /// The optional `anchor: {seq, sha256}` of `events.verify`.
    private func chainAnchor(_ params: Params) throws -> EventChainHead? {
        switch params.object["anchor"] {
        case nil, .null?: return nil
        case .object(let object)?:
            let anchor = Params(object)
            do {
                let seq = try anchor.integer("seq")
                let digest = try anchor.optionalString("sha256").map { text in
                    guard let digest = SHA256Digest(parsing: text) else {
                        throw RPCError.invalidParams("anchor", "anchor.sha256 must be 64 hex digits")
                    }
                    return digest
                }
                return EventChainHead(seq: seq, sha256: digest)
            } catch let error as RPCError where error.code == .invalidParams {
                throw RPCError.invalidParams("anchor", "anchor must be {seq, sha256}: \(error.message)")
            }
        case _?: throw RPCError.invalidParams("anchor", "anchor must be an object {seq, sha256}")
        }
    }

    /// The `artifacts` of `artifacts.import`: at most 1000 entries of
    /// `{artifactId, sha256, sizeBytes, providerId, mimeType}`.
    private func importEntries(_ params: Params) throws -> [ImportEntry] {
        guard case .array(let elements)? = params.object["artifacts"] else {
            throw RPCError.invalidParams("artifacts", "artifacts must be an array")
        }
        guard elements.count <= ArtifactStore.maxPageSize else {
            throw RPCError.invalidParams("artifacts", "at most \(ArtifactStore.maxPageSize) artifacts per call")
        }
        return try elements.map { element in
            guard case .object(let object) = element else {
                throw RPCError.invalidParams("artifacts", "every artifact must be an object")
            }
            let entry = Params(object)
            do {
                guard let sha256 = SHA256Digest(parsing: try entry.string("sha256")),
                    let providerId = ProviderID(try entry.string("providerId"))
                else { throw RPCError.invalidParams("artifacts", "a malformed sha256 or providerId") }
                return ImportEntry(
                    artifactId: try uuid(entry, "artifactId"), sha256: sha256,
                    sizeBytes: try entry.integer("sizeBytes"),
                    providerId: providerId, mimeType: try entry.string("mimeType"))
            } catch let error as RPCError where error.code == .invalidParams {
                throw RPCError.invalidParams("artifacts", "an artifact entry: \(error.message)")
            }
        }
    }
}
