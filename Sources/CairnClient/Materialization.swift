import CairnProtocol

extension CairnClient {
    /// Writes the artifacts of `fields` as files of a new
    /// ``MaterializationSession``, each verified against its expected sha256
    /// while it is written.
    ///
    /// The caller owns the session and must ``MaterializationSession/close()``
    /// it; ``withMaterializedArtifacts(tenant:fields:configuration:_:)``
    /// does that on every path.
    ///
    /// - Parameters:
    ///   - tenant: the tenant the artifacts belong to.
    ///   - fields: the reference fields and their artifacts.
    ///   - configuration: where to write (default: a new directory below `$TMPDIR`).
    /// - Throws: ``MaterializationError`` for the file system;
    ///   ``CairnClientError`` for the server (`NOT_FOUND`, `INTEGRITY_ERROR`)
    ///   and for bytes that do not have the expected digest
    ///   (``CairnClientError/digestMismatch(expected:actual:)``);
    ///   `CancellationError`. Nothing is left behind by a failure.
    public func materialize(
        tenant: String, fields: [MaterializationSession.Field],
        configuration: MaterializationSession.Configuration = .init()
    ) async throws -> MaterializationSession {
        try await MaterializationSession.open(fields, tenant: tenant, configuration: configuration, client: self)
    }

    /// Reads a provider's configuration (`providers.config.get`) and writes
    /// every artifact its `artifactRef` and `list<artifactRef>` fields
    /// reference, as ``materialize(snapshot:configuration:)`` does.
    ///
    /// This does not look at readiness: a blocked provider is materialized
    /// as far as its values go. Ask `providers.readiness` first when that
    /// matters.
    public func materialize(
        tenant: String, providerId: String, configuration: MaterializationSession.Configuration = .init()
    ) async throws -> MaterializationSession {
        let snapshot = try await providerConfiguration(tenant: tenant, providerId: providerId)
        return try await materialize(snapshot: snapshot, configuration: configuration)
    }

    /// Writes every artifact referenced by a configuration snapshot (the
    /// result of `providers.config.get`).
    ///
    /// Unset fields are skipped; each referenced artifact is expected to
    /// have the sha256 of its meta in the snapshot's `artifacts` (for an id
    /// the snapshot has no meta for, the server's current meta is asked).
    /// A secret reference field, whose value the snapshot hides, is written
    /// from the artifacts its metas list.
    ///
    /// - Throws: as ``materialize(tenant:fields:configuration:)``, and
    ///   ``MaterializationError`` `.invalidSnapshot` for a snapshot not
    ///   shaped as the contract says.
    public func materialize(
        snapshot: JSONValue, configuration: MaterializationSession.Configuration = .init()
    ) async throws -> MaterializationSession {
        guard let tenant = snapshot["tenant"]?.stringValue else {
            throw MaterializationError(.invalidSnapshot, "the snapshot has no tenant")
        }
        var fields: [MaterializationSession.Field] = []
        for reference in try MaterializationSession.references(in: snapshot) {
            var artifacts: [MaterializationSession.ExpectedArtifact] = []
            for (id, digest) in reference.artifacts {
                let sha256: String
                if let digest {
                    sha256 = digest
                } else {
                    sha256 = try await meta(tenant: tenant, artifactId: id).sha256
                }
                artifacts.append(MaterializationSession.ExpectedArtifact(artifactId: id, sha256: sha256))
            }
            fields.append(
                reference.isList
                    ? .list(reference.key, artifacts) : .reference(reference.key, artifacts[0]))
        }
        return try await materialize(tenant: tenant, fields: fields, configuration: configuration)
    }

    /// Materializes `fields`, runs `body` with the session, and removes the
    /// files when `body` returns, throws, or its task is cancelled.
    ///
    /// ```swift
    /// let verified = try await client.withMaterializedArtifacts(tenant: "acme", fields: [
    ///     .reference("cosignKey", .init(artifactId: keyId, sha256: keyDigest))
    /// ]) { session in
    ///     try runCosign(key: session.path(for: "cosignKey")!)
    /// }
    /// ```
    ///
    /// A failure to remove the files after `body` succeeded is thrown; after
    /// `body` threw, `body`'s error is thrown.
    public func withMaterializedArtifacts<Result>(
        tenant: String, fields: [MaterializationSession.Field],
        configuration: MaterializationSession.Configuration = .init(),
        _ body: (MaterializationSession) async throws -> Result
    ) async throws -> Result {
        try await Self.closing(
            try await materialize(tenant: tenant, fields: fields, configuration: configuration), body)
    }

    /// Materializes a provider's configured artifacts (as
    /// ``materialize(tenant:providerId:configuration:)``), runs `body` with
    /// the session, and removes the files when `body` returns, throws, or
    /// its task is cancelled.
    public func withMaterializedArtifacts<Result>(
        tenant: String, providerId: String, configuration: MaterializationSession.Configuration = .init(),
        _ body: (MaterializationSession) async throws -> Result
    ) async throws -> Result {
        try await Self.closing(
            try await materialize(tenant: tenant, providerId: providerId, configuration: configuration), body)
    }

    private static func closing<Result>(
        _ session: MaterializationSession, _ body: (MaterializationSession) async throws -> Result
    ) async throws -> Result {
        let result: Result
        do {
            result = try await body(session)
        } catch {
            try? session.close()
            throw error
        }
        try session.close()
        return result
    }
}

extension MaterializationSession {
    /// One reference field of a snapshot: its ids, in order, each with the
    /// sha256 from the snapshot's meta when there is one.
    struct SnapshotReference {
        var key: String
        var isList: Bool
        var artifacts: [(id: String, sha256: String?)]
    }

    /// The set `artifactRef` and `list<artifactRef>` fields of a snapshot.
    static func references(in snapshot: JSONValue) throws(MaterializationError) -> [SnapshotReference] {
        guard let fields = snapshot["fields"]?.arrayValue else {
            throw MaterializationError(.invalidSnapshot, "the snapshot has no fields")
        }
        var references: [SnapshotReference] = []
        for field in fields {
            guard let key = field["key"]?.stringValue, let shape = field["shape"]?.stringValue else {
                throw MaterializationError(.invalidSnapshot, "a snapshot field without key or shape")
            }
            let value = field["value"] ?? .null
            var digests: [String: String] = [:]
            var listed: [String] = []
            for meta in field["artifacts"]?.arrayValue ?? [] {
                if let id = meta["artifactId"]?.stringValue, let sha256 = meta["sha256"]?.stringValue {
                    digests[id.lowercased()] = sha256
                    listed.append(id)
                }
            }
            let ids: [String]
            switch (shape, value) {
            case (_, .null), ("scalar", _), ("list<string>", _):
                continue
            case ("artifactRef", .string(let id)):
                ids = [id]
            case ("list<artifactRef>", .array(let items)):
                ids = try items.map { item throws(MaterializationError) in
                    guard let id = item.stringValue else {
                        throw MaterializationError(
                            .invalidSnapshot, "field \(key): an artifact id that is not a string")
                    }
                    return id
                }
            case ("artifactRef", .object), ("list<artifactRef>", .object):
                // A secret reference shows only {"set": true}; the metas of its artifacts name them, in order.
                guard shape == "list<artifactRef>" || listed.count == 1 else {
                    throw MaterializationError(.invalidSnapshot, "field \(key): its artifact is gone")
                }
                ids = listed
            default:
                throw MaterializationError(.invalidSnapshot, "field \(key): a value that does not fit shape \(shape)")
            }
            references.append(
                SnapshotReference(
                    key: key, isList: shape == "list<artifactRef>",
                    artifacts: ids.map { ($0, digests[$0.lowercased()]) }))
        }
        return references
    }

    /// The snapshot's configuration values for the program: each key's
    /// value, with artifact references replaced by this session's paths
    /// (a string for `artifactRef`, an array for `list<artifactRef>`) and
    /// secret values (shown as `{"set": true}` in snapshots) left out.
    /// Unset fields are `null`.
    public func resolvedValues(of snapshot: JSONValue) -> JSONObject {
        var values = JSONObject()
        for field in snapshot["fields"]?.arrayValue ?? [] {
            guard let key = field["key"]?.stringValue else { continue }
            let value = field["value"] ?? .null
            if case .object = value { continue }
            if value != .null, let paths = paths(for: key) {
                let isList = fields.first { $0.key == key }?.isList ?? false
                values[key] = isList ? .array(paths.map { .string($0) }) : .string(paths[0])
            } else {
                values[key] = value
            }
        }
        return values
    }
}
