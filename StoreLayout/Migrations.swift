/// What a migration may do to a store: read, write and scan named databases.
///
/// The store implements this over an LMDB write transaction; migrations are
/// written against it so that they stay free of LMDB calls and can be read as
/// a description of the format. A database that does not exist yet reads as
/// empty and is created by the first write.
public protocol LayoutStorage: ~Copyable {
    /// The value under `key`, or `nil`.
    func value(for key: [UInt8], in database: DatabaseName) throws -> [UInt8]?
    /// Stores `value` under `key`.
    func setValue(_ value: [UInt8], for key: [UInt8], in database: DatabaseName) throws
    /// Visits entries in key order starting at the first key ≥ `start`,
    /// until `body` returns `false`.
    func forEach(
        in database: DatabaseName,
        from start: [UInt8],
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws
    /// Deletes `database` with all its entries; nothing when it does not exist.
    func removeDatabase(_ database: DatabaseName) throws
}

/// One numbered step of the on-disk format.
///
/// Migration `n` takes a store at layout `n - 1` to layout `n`. The store
/// runs all pending migrations in one write transaction when it opens, and
/// records the new version in the same transaction, so a store is always
/// at exactly one layout version.
public protocol Migration: Sendable {
    /// The layout version this migration produces.
    var version: UInt32 { get }
    /// One line on what changes.
    var summary: String { get }
    /// Changes the store's content from layout `version - 1` to `version`.
    func apply<Storage: LayoutStorage & ~Copyable>(to storage: borrowing Storage) throws
}

/// The layout versions this build knows and how to reach them.
public enum Layout {
    /// Every migration, in order; `migrations[i].version == i + 1`.
    public static let migrations: [any Migration] = [
        CreateStore(),
        AddProviderListing(),
        AddProviderConfigurations(),
        AddEventChain(),
        AddXXH3ChunkHeaders(),
        TenantArtifactIds(),
        AddRedoLog(),
    ]

    /// The layout version this build writes.
    public static var currentVersion: UInt32 { UInt32(migrations.count) }

    /// The databases a store at the current layout has.
    public static let databases: [DatabaseName] = [
        .meta, .tenants, .artifacts, .tenantArtifacts, .providerArtifacts,
        .blobs, .blobArtifacts, .chunks, .uploads, .garbage, .events, .providerConfigs, .artifactReferences,
    ]

    /// What opening a store at `version` requires.
    public enum Plan: Equatable, Sendable {
        /// Nothing: the store is at the current layout.
        case upToDate
        /// Apply the migrations producing these versions, in order.
        case migrate([UInt32])
        /// The store was written by a newer build; it must not be touched.
        case refuse(storeVersion: UInt32, supported: UInt32)
    }

    /// Decides what to do with a store at `version` (0 for a new store),
    /// optionally stopping at `target` (for tests of older layouts).
    public static func plan(from version: UInt32, to target: UInt32 = currentVersion) -> Plan {
        if version > currentVersion { return .refuse(storeVersion: version, supported: currentVersion) }
        if version >= target { return .upToDate }
        return .migrate(Array((version + 1)...target))
    }

    /// The migration producing `version`.
    public static func migration(producing version: UInt32) -> any Migration {
        migrations[Int(version) - 1]
    }
}

/// Layout 1: a new store. Records the store's id and creation time and
/// starts the extent counter.
struct CreateStore: Migration {
    let version: UInt32 = 1
    let summary = "create the store: meta, tenants, artifacts, blobs, chunks, uploads, garbage, events"

    func apply<Storage: LayoutStorage & ~Copyable>(to storage: borrowing Storage) throws {
        // Identity and clock values are supplied by the store before the
        // migration runs (see `MetaKey`); here only the counter starts.
        if try storage.value(for: MetaKey.nextExtent, in: .meta) == nil {
            var one: [UInt8] = []
            one.appendBigEndian(UInt64(1))
            try storage.setValue(one, for: MetaKey.nextExtent, in: .meta)
        }
    }
}

/// Layout 2: list a tenant's artifacts of one provider without scanning
/// the others. Adds ``DatabaseName/providerArtifacts`` and fills it from the
/// existing artifacts.
struct AddProviderListing: Migration {
    let version: UInt32 = 2
    let summary = "add the per-provider listing index and fill it from existing artifacts"

    func apply<Storage: LayoutStorage & ~Copyable>(to storage: borrowing Storage) throws {
        try storage.forEach(in: .legacyArtifacts, from: []) { key, value in
            let record = try ArtifactRecord(decoding: value)
            try storage.setValue(
                key,
                for: Keys.providerArtifact(
                    tenant: record.tenant, providerId: record.providerId, listSeq: record.listSeq),
                in: .providerArtifacts
            )
            return true
        }
    }
}

/// Layout 3: provider configurations. Adds ``DatabaseName/providerConfigs``
/// and ``DatabaseName/legacyArtifactReferences``. Earlier stores hold no
/// configurations, so there is nothing to convert; the version marks that
/// older builds, which would delete referenced artifacts, must not open the
/// store.
struct AddProviderConfigurations: Migration {
    let version: UInt32 = 3
    let summary = "add provider configurations and the artifact reference index"

    func apply<Storage: LayoutStorage & ~Copyable>(to storage: borrowing Storage) throws {}
}

/// Layout 4: a tamper-evident audit log. Rewrites every event as an
/// ``EventRecord`` of format 2 holding the chain hash of the tenant's
/// previous event (see ``EventChain``), in key order, so that existing logs
/// join the chain as if it had always been kept.
struct AddEventChain: Migration {
    let version: UInt32 = 4
    let summary = "chain every tenant's audit log: each event records the hash of the one before"

    func apply<Storage: LayoutStorage & ~Copyable>(to storage: borrowing Storage) throws {
        var tenant: String? = nil
        var previous = EventChain.origin
        try storage.forEach(in: .events, from: []) { key, value in
            guard let position = EventChain.position(of: key) else {
                throw LayoutDecodingError(record: "event key", reason: "not a tenant prefix and a sequence number")
            }
            if position.tenant != tenant {
                tenant = position.tenant
                previous = EventChain.origin
            }
            var record = try EventRecord(decoding: value)
            record.previous = previous
            try storage.setValue(record.encoded(), for: key, in: .events)
            previous = EventChain.hash(tenant: position.tenant, seq: position.seq, previous: previous, event: record)
            return true
        }
    }
}

/// Layout 5: chunks written from now on carry an XXH3-128 check instead of a
/// SHA-256 (see ``ChunkHeader``). Headers say which form they hold, so the
/// chunks already stored keep their SHA-256 and nothing is rewritten; the
/// version keeps older builds, which would report every new chunk as
/// damaged, from opening the store.
struct AddXXH3ChunkHeaders: Migration {
    let version: UInt32 = 5
    let summary = "check new chunks with XXH3-128 instead of SHA-256; stored chunks keep their SHA-256"

    func apply<Storage: LayoutStorage & ~Copyable>(to storage: borrowing Storage) throws {}
}

/// Layout 6: artifact ids are a tenant's own. Moves every artifact from
/// ``DatabaseName/legacyArtifacts`` (keyed by id alone, unique store-wide)
/// to ``DatabaseName/artifacts`` (keyed by tenant and id), and every
/// reference from ``DatabaseName/legacyArtifactReferences`` to
/// ``DatabaseName/artifactReferences`` under the tenant of the artifact it
/// names; then removes the two old databases. Records keep their encoding.
///
/// With ids unique per tenant, an id another tenant holds is no longer a
/// conflict, so a tenant cannot learn that it exists or claim it first.
struct TenantArtifactIds: Migration {
    let version: UInt32 = 6
    let summary = "key artifacts and their references by tenant and id: ids are unique per tenant"

    func apply<Storage: LayoutStorage & ~Copyable>(to storage: borrowing Storage) throws {
        try storage.forEach(in: .legacyArtifacts, from: []) { key, value in
            guard let id = UUIDBytes(key) else {
                throw LayoutDecodingError(record: "artifact key", reason: "not 16 bytes")
            }
            let record = try ArtifactRecord(decoding: value)
            try storage.setValue(value, for: Keys.artifact(tenant: record.tenant, id: id), in: .artifacts)
            return true
        }
        try storage.forEach(in: .legacyArtifactReferences, from: []) { key, _ in
            guard let id = UUIDBytes(key.prefix(16)), let parts = Keys.referenceParts(of: key, afterPrefixOf: 16)
            else {
                throw LayoutDecodingError(record: "artifact reference key", reason: "not an id, provider and field")
            }
            // A reference to an artifact that is gone has nothing to move with.
            guard let value = try storage.value(for: Keys.legacyArtifact(id), in: .legacyArtifacts) else {
                return true
            }
            let record = try ArtifactRecord(decoding: value)
            try storage.setValue(
                [],
                for: Keys.artifactReference(
                    tenant: record.tenant, artifactId: id, providerId: parts.providerId, field: parts.field),
                in: .artifactReferences)
            return true
        }
        try storage.removeDatabase(.legacyArtifacts)
        try storage.removeDatabase(.legacyArtifactReferences)
    }
}

/// Commits become durable through the redo log (`redo.log`, see
/// docs/store-layout.md): after a crash, the data file's meta pages may
/// describe pages that never reached the disk until the log's checkpoint is
/// restored and its records replayed. Nothing in the databases changes; the
/// version keeps older builds, which know nothing of the log, from opening
/// such a store.
struct AddRedoLog: Migration {
    let version: UInt32 = 7
    let summary = "commits are made durable through redo.log; older builds must not open the data file"

    func apply<Storage: LayoutStorage & ~Copyable>(to storage: borrowing Storage) throws {}
}
