import StoreLayout
import Testing

/// Layout versions, the plan for opening a store, and the migrations,
/// run against storage held in memory.
@Suite struct LayoutTests {
    /// Named databases in memory, in key order: what a migration sees.
    final class MemoryStorage: LayoutStorage {
        var databases: [DatabaseName: [[UInt8]: [UInt8]]] = [:]

        func value(for key: [UInt8], in database: DatabaseName) throws -> [UInt8]? {
            databases[database]?[key]
        }

        func setValue(_ value: [UInt8], for key: [UInt8], in database: DatabaseName) throws {
            databases[database, default: [:]][key] = value
        }

        func forEach(
            in database: DatabaseName, from start: [UInt8], _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
        ) throws {
            let entries = (databases[database] ?? [:]).sorted { $0.key.lexicographicallyPrecedes($1.key) }
            for (key, value) in entries where !key.lexicographicallyPrecedes(start) {
                guard try body(key, value) else { return }
            }
        }

        func removeDatabase(_ database: DatabaseName) throws {
            databases[database] = nil
        }
    }

    @Test func theCurrentVersionIsTheNumberOfMigrations() {
        #expect(Layout.currentVersion == 7)
        #expect(Layout.migrations.count == 7)
        for (index, migration) in Layout.migrations.enumerated() {
            #expect(migration.version == UInt32(index + 1))
            #expect(Layout.migration(producing: migration.version).version == migration.version)
            #expect(!migration.summary.isEmpty)
        }
    }

    @Test func theDatabasesHaveDistinctNames() {
        let names = Layout.databases.map(\.rawValue)
        #expect(Set(names).count == names.count)
        #expect(names.count == 13)
        #expect(
            Set(names) == [
                "meta", "tenants", "tenantArtifactRecords", "tenantArtifacts", "providerArtifacts", "blobs",
                "blobArtifacts", "chunks", "uploads", "garbage", "events", "providerConfigs",
                "tenantArtifactReferences",
            ])
        // The databases of earlier layouts keep their names, apart from the current ones.
        #expect(!names.contains(DatabaseName.legacyArtifacts.rawValue))
        #expect(!names.contains(DatabaseName.legacyArtifactReferences.rawValue))
    }

    @Test func plans() {
        #expect(Layout.plan(from: 0) == .migrate([1, 2, 3, 4, 5, 6, 7]))
        #expect(Layout.plan(from: 1) == .migrate([2, 3, 4, 5, 6, 7]))
        #expect(Layout.plan(from: 2) == .migrate([3, 4, 5, 6, 7]))
        #expect(Layout.plan(from: 3) == .migrate([4, 5, 6, 7]))
        #expect(Layout.plan(from: 4) == .migrate([5, 6, 7]))
        #expect(Layout.plan(from: 5) == .migrate([6, 7]))
        #expect(Layout.plan(from: 6) == .migrate([7]))
        #expect(Layout.plan(from: 7) == .upToDate)
        #expect(Layout.plan(from: 8) == .refuse(storeVersion: 8, supported: 7))
        #expect(Layout.plan(from: 99) == .refuse(storeVersion: 99, supported: 7))
        #expect(Layout.plan(from: .max) == .refuse(storeVersion: .max, supported: 7))
        // Stopping at an older target, for tests of older layouts.
        #expect(Layout.plan(from: 0, to: 1) == .migrate([1]))
        #expect(Layout.plan(from: 1, to: 1) == .upToDate)
        #expect(Layout.plan(from: 2, to: 1) == .upToDate)
        #expect(Layout.plan(from: 0, to: 0) == .upToDate)
        #expect(Layout.plan(from: 3, to: 4) == .migrate([4]))
        // A newer store is refused whatever the target.
        #expect(Layout.plan(from: 8, to: 1) == .refuse(storeVersion: 8, supported: 7))
    }

    @Test func layoutOneStartsTheExtentCounterOnce() throws {
        let storage = MemoryStorage()
        try Layout.migration(producing: 1).apply(to: storage)
        var one: [UInt8] = []
        one.appendBigEndian(UInt64(1))
        #expect(try storage.value(for: MetaKey.nextExtent, in: .meta) == one)

        // Applied again over a counter that has moved, it leaves it.
        var moved: [UInt8] = []
        moved.appendBigEndian(UInt64(77))
        try storage.setValue(moved, for: MetaKey.nextExtent, in: .meta)
        try Layout.migration(producing: 1).apply(to: storage)
        #expect(try storage.value(for: MetaKey.nextExtent, in: .meta) == moved)
    }

    @Test func layoutTwoIndexesEveryArtifactByProvider() throws {
        let storage = MemoryStorage()
        var records: [(id: [UInt8], record: ArtifactRecord)] = []
        for index in 0..<6 {
            let record = ArtifactRecord(
                tenant: index % 2 == 0 ? "a" : "ab", providerId: index % 3 == 0 ? "p" : "p:x", mimeType: "t",
                sizeBytes: UInt64(index), sha256: [UInt8](repeating: UInt8(index), count: 32), stagedAt: 0,
                stagedBy: "u",
                listSeq: UInt64(10 + index))
            let id = [UInt8](repeating: UInt8(200 - index), count: 16)
            records.append((id, record))
            try storage.setValue(
                record.encoded(), for: Keys.legacyArtifact(UUIDBytes(id)!), in: .legacyArtifacts)
        }
        try Layout.migration(producing: 2).apply(to: storage)

        let index = storage.databases[.providerArtifacts] ?? [:]
        #expect(index.count == records.count)
        for (id, record) in records {
            let key = Keys.providerArtifact(
                tenant: record.tenant, providerId: record.providerId, listSeq: record.listSeq)
            #expect(index[key] == id)
        }
        // Nothing else changed.
        #expect(storage.databases[.legacyArtifacts]?.count == records.count)
        #expect(
            storage.databases.keys.sorted { $0.rawValue < $1.rawValue } == [.legacyArtifacts, .providerArtifacts])
    }

    @Test func layoutTwoOverNoArtifactsWritesNothing() throws {
        let storage = MemoryStorage()
        try Layout.migration(producing: 2).apply(to: storage)
        #expect(storage.databases.isEmpty)
    }

    @Test func layoutTwoRefusesADamagedArtifactRecord() throws {
        let storage = MemoryStorage()
        try storage.setValue([1, 2, 3], for: Array(repeating: 1, count: 16), in: .legacyArtifacts)
        #expect(throws: LayoutDecodingError.self) { try Layout.migration(producing: 2).apply(to: storage) }
    }

    @Test func layoutFiveRewritesNothing() throws {
        let storage = MemoryStorage()
        let chunk = [UInt8](repeating: 7, count: 32 + 100)
        try storage.setValue(chunk, for: Keys.chunk(extent: 1, index: 0), in: .chunks)
        try Layout.migration(producing: 5).apply(to: storage)
        #expect(storage.databases == [.chunks: [Keys.chunk(extent: 1, index: 0): chunk]])
    }

    @Test func layoutSixKeysArtifactsAndReferencesByTenant() throws {
        let storage = MemoryStorage()
        func record(_ tenant: String, _ seq: UInt64) -> ArtifactRecord {
            ArtifactRecord(
                tenant: tenant, providerId: "p", mimeType: "t", sizeBytes: seq,
                sha256: [UInt8](repeating: UInt8(seq), count: 32), stagedAt: 0, stagedBy: "u", listSeq: seq)
        }
        let first = UUIDBytes([UInt8](repeating: 1, count: 16))!
        let second = UUIDBytes([UInt8](repeating: 2, count: 16))!
        let artifacts = [(first, record("a", 1)), (second, record("ab", 2))]
        for (id, record) in artifacts {
            try storage.setValue(record.encoded(), for: Keys.legacyArtifact(id), in: .legacyArtifacts)
        }
        for (id, field) in [(first, "key"), (first, "roots"), (second, "key")] {
            try storage.setValue(
                [], for: Keys.legacyArtifactReference(artifactId: id, providerId: "p:q", field: field),
                in: .legacyArtifactReferences)
        }
        // Another database is left as it is.
        try storage.setValue([9], for: [1], in: .uploads)

        try Layout.migration(producing: 6).apply(to: storage)

        #expect(
            storage.databases[.artifacts] == [
                Keys.artifact(tenant: "a", id: first): artifacts[0].1.encoded(),
                Keys.artifact(tenant: "ab", id: second): artifacts[1].1.encoded(),
            ])
        #expect(
            storage.databases[.artifactReferences] == [
                Keys.artifactReference(tenant: "a", artifactId: first, providerId: "p:q", field: "key"): [],
                Keys.artifactReference(tenant: "a", artifactId: first, providerId: "p:q", field: "roots"): [],
                Keys.artifactReference(tenant: "ab", artifactId: second, providerId: "p:q", field: "key"): [],
            ])
        #expect(storage.databases[.legacyArtifacts] == nil)
        #expect(storage.databases[.legacyArtifactReferences] == nil)
        #expect(storage.databases[.uploads] == [[1]: [9]])
    }

    @Test func layoutSixOverAnEmptyStoreWritesNothing() throws {
        let storage = MemoryStorage()
        try Layout.migration(producing: 6).apply(to: storage)
        #expect(storage.databases.isEmpty)
    }

    @Test func layoutSixRefusesADamagedArtifactKeyOrRecord() throws {
        let storage = MemoryStorage()
        try storage.setValue(
            ArtifactRecord(
                tenant: "a", providerId: "p", mimeType: "t", sizeBytes: 0, sha256: [UInt8](repeating: 0, count: 32),
                stagedAt: 0, stagedBy: "u", listSeq: 1
            ).encoded(), for: [1, 2, 3], in: .legacyArtifacts)
        #expect(throws: LayoutDecodingError.self) { try Layout.migration(producing: 6).apply(to: storage) }

        let damaged = MemoryStorage()
        try damaged.setValue([1, 2, 3], for: Array(repeating: 1, count: 16), in: .legacyArtifacts)
        #expect(throws: LayoutDecodingError.self) { try Layout.migration(producing: 6).apply(to: damaged) }
    }
}
