import CairnDigest
import CairnProviders
import Foundation
import LMDB
import StoreLayout

/// A provider's stored configuration in one tenant.
public struct ProviderConfiguration: Sendable, Equatable {
    public var tenant: TenantID
    public var providerId: ProviderID
    /// 0 for a provider never configured; every change adds one.
    public var revision: UInt64
    /// When the last change was made; `nil` before the first.
    public var updatedAt: Date?
    /// Who made the last change; `nil` before the first.
    public var updatedBy: String?
    /// The set values by field key, secret ones included: hide those before showing them.
    public var values: [String: FieldValue]
}

/// One configuration field that references an artifact.
public struct ArtifactReference: Sendable, Hashable, Comparable {
    public var providerId: String
    public var field: String

    public init(providerId: String, field: String) {
        self.providerId = providerId
        self.field = field
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.providerId, lhs.field) < (rhs.providerId, rhs.field)
    }
}

extension ArtifactStore {
    /// The configuration of `providerId` in `tenant`; revision 0 with no values when never configured.
    public func providerConfiguration(tenant: TenantID, providerId: ProviderID) throws -> ProviderConfiguration {
        try read { txn in
            let record = try txn.record(
                ProviderConfigRecord.self,
                Keys.providerConfig(tenant: tenant.rawValue, providerId: providerId.rawValue),
                in: tables.providerConfigs)
            return ProviderConfiguration(tenant: tenant, providerId: providerId, record: record)
        }
    }

    /// Applies `changes` to a provider's configuration in one transaction.
    ///
    /// Every artifact a new value references must be an artifact of `tenant`
    /// staged for `providerId`; otherwise nothing changes and the error is
    /// ``StoreError/Code/providerConfigInvalid`` with one
    /// `PROVIDER_CONFIG_ARTIFACT_NOT_FOUND` issue per field. The reference
    /// index is updated in the same transaction, so that a concurrent delete
    /// either sees the reference or happened before the check.
    ///
    /// A change that leaves every value as it was changes nothing: no new
    /// revision, no event. Otherwise the revision goes up by one and a
    /// `config.set` event names the keys set and cleared (never values).
    ///
    /// - Parameter expectedRevision: when given and not the current
    ///   revision, the change is refused with ``StoreError/Code/conflict``.
    public func setProviderConfiguration(
        tenant: TenantID, providerId: ProviderID, changes: [String: FieldChange], expectedRevision: UInt64?,
        actor: Actor
    ) async throws -> ProviderConfiguration {
        let now = self.now
        return try await writer.perform { txn in
            let key = Keys.providerConfig(tenant: tenant.rawValue, providerId: providerId.rawValue)
            let record = try txn.record(ProviderConfigRecord.self, key, in: self.tables.providerConfigs)
            let current = ProviderConfiguration(tenant: tenant, providerId: providerId, record: record)
            if let expectedRevision, expectedRevision != current.revision {
                throw StoreError(
                    .conflict, .revision(current.revision),
                    "the configuration is at revision \(current.revision), not \(expectedRevision)")
            }

            var values = current.values
            for (field, change) in changes {
                switch change {
                case .set(let value): values[field] = value
                case .clear: values[field] = nil
                }
            }
            let changed = changes.keys.filter { values[$0] != current.values[$0] }.sorted()
            guard !changed.isEmpty else { return current }

            try self.checkReferences(
                txn, tenant: tenant, providerId: providerId, values: values, fields: changed)
            try self.updateReferenceIndex(
                txn, tenant: tenant, providerId: providerId, fields: changed, old: current.values, new: values)

            let next = ProviderConfigRecord(
                revision: current.revision + 1, updatedAt: now, updatedBy: actor.name,
                values: values.keys.sorted().map { ProviderConfigRecord.Value(key: $0, value: values[$0]!) })
            try txn.put(next, key, in: self.tables.providerConfigs)

            let tenantKey = Keys.tenant(tenant.rawValue)
            var usage = try txn.record(TenantRecord.self, tenantKey, in: self.tables.tenants) ?? TenantRecord()
            let set = changed.filter { values[$0] != nil }
            let cleared = changed.filter { values[$0] == nil }
            try self.appendEvent(
                txn, tenant: tenant, usage: &usage,
                EventRecord(
                    at: now, actor: actor.name, action: "config.set", providerId: providerId.rawValue,
                    detail:
                        #"{"revision":\#(next.revision),"set":\#(jsonStrings(set)),"cleared":\#(jsonStrings(cleared))}"#
                ))
            try txn.put(usage, tenantKey, in: self.tables.tenants)
            return ProviderConfiguration(tenant: tenant, providerId: providerId, record: next)
        }
    }

    /// Every configuration field (of any provider) of `tenant` that references `artifactId`, in order.
    public func references(tenant: TenantID, artifactId: UUID) throws -> [ArtifactReference] {
        try read { txn in
            _ = try artifactMeta(txn, tenant: tenant, artifactId: artifactId)
            return try references(txn, tenant: tenant, to: artifactId)
        }
    }

    /// The metas of the artifacts of `tenant` with the given ids; ids that
    /// name no artifact of the tenant (or are no ids) are left out.
    public func artifactMetas(tenant: TenantID, ids: [String]) throws -> [String: ArtifactMeta] {
        try read { txn in
            var metas: [String: ArtifactMeta] = [:]
            for id in ids {
                guard let uuid = UUID(uuidString: id),
                    let meta = try? artifactMeta(txn, tenant: tenant, artifactId: uuid)
                else { continue }
                metas[id] = meta
            }
            return metas
        }
    }

    /// Reads every referenced artifact in full and reports whether it is
    /// there and intact, for readiness. Each blob is checked chunk by chunk
    /// and as a whole, as ``verifyBlobs(tenant:cursor:maxBytes:)`` does.
    public func artifactStates(tenant: TenantID, ids: [String]) throws -> [String: ArtifactState] {
        var states: [String: ArtifactState] = [:]
        for id in Set(ids) {
            guard let uuid = UUID(uuidString: id) else {
                states[id] = .missing
                continue
            }
            let found: (ArtifactRecord, BlobRecord)?
            do {
                found = try read { txn in try artifactAndBlob(txn, tenant: tenant, artifactId: uuid) }
            } catch let error as StoreError where error.code == .notFound {
                found = nil
            }
            guard let (record, blob) = found, let digest = SHA256Digest(bytes: record.sha256) else {
                states[id] = .missing
                continue
            }
            states[id] = try blobIsIntact(tenant: tenant, digest: digest, blob: blob) ? .present : .corrupt
        }
        return states
    }

    /// The references to the tenant's artifact `artifactId`, from the reference index.
    func references(_ txn: borrowing Transaction, tenant: TenantID, to artifactId: UUID) throws
        -> [ArtifactReference]
    {
        var found: [ArtifactReference] = []
        let prefix = Keys.artifact(tenant: tenant.rawValue, id: artifactId.uuidBytes)
        try txn.scan(tables.artifactReferences, prefix: prefix) { key, _ in
            if let parts = Keys.referenceParts(of: key, afterPrefixOf: prefix.count) {
                found.append(ArtifactReference(providerId: parts.providerId, field: parts.field))
            }
            return true
        }
        return found
    }

    /// Refuses values of `fields` that reference anything but an artifact of
    /// `tenant` staged for `providerId`.
    private func checkReferences(
        _ txn: borrowing Transaction, tenant: TenantID, providerId: ProviderID, values: [String: FieldValue],
        fields: [String]
    ) throws {
        var issues: [ReadinessReport.Issue] = []
        for field in fields {
            for id in values[field]?.artifactIds ?? [] {
                let record = try UUID(uuidString: id).flatMap {
                    try txn.record(
                        ArtifactRecord.self, Keys.artifact(tenant: tenant.rawValue, id: $0.uuidBytes),
                        in: tables.artifacts)
                }
                guard let record else {
                    issues.append(
                        .init(field: field, subCode: .artifactNotFound, message: "\(field): no artifact \(id)"))
                    continue
                }
                if record.providerId != providerId.rawValue {
                    issues.append(
                        .init(
                            field: field, subCode: .artifactNotFound,
                            message:
                                "\(field): artifact \(id) was staged for \(record.providerId), not \(providerId.rawValue)"
                        ))
                }
            }
        }
        guard issues.isEmpty else {
            throw StoreError(
                .providerConfigInvalid, .issues(issues),
                "the configuration references artifacts that are not this provider's: "
                    + Set(issues.map(\.field)).sorted().joined(separator: ", "))
        }
    }

    /// Moves the reference index of the changed fields from their old values to their new ones.
    private func updateReferenceIndex(
        _ txn: borrowing Transaction, tenant: TenantID, providerId: ProviderID, fields: [String],
        old: [String: FieldValue],
        new: [String: FieldValue]
    ) throws {
        func key(_ id: String, _ field: String) -> [UInt8]? {
            UUID(uuidString: id).map {
                Keys.artifactReference(
                    tenant: tenant.rawValue, artifactId: $0.uuidBytes, providerId: providerId.rawValue, field: field)
            }
        }
        for field in fields {
            let before = Set(old[field]?.artifactIds ?? [])
            let after = Set(new[field]?.artifactIds ?? [])
            for id in before.subtracting(after) {
                if let key = key(id, field) { try txn.delete(key, in: tables.artifactReferences) }
            }
            for id in after.subtracting(before) {
                if let key = key(id, field) { try txn.put([], for: key, in: tables.artifactReferences) }
            }
        }
    }
}

extension ProviderConfiguration {
    init(tenant: TenantID, providerId: ProviderID, record: ProviderConfigRecord?) {
        self.tenant = tenant
        self.providerId = providerId
        self.revision = record?.revision ?? 0
        self.updatedAt = record.map { date(milliseconds: $0.updatedAt) }
        self.updatedBy = record?.updatedBy
        var values: [String: FieldValue] = [:]
        for value in record?.values ?? [] {
            values[value.key] = value.fieldValue
        }
        self.values = values
    }
}

extension ProviderConfigRecord.Value {
    init(key: String, value: FieldValue) {
        switch value {
        case .scalar(let text): self.init(key: key, shape: .scalar, items: [text])
        case .list(let items): self.init(key: key, shape: .listOfStrings, items: items)
        case .artifactRef(let id): self.init(key: key, shape: .artifactRef, items: [id])
        case .artifactRefs(let ids): self.init(key: key, shape: .listOfArtifactRefs, items: ids)
        }
    }

    var fieldValue: FieldValue {
        switch shape {
        case .scalar: .scalar(items.first ?? "")
        case .listOfStrings: .list(items)
        case .artifactRef: .artifactRef(items.first ?? "")
        case .listOfArtifactRefs: .artifactRefs(items)
        }
    }
}

/// A JSON array of strings, escaped, for event details.
func jsonStrings(_ items: [String]) -> String {
    var out = "["
    for (index, item) in items.enumerated() {
        if index > 0 { out += "," }
        out += "\""
        for scalar in item.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
    return out + "]"
}
