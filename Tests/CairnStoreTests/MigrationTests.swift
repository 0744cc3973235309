import CairnDigest
import CairnProviders
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
            #expect(store.layoutVersion == 7)
            #expect(try store.health().layoutVersion == 7)
        }
        let version = try directory.rawValue(for: MetaKey.layoutVersion, in: .meta)
        #expect(version == bigEndian(7))
        let storeId = try #require(try directory.rawValue(for: MetaKey.storeId, in: .meta))
        #expect(storeId.count == 16)
        var createdAt: [UInt8] = []
        createdAt.appendBigEndian(Int64(created.timeIntervalSince1970 * 1000))
        #expect(try directory.rawValue(for: MetaKey.createdAt, in: .meta) == createdAt)
        #expect(try directory.rawValue(for: MetaKey.nextExtent, in: .meta)?.count == 8)

        directory.clock.advance(by: 3600)
        try await directory.withStore { store in
            #expect(store.layoutVersion == 7)
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
            await expectStoreError(.layoutTooNew, .versions(store: 99, supported: 7)) { try directory.open() }
        }
        #expect(leaked == nil)
        let after = try Data(contentsOf: URL(fileURLWithPath: directory.dataFile))
        #expect(after == before, "data.mdb was modified")

        // Put back, the store opens as it was.
        try directory.setRawValue(bigEndian(7), for: MetaKey.layoutVersion, in: .meta)
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
        try directory.giveArtifactsLegacyKeys()
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
            #expect(store.layoutVersion == Layout.currentVersion)
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
        #expect(try directory.rawValue(for: MetaKey.layoutVersion, in: .meta) == bigEndian(Layout.currentVersion))
        #expect(try directory.rawCount(of: .providerArtifacts) == metas.count + 1)
    }

    @Test func aFailedMigrationLeavesTheStoreAtItsLayout() async throws {
        let directory = StoreDirectory()
        let metas = try await makeLayoutOneStore(directory)
        // Damage one artifact record: trailing bytes make it undecodable.
        let key = Keys.legacyArtifact(try #require(UUIDBytes(metas[4].artifactId.bytes)))
        let record = try #require(try directory.rawValue(for: key, in: .legacyArtifacts))
        try directory.setRawValue(record + [0], for: key, in: .legacyArtifacts)
        let before = try Data(contentsOf: URL(fileURLWithPath: directory.dataFile))

        await expectStoreError(.internalError) { try directory.open() }
        #expect(try directory.rawValue(for: MetaKey.layoutVersion, in: .meta) == bigEndian(1))
        #expect(try directory.rawCount(of: .providerArtifacts) == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.dataFile)) == before)
    }

    @Test func migrationFiveKeepsSHA256ChunksAndChecksNewOnesWithXXH3() async throws {
        let directory = StoreDirectory()
        let several = pseudoRandomBytes(2 * chunkBytes + 5000, seed: 1201)
        let single = pseudoRandomBytes(3000, seed: 1202)
        let uploaded = pseudoRandomBytes(3 * chunkBytes, seed: 1203)
        let begun = chunkBytes + 700  // an open upload whose last chunk is partial
        let (severalId, singleId, uploadId) = try await directory.withStore { store in
            let upload = try await store.beginUpload(
                tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", actor: alice)
            _ = try await store.append(
                uploadId: upload.uploadId, offset: 0, bytes: Array(uploaded[..<begun]), actor: alice)
            return (
                try await stage(store, acme, several).meta.artifactId,
                try await stage(store, acme, single).meta.artifactId, upload.uploadId
            )
        }
        // Make it a layout 4 store: every chunk's header the SHA-256 of its data, as layouts 1 to 4 wrote it.
        try directory.giveChunksSHA256Headers()
        try directory.setRawValue(bigEndian(4), for: MetaKey.layoutVersion, in: .meta)
        for content in [several, single] {
            #expect(try directory.chunkHeaderForms(ofBlob: content).allSatisfy { $0 == .sha256 })
        }

        let added = pseudoRandomBytes(chunkBytes + 10, seed: 1204)
        try await directory.withStore { store in
            #expect(store.layoutVersion == Layout.currentVersion)
            #expect(try readAll(store, acme, severalId) == several)
            #expect(try readAll(store, acme, singleId) == single)
            #expect(try store.verifyBlobs(tenant: acme).corrupt.isEmpty)
            // The upload resumes: its running digest is rebuilt from the SHA-256 chunks, and its
            // partial last chunk is verified and merged with the new bytes.
            _ = try await store.append(
                uploadId: uploadId, offset: UInt64(begun), bytes: Array(uploaded[begun...]), actor: alice)
            let committed = try await store.commitUpload(uploadId: uploadId, actor: alice)
            #expect(committed.meta.sha256 == SHA256Hasher.digest(uploaded))
            #expect(try readAll(store, acme, committed.meta.artifactId) == uploaded)
            _ = try await stage(store, acme, added)
            #expect(try store.verifyBlobs(tenant: acme).corrupt.isEmpty)
        }
        #expect(try directory.rawValue(for: MetaKey.layoutVersion, in: .meta) == bigEndian(Layout.currentVersion))
        // Nothing was rewritten but the merged chunk; what is new has XXH3 headers.
        #expect(try directory.chunkHeaderForms(ofBlob: several) == [.sha256, .sha256, .sha256])
        #expect(try directory.chunkHeaderForms(ofBlob: single) == [.sha256])
        #expect(try directory.chunkHeaderForms(ofBlob: uploaded) == [.sha256, .xxh3, .xxh3])
        #expect(try directory.chunkHeaderForms(ofBlob: added) == [.xxh3, .xxh3])

        // A damaged SHA-256 chunk is still found, by reads and by the scrub.
        let damagedExtent = try directory.extent(ofBlob: several)
        let damagedKey = Keys.chunk(extent: damagedExtent, index: 1)
        try directory.rewriteChunks { key, value in
            guard key == damagedKey else { return nil }
            var value = value
            value[ChunkHeader.byteCount + 1234] ^= 0x01
            return value
        }
        try await directory.withStore { store throws in
            await expectStoreError(.integrityError, .blob(SHA256Hasher.digest(several))) {
                try store.read(tenant: acme, artifactId: severalId, offset: UInt64(chunkBytes), length: 10)
            }
            #expect(try store.verifyBlobs(tenant: acme).corrupt.map(\.sha256) == [SHA256Hasher.digest(several)])
            #expect(try readAll(store, acme, singleId) == single)
        }

        // A damaged SHA-256 header over intact data: the blob's digest still matches, and only the
        // chunk check (on its own thread for blobs with such chunks) finds it.
        let mixedKey = Keys.chunk(extent: try directory.extent(ofBlob: uploaded), index: 0)
        try directory.rewriteChunks { key, value in
            guard key == mixedKey else { return nil }
            var value = value
            value[5] ^= 0x40
            return value
        }
        try await directory.withStore { store throws in
            #expect(
                Set(try store.verifyBlobs(tenant: acme).corrupt.map(\.sha256))
                    == [SHA256Hasher.digest(several), SHA256Hasher.digest(uploaded)])
            #expect(try store.verifyBlob(tenant: acme, sha256: SHA256Hasher.digest(uploaded)).corrupt.count == 1)
            #expect(try readAll(store, acme, singleId) == single)
        }
    }

    /// Layout 6 moves artifacts and references under their tenant: a store
    /// written by layout 5 keeps every artifact, listing, reference and
    /// usage figure, and ids become each tenant's own.
    @Test func migrationSixKeysArtifactsByTenantAndKeepsEverything() async throws {
        let directory = StoreDirectory()
        let vex = provider("excititor:oci-openvex")
        let (metas, keyId) = try await directory.withStore({ $0.targetLayoutVersion = 5 }) { store in
            #expect(store.layoutVersion == 5)
            var metas: [ArtifactMeta] = []
            for index in 0..<8 {
                let tenant = index % 2 == 0 ? acme : globex
                metas.append(
                    try await stage(
                        store, tenant, pseudoRandomBytes(700, seed: 1300 + UInt64(index)),
                        providerId: index % 3 == 0 ? vex : provider("p")
                    ).meta)
            }
            let key = metas[0].artifactId
            _ = try await store.setProviderConfiguration(
                tenant: acme, providerId: vex, changes: ["cosignKey": .set(.artifactRef(key.uuidString.lowercased()))],
                expectedRevision: nil, actor: alice)
            return (metas, key)
        }
        try directory.giveArtifactsLegacyKeys()
        let legacyCount = try directory.rawCount(of: .legacyArtifacts)
        #expect(legacyCount == metas.count)
        #expect(try directory.rawCount(of: .legacyArtifactReferences) == 1)
        #expect(try directory.rawCount(of: .artifacts) == 0)

        try await directory.withStore { store in
            #expect(store.layoutVersion == 7)
            for tenant in [acme, globex] {
                #expect(try allArtifacts(store, tenant: tenant) == metas.filter { $0.tenant == tenant })
                #expect(try store.usage(tenant: tenant).artifactCount == 4)
                #expect(try store.verifyBlobs(tenant: tenant).corrupt.isEmpty)
            }
            for meta in metas {
                #expect(try store.meta(tenant: meta.tenant, artifactId: meta.artifactId) == meta)
            }
            // The reference still holds the artifact, under its tenant.
            #expect(try store.references(tenant: acme, artifactId: keyId).map(\.field) == ["cosignKey"])
            await expectStoreError(.artifactInUse) {
                try await store.delete(tenant: acme, artifactId: keyId, actor: alice)
            }
            // The id of acme's key is free in globex now.
            let reused = try await store.stage(
                tenant: globex, providerId: vex, mimeType: "text/plain", content: [7], artifactId: keyId, actor: alice)
            #expect(reused.meta.artifactId == keyId)
            #expect(try store.meta(tenant: acme, artifactId: keyId) == metas[0])
        }
        #expect(try directory.rawValue(for: MetaKey.layoutVersion, in: .meta) == bigEndian(7))
        #expect(try directory.rawCount(of: .artifacts) == metas.count + 1)
        #expect(try directory.rawCount(of: .artifactReferences) == 1)
        let legacyDatabases = try directory.withRawReadTransaction { txn in
            try [DatabaseName.legacyArtifacts, .legacyArtifactReferences].filter {
                try txn.openDatabase($0.rawValue, create: false) != nil
            }
        }
        #expect(legacyDatabases.isEmpty)
    }
}
