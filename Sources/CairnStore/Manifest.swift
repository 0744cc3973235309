import CairnDigest
@_exported import CairnManifest
import Foundation
import LMDB
import StoreLayout

extension ArtifactStore {
    /// Every tenant the store has a record of (one that ever staged, set a
    /// quota or configured a provider), in name order.
    public func tenants() throws -> [TenantID] {
        try read { txn in try tenants(txn) }
    }

    /// The tenant's manifest, from one consistent snapshot.
    public func manifest(tenant: TenantID) throws -> TenantManifest {
        try read { txn in try manifest(txn, tenant: tenant) }
    }

    /// The manifest of every tenant, from one consistent snapshot.
    public func storeManifest() throws -> StoreManifest {
        try read { txn in StoreManifest(tenants: try tenants(txn).map { try manifest(txn, tenant: $0) }) }
    }

    func tenants(_ txn: borrowing Transaction) throws -> [TenantID] {
        var names: [TenantID] = []
        try txn.scan(tables.tenants, prefix: []) { key, _ in
            guard key.last == 0, let name = String(validating: key.dropLast(), as: UTF8.self),
                let tenant = TenantID(name)
            else { throw StoreError(.internalError, .none, "a tenant record's key is damaged") }
            names.append(tenant)
            return true
        }
        return names
    }

    private func manifest(_ txn: borrowing Transaction, tenant: TenantID) throws -> TenantManifest {
        let prefix = Keys.tenant(tenant.rawValue)
        let record = try txn.record(TenantRecord.self, prefix, in: tables.tenants) ?? TenantRecord()
        var artifacts: [TenantManifest.Artifact] = []
        try txn.scan(tables.tenantArtifacts, prefix: prefix) { _, value in
            guard let id = UUID(bytes: value),
                let artifact = try txn.record(
                    ArtifactRecord.self, Keys.artifact(tenant: tenant.rawValue, id: id.uuidBytes), in: tables.artifacts),
                let digest = SHA256Digest(bytes: artifact.sha256)
            else { throw StoreError(.internalError, .none, "a listing entry of tenant \(tenant) is damaged") }
            artifacts.append(
                .init(
                    artifactId: id, sha256: digest, sizeBytes: artifact.sizeBytes, providerId: artifact.providerId,
                    mimeType: artifact.mimeType))
            return true
        }
        var configurations: [TenantManifest.Configuration] = []
        try txn.scan(tables.providerConfigs, prefix: prefix) { key, value in
            guard let providerId = String(validating: key.dropFirst(prefix.count), as: UTF8.self) else {
                throw StoreError(.internalError, .none, "a configuration key of tenant \(tenant) is damaged")
            }
            configurations.append(
                .init(providerId: providerId, revision: try ProviderConfigRecord(decoding: value).revision))
            return true
        }
        return TenantManifest(
            tenant: tenant, usage: TenantUsage(tenant: tenant, record: record),
            events: try chainHead(txn, tenant: tenant, usage: record), artifacts: artifacts,
            configurations: configurations)
    }
}
