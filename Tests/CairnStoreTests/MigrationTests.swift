import CairnDigest
import Foundation
import LMDB
import StoreLayout
import Testing

@testable import CairnStore

/// Layout versions: a new store is at the current one, an older store is
/// migrated when it opens, and a newer one is refused untouched.
@Suite struct MigrationTests {
    let acme = tenant("acme")
    let globex = tenant("globex")

    func bigEndian(_ value: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(value)
        return bytes
    }

    @Test func aNewStoreIsAtTheCurrentLayoutAndKeepsItsIdentity() async throws {
        let directory = StoreDirectory()
        let created = directory.clock.now
        try await directory.withStore { store throws in
            #expect(store.layoutVersion == Layout.currentVersion)
            #expect(store.layoutVersion == 3)
            #expect(try store.health().layoutVersion == 3)
        }
        let version = try directory.rawValue(for: MetaKey.layoutVersion, in: .meta)
        #expect(version == bigEndian(3))
        let storeId = try #require(try directory.rawValue(for: MetaKey.storeId, in: .meta))
        #expect(storeId.count == 16)
        var createdAt: [UInt8] = []
        createdAt.appendBigEndian(Int64(created.timeIntervalSince1970 * 1000))
        #expect(try directory.rawValue(for: MetaKey.createdAt, in: .meta) == createdAt)
        #expect(try directory.rawValue(for: MetaKey.nextExtent, in: .meta)?.count == 8)

        directory.clock.advance(by: 3600)
        try await directory.withStore { store in
            #expect(store.layoutVersion == 3)
            try await stage(store, acme, [1])
        }
        #expect(try directory.rawValue(for: MetaKey.storeId, in: .meta) == storeId)
        #expect(try directory.rawValue(for: MetaKey.createdAt, in: .meta) == createdAt)
    }

    @Test func aStoreOfANewerLayoutIsRefusedAndLeftUntouched() async throws {
        let directory = StoreDirectory()
        let staged = try await directory.withStore { store in
            try await stage(store, acme, pseudoRandomBytes(5000, seed: 1001))
        }
        try directory.setRawValue(bigEndian(99), for: MetaKey.layoutVersion, in: .meta)
        let before = try Data(contentsOf: URL(fileURLWithPath: directory.dataFile))

        weak var leaked: ArtifactStore?
        do {
            let store = try? directory.open()
            leaked = store
            #expect(store == nil)
            await expectStoreError(.layoutTooNew, .versions(store: 99, supported: 3)) { try directory.open() }
        }
        #expect(leaked == nil)
        let after = try Data(contentsOf: URL(fileURLWithPath: directory.dataFile))
        #expect(after == before, "data.mdb was modified")

        // Put back, the store opens as it was.
        try directory.setRawValue(bigEndian(3), for: MetaKey.layoutVersion, in: .meta)
        try await directory.withStore { store throws in
            #expect(try store.meta(tenant: acme, artifactId: staged.meta.artifactId) == staged.meta)
        }
    }

    @Test func aDamagedLayoutVersionRecordIsRefused() async throws {
        let directory = StoreDirectory()
        try await directory.withStore { _ in }
        try directory.setRawValue([0, 2], for: MetaKey.layoutVersion, in: .meta)
        await expectStoreError(.internalError) { try directory.open() }
        #expect(try directory.rawValue(for: MetaKey.layoutVersion, in: .meta) == [0, 2])
    }

    /// Opens a store at layout 1, stages artifacts of two providers in two
    /// tenants, and removes the provider index as a layout-1 store lacks it.
    func makeLayoutOneStore(_ directory: StoreDirectory) async throws -> [ArtifactMeta] {
        let metas = try await directory.withStore({ $0.targetLayoutVersion = 1 }) { store in
            #expect(store.layoutVersion == 1)
            var metas: [ArtifactMeta] = []
            for index in 0..<10 {
                let tenant = index % 3 == 0 ? globex : acme
                let providerId = provider(index % 2 == 0 ? "excititor:oci-openvex" : "p")
                metas.append(
                    try await stage(
                        store, tenant, pseudoRandomBytes(100, seed: 1100 + UInt64(index)), providerId: providerId
                    ).meta)
            }
            return metas
        }
        try directory.withRawWriteTransaction { txn in
            let index = try #require(try txn.openDatabase(DatabaseName.providerArtifacts.rawValue, create: false))
            try txn.empty(index)
        }
        #expect(try directory.rawCount(of: .providerArtifacts) == 0)
        #expect(try directory.rawValue(for: MetaKey.layoutVersion, in: .meta) == bigEndian(1))
        return metas
    }

    @Test func migrationTwoFillsTheProviderIndexFromExistingArtifacts() async throws {
        let directory = StoreDirectory()
        let metas = try await makeLayoutOneStore(directory)

        try await directory.withStore { store in
            #expect(store.layoutVersion == 3)
            for tenant in [acme, globex] {
                for providerId in [provider("excititor:oci-openvex"), provider("p")] {
                    let expected = metas.filter { $0.tenant == tenant && $0.providerId == providerId }
                    #expect(!expected.isEmpty)
                    #expect(try allArtifacts(store, tenant: tenant, providerId: providerId, limit: 2) == expected)
                }
                #expect(try allArtifacts(store, tenant: tenant) == metas.filter { $0.tenant == tenant })
            }
            // New artifacts join the migrated index in order.
            let added = try await stage(store, acme, [42], providerId: provider("p"))
            let listed = try allArtifacts(store, tenant: acme, providerId: provider("p"))
            #expect(listed.last == added.meta)
            #expect(listed.count == metas.filter { $0.tenant == acme && $0.providerId == provider("p") }.count + 1)
        }
        #expect(try directory.rawValue(for: MetaKey.layoutVersion, in: .meta) == bigEndian(3))
        #expect(try directory.rawCount(of: .providerArtifacts) == metas.count + 1)
    }

    @Test func aFailedMigrationLeavesTheStoreAtItsLayout() async throws {
        let directory = StoreDirectory()
        let metas = try await makeLayoutOneStore(directory)
        // Damage one artifact record: trailing bytes make it undecodable.
        let key = Keys.artifact(try #require(UUIDBytes(metas[4].artifactId.bytes)))
        let record = try #require(try directory.rawValue(for: key, in: .artifacts))
        try directory.setRawValue(record + [0], for: key, in: .artifacts)
        let before = try Data(contentsOf: URL(fileURLWithPath: directory.dataFile))

        await expectStoreError(.internalError) { try directory.open() }
        #expect(try directory.rawValue(for: MetaKey.layoutVersion, in: .meta) == bigEndian(1))
        #expect(try directory.rawCount(of: .providerArtifacts) == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.dataFile)) == before)
    }
}
