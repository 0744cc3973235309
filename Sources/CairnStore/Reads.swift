import CairnDigest
import Foundation
import LMDB
import StoreLayout

extension ArtifactStore {
    /// The most entries one listing page returns.
    public static let maxPageSize = 1000

    /// An artifact's meta. Another tenant's artifact is not found, exactly
    /// like one that does not exist.
    public func meta(tenant: TenantID, artifactId: UUID) throws -> ArtifactMeta {
        try read { txn in try artifactMeta(txn, tenant: tenant, artifactId: artifactId) }
    }

    /// A page of the tenant's artifacts, optionally of one provider, in the
    /// order they were created.
    ///
    /// The cursor names a position, not an artifact: a listing paged
    /// through while others write neither repeats nor skips an artifact
    /// that existed throughout. Artifacts created meanwhile appear at the
    /// end.
    public func list(tenant: TenantID, providerId: ProviderID? = nil, limit: Int = 100, cursor: String? = nil) throws
        -> ArtifactPage
    {
        guard (1...Self.maxPageSize).contains(limit) else {
            throw StoreError.invalid("limit", "limit must be between 1 and \(Self.maxPageSize)")
        }
        let after = try cursor.map { try ListCursor(parsing: $0, field: "cursor").position } ?? 0
        let prefix =
            providerId.map { Keys.providerPrefix(tenant: tenant.rawValue, providerId: $0.rawValue) }
            ?? Keys.tenant(tenant.rawValue)
        let database = providerId == nil ? tables.tenantArtifacts : tables.providerArtifacts
        return try read { txn in
            var ids: [(UInt64, UUID)] = []
            var more = false
            var start = prefix
            start.appendBigEndian(after + 1)
            try txn.scan(database, prefix: prefix, from: start) { key, value in
                guard ids.count < limit else {
                    more = true
                    return false
                }
                guard let seq = Keys.trailingSequence(of: key), let id = UUID(bytes: value) else {
                    throw StoreError(.internalError, .none, "a listing entry is damaged")
                }
                ids.append((seq, id))
                return true
            }
            let artifacts = try ids.map { try artifactMeta(txn, tenant: tenant, artifactId: $0.1) }
            return ArtifactPage(artifacts: artifacts, nextCursor: more ? ListCursor(position: ids.last!.0).text : nil)
        }
    }

    /// Reads a verified range of an artifact's content.
    ///
    /// Every chunk the range touches is checked against its stored header
    /// before any byte is returned; a failed check throws
    /// ``StoreError/Code/integrityError`` with the blob's digest. A range past
    /// the end is clamped to it (an offset too), so reading at or past the
    /// end gives no bytes and `eof`.
    public func read(tenant: TenantID, artifactId: UUID, offset: UInt64 = 0, length: Int) throws -> ArtifactRange {
        guard length >= 0 else { throw StoreError.invalid("length", "length must not be negative") }
        let range = try read { txn in
            let (record, blob) = try artifactAndBlob(txn, tenant: tenant, artifactId: artifactId)
            let digest = SHA256Digest(bytes: record.sha256)!
            let offset = min(offset, record.sizeBytes)
            let end = min(record.sizeBytes, offset + UInt64(length))
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(end - offset))
            try withVerifiedChunks(txn, extent: blob.extent, size: blob.sizeBytes, range: offset..<end, blob: digest) {
                chunkOffset, data in
                let from = Int(max(offset, chunkOffset) - chunkOffset)
                let to = Int(min(end, chunkOffset + UInt64(data.count)) - chunkOffset)
                bytes.append(contentsOf: data[from..<to])
            }
            return ArtifactRange(
                bytes: bytes, offset: offset, eof: end == record.sizeBytes, sha256: digest, sizeBytes: record.sizeBytes)
        }
        instruments.served(range.bytes.count)
        return range
    }

    /// What the tenant holds under `sha256`: not found when the tenant
    /// holds no such content, whatever other tenants hold.
    public func stat(tenant: TenantID, sha256: SHA256Digest) throws -> BlobStat {
        try read { txn in
            let key = Keys.blob(tenant: tenant.rawValue, sha256: sha256.bytes)
            guard let blob = try txn.record(BlobRecord.self, key, in: tables.blobs) else {
                throw StoreError.notFound("blob")
            }
            var ids: [UUID] = []
            try txn.scan(tables.blobArtifacts, prefix: key) { entry, _ in
                if let id = UUID(bytes: entry.suffix(16)) { ids.append(id) }
                return true
            }
            return BlobStat(
                sha256: sha256, sizeBytes: blob.sizeBytes, artifactIds: ids,
                storedAt: date(milliseconds: blob.storedAt), refCount: blob.refCount)
        }
    }

    /// The tenant's usage and quotas; zero and none for an unused tenant.
    public func usage(tenant: TenantID) throws -> TenantUsage {
        try read { txn in
            let record =
                try txn.record(TenantRecord.self, Keys.tenant(tenant.rawValue), in: tables.tenants) ?? TenantRecord()
            return TenantUsage(tenant: tenant, record: record)
        }
    }

    /// A page of the tenant's audit log, oldest first.
    public func events(tenant: TenantID, limit: Int = 100, cursor: String? = nil) throws -> EventPage {
        guard (1...Self.maxPageSize).contains(limit) else {
            throw StoreError.invalid("limit", "limit must be between 1 and \(Self.maxPageSize)")
        }
        let after = try cursor.map { try ListCursor(parsing: $0, field: "cursor").position } ?? 0
        let prefix = Keys.tenant(tenant.rawValue)
        return try read { txn in
            var events: [AuditEvent] = []
            var more = false
            try txn.scan(tables.events, prefix: prefix, from: Keys.event(tenant: tenant.rawValue, seq: after + 1)) {
                key, value in
                guard events.count < limit else {
                    more = true
                    return false
                }
                let record = try EventRecord(decoding: value)
                events.append(
                    AuditEvent(
                        seq: Keys.trailingSequence(of: key) ?? 0, at: date(milliseconds: record.at),
                        actor: record.actor,
                        action: record.action, artifactId: record.artifactId.flatMap { UUID(bytes: $0) },
                        sha256: record.sha256.flatMap { SHA256Digest(bytes: $0) }, providerId: record.providerId,
                        detail: record.detail))
                return true
            }
            return EventPage(events: events, nextCursor: more ? ListCursor(position: events.last!.seq).text : nil)
        }
    }

    func artifactAndBlob(_ txn: borrowing Transaction, tenant: TenantID, artifactId: UUID) throws -> (
        ArtifactRecord, BlobRecord
    ) {
        guard
            let record = try txn.record(
                ArtifactRecord.self, Keys.artifact(tenant: tenant.rawValue, id: artifactId.uuidBytes),
                in: tables.artifacts)
        else { throw StoreError.notFound("artifact") }
        guard
            let blob = try txn.record(
                BlobRecord.self, Keys.blob(tenant: record.tenant, sha256: record.sha256), in: tables.blobs)
        else {
            throw StoreError(.internalError, .none, "artifact \(artifactId) has no blob")
        }
        return (record, blob)
    }

    func artifactMeta(_ txn: borrowing Transaction, tenant: TenantID, artifactId: UUID) throws -> ArtifactMeta {
        guard
            let record = try txn.record(
                ArtifactRecord.self, Keys.artifact(tenant: tenant.rawValue, id: artifactId.uuidBytes),
                in: tables.artifacts)
        else { throw StoreError.notFound("artifact") }
        return ArtifactMeta(
            artifactId: artifactId, tenant: tenant, providerId: ProviderID(record.providerId)!,
            mimeType: record.mimeType,
            sizeBytes: record.sizeBytes, sha256: SHA256Digest(bytes: record.sha256)!,
            stagedAt: date(milliseconds: record.stagedAt),
            stagedBy: record.stagedBy)
    }
}

/// An opaque listing position: `c1.` and 16 hex digits of a per-tenant
/// sequence number. Per-tenant numbering means a cursor tells nothing about
/// other tenants.
struct ListCursor {
    let position: UInt64

    init(position: UInt64) { self.position = position }

    init(parsing text: String, field: String) throws {
        let digits = text.utf8.dropFirst(3)
        guard text.hasPrefix("c1."), digits.count == 16,
            digits.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
            let value = UInt64(String(decoding: digits, as: UTF8.self), radix: 16), value < UInt64.max
        else { throw StoreError.invalid(field, "not a cursor this store issued") }
        position = value
    }

    var text: String {
        let hex = String(position, radix: 16)
        return "c1." + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
