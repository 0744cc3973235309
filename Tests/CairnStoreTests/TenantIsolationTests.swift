import CairnDigest
import CairnProviders
import CairnStore
import Foundation
import Testing

/// Nothing a tenant can observe tells it what another tenant stores.
@Suite struct TenantIsolationTests {
    let acme = tenant("acme")
    let globex = tenant("globex")

    @Test func sameContentInTwoTenantsIsStoredForEach() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(4096, seed: 21)
        let inAcme = try await stage(store, acme, content)
        let inGlobex = try await stage(store, globex, content)
        #expect(inAcme.deduplicated == false)
        #expect(inGlobex.deduplicated == false)
        for tenant in [acme, globex] {
            let usage = try store.usage(tenant: tenant)
            #expect(usage.artifactCount == 1 && usage.storedBytes == 4096 && usage.logicalBytes == 4096)
            #expect(try store.stat(tenant: tenant, sha256: inAcme.meta.sha256).refCount == 1)
        }
        #expect(try store.stat(tenant: acme, sha256: inAcme.meta.sha256).artifactIds == [inAcme.meta.artifactId])
        #expect(try store.stat(tenant: globex, sha256: inAcme.meta.sha256).artifactIds == [inGlobex.meta.artifactId])

        // Freeing one tenant's copy leaves the other's.
        #expect(try await store.delete(tenant: acme, artifactId: inAcme.meta.artifactId, actor: alice))
        try store.flush()
        #expect(try readAll(store, globex, inGlobex.meta.artifactId) == content)
        #expect(try store.usage(tenant: globex).storedBytes == 4096)
    }

    @Test func anotherTenantsArtifactIsNotFoundExactlyLikeNoArtifact() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(2000, seed: 22)
        let staged = try await stage(store, acme, content)
        let id = staged.meta.artifactId
        let digest = staged.meta.sha256
        let globexBefore = try store.usage(tenant: globex)
        let nowhere = UUID()

        let metaForeign = await expectStoreError(.notFound, .what("artifact")) {
            try store.meta(tenant: globex, artifactId: id)
        }
        let metaMissing = await expectStoreError(.notFound) { try store.meta(tenant: globex, artifactId: nowhere) }
        #expect(metaForeign == metaMissing)

        let readForeign = await expectStoreError(.notFound, .what("artifact")) {
            try store.read(tenant: globex, artifactId: id, length: 10)
        }
        let readMissing = await expectStoreError(.notFound) {
            try store.read(tenant: globex, artifactId: nowhere, length: 10)
        }
        #expect(readForeign == readMissing)

        let statForeign = await expectStoreError(.notFound, .what("blob")) {
            try store.stat(tenant: globex, sha256: digest)
        }
        let statMissing = await expectStoreError(.notFound) {
            try store.stat(tenant: globex, sha256: SHA256Hasher.digest([1, 2, 3]))
        }
        #expect(statForeign == statMissing)

        let deleteForeign = await expectStoreError(.notFound, .what("artifact")) {
            try await store.delete(tenant: globex, artifactId: id, actor: bob)
        }
        let deleteMissing = await expectStoreError(.notFound) {
            try await store.delete(tenant: globex, artifactId: nowhere, actor: bob)
        }
        #expect(deleteForeign == deleteMissing)

        // The failed attempts changed nothing on either side.
        #expect(try store.usage(tenant: globex) == globexBefore)
        #expect(try store.events(tenant: globex).events.isEmpty)
        #expect(try store.list(tenant: globex).artifacts.isEmpty)
        #expect(try readAll(store, acme, id) == content)
        let acmeUsage = try store.usage(tenant: acme)
        #expect(acmeUsage.artifactCount == 1 && acmeUsage.storedBytes == 2000)
        #expect(try store.stat(tenant: acme, sha256: digest).refCount == 1)
    }

    @Test func tenantsWhoseNamesArePrefixesOfEachOtherStaySeparate() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let names = ["a", "ab", "a.b", "a-b", "a0"]
        var staged: [String: CommittedArtifact] = [:]
        for (index, name) in names.enumerated() {
            staged[name] = try await stage(
                store, tenant(name), pseudoRandomBytes(100 + index, seed: 23 + UInt64(index)))
            _ = try await store.setQuota(
                tenant: tenant(name), maxBytes: .set(UInt64(1000 + index)), maxArtifacts: .unchanged, actor: alice)
        }
        for (index, name) in names.enumerated() {
            let tenant = tenant(name)
            #expect(try allArtifacts(store, tenant: tenant).map(\.artifactId) == [staged[name]!.meta.artifactId])
            #expect(
                try allArtifacts(store, tenant: tenant, providerId: provider("p")).map(\.artifactId) == [
                    staged[name]!.meta.artifactId
                ])
            let events = try allEvents(store, tenant: tenant)
            #expect(events.map(\.action) == ["artifact.created", "quota.set"])
            #expect(events.map(\.seq) == [1, 2])
            #expect(events.first?.artifactId == staged[name]!.meta.artifactId)
            let usage = try store.usage(tenant: tenant)
            #expect(usage.artifactCount == 1)
            #expect(usage.storedBytes == UInt64(100 + index))
            #expect(usage.maxBytes == UInt64(1000 + index))
        }
    }

    @Test func aTenantsUsageIsUnaffectedByAnothersWrites() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        _ = try await store.setQuota(tenant: globex, maxBytes: .set(500), maxArtifacts: .set(2), actor: bob)
        let before = try store.usage(tenant: globex)
        for seed in 0..<3 { try await stage(store, acme, pseudoRandomBytes(400, seed: 30 + UInt64(seed))) }
        _ = try await store.setQuota(tenant: acme, maxBytes: .set(5), maxArtifacts: .set(1), actor: alice)
        #expect(try store.usage(tenant: globex) == before)
        // Acme's quota is not globex's: globex may still write within its own.
        let inGlobex = try await stage(store, globex, pseudoRandomBytes(400, seed: 30))
        #expect(inGlobex.deduplicated == false)
        #expect(try store.usage(tenant: globex).storedBytes == 400)
    }
}

extension TenantIsolationTests {
    @Test func contentHeldByAnotherTenantCountsAgainstTheQuota() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(600, seed: 24)
        let inGlobex = try await stage(store, globex, content)
        _ = try await store.setQuota(tenant: acme, maxBytes: .set(500), maxArtifacts: .unchanged, actor: alice)

        // Deduplication across tenants would let acme store it for free, and
        // so tell acme that globex holds it.
        await expectStoreError(.quotaExceeded, .quota(kind: .bytes, limit: 500, used: 0, requested: 600)) {
            try await stage(store, acme, content)
        }
        await expectStoreError(.quotaExceeded, .quota(kind: .bytes, limit: 500, used: 0, requested: 600)) {
            try await store.beginUpload(
                tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", declaredSize: 600,
                expectedSHA256: inGlobex.meta.sha256, actor: alice)
        }
        let upload = try await store.beginUpload(
            tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", actor: alice)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: content, actor: alice)
        await expectStoreError(.quotaExceeded, .quota(kind: .bytes, limit: 500, used: 0, requested: 600)) {
            try await store.commitUpload(uploadId: upload.uploadId, actor: alice)
        }
        #expect(try store.usage(tenant: acme).artifactCount == 0)
    }

    /// Ids are a tenant's own: an id another tenant holds is free, whichever
    /// way it is supplied, and both tenants keep their artifact under it.
    @Test func anIdAnotherTenantHoldsIsFreeInEveryTenant() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let theirContent = pseudoRandomBytes(3000, seed: 23)
        let theirs = try await stage(store, acme, theirContent)
        let id = theirs.meta.artifactId
        let acmeEvents = try allEvents(store, tenant: acme)

        // Staged with the id, in one request.
        let content = pseudoRandomBytes(1500, seed: 24)
        let staged = try await store.stage(
            tenant: globex, providerId: provider("p"), mimeType: "text/plain", content: content, artifactId: id,
            actor: bob)
        #expect(staged.meta.artifactId == id)
        #expect(try readAll(store, globex, id) == content)
        #expect(try readAll(store, acme, id) == theirContent)
        #expect(try store.meta(tenant: acme, artifactId: id) == theirs.meta)

        // Committed from an upload with the id, in a third tenant.
        let initech = tenant("initech")
        let upload = try await store.beginUpload(
            tenant: initech, providerId: provider("p"), mimeType: "application/octet-stream", actor: bob)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: content, actor: bob)
        let committed = try await store.commitUpload(uploadId: upload.uploadId, artifactId: id, actor: bob)
        #expect(committed.meta.artifactId == id && committed.meta.tenant == initech)

        // Planned and imported with the id: another tenant's artifact is no conflict.
        let umbrella = tenant("umbrella")
        _ = try await stage(store, umbrella, content)
        let entry = ImportEntry(
            artifactId: id, sha256: staged.meta.sha256, sizeBytes: UInt64(content.count), providerId: provider("p"),
            mimeType: "text/plain")
        #expect(try store.planImport(tenant: umbrella, entries: [entry]).dispositions == [.link])
        #expect(try await store.importArtifacts(tenant: umbrella, entries: [entry], actor: bob) == [.link])
        #expect(try store.meta(tenant: umbrella, artifactId: id).sha256 == staged.meta.sha256)
        // Within a tenant the id is taken, as before.
        #expect(try store.planImport(tenant: globex, entries: [entry]).dispositions == [.present])
        await expectStoreError(.conflict, .field("artifactId")) {
            try await store.stage(
                tenant: globex, providerId: provider("p"), mimeType: "text/plain", content: [1], artifactId: id,
                actor: bob)
        }

        // Deleting one tenant's artifact leaves the others', and acme saw nothing of it all.
        #expect(try await store.delete(tenant: globex, artifactId: id, actor: bob))
        await expectStoreError(.notFound) { try store.meta(tenant: globex, artifactId: id) }
        #expect(try store.meta(tenant: acme, artifactId: id) == theirs.meta)
        #expect(try store.meta(tenant: initech, artifactId: id) == committed.meta)
        #expect(try allEvents(store, tenant: acme) == acmeEvents)
        #expect(try store.verifyBlobs(tenant: acme).corrupt.isEmpty)
    }

    /// A configuration referencing an id binds that tenant's artifact only:
    /// another tenant's artifact with the same id deletes freely.
    @Test func referencesBindOnlyTheTenantsOwnArtifact() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let vex = provider("excititor:oci-openvex")
        let key = try await stage(store, acme, Array("acme key".utf8), providerId: vex)
        let id = key.meta.artifactId
        _ = try await store.stage(
            tenant: globex, providerId: vex, mimeType: "application/octet-stream", content: Array("globex key".utf8),
            artifactId: id, actor: alice)
        _ = try await store.setProviderConfiguration(
            tenant: acme, providerId: vex, changes: ["cosignKey": .set(.artifactRef(id.uuidString.lowercased()))],
            expectedRevision: nil, actor: alice)

        #expect(try store.references(tenant: globex, artifactId: id).isEmpty)
        #expect(try await store.delete(tenant: globex, artifactId: id, actor: alice))
        await expectStoreError(.artifactInUse) { try await store.delete(tenant: acme, artifactId: id, actor: alice) }
        #expect(try store.references(tenant: acme, artifactId: id).map(\.field) == ["cosignKey"])
    }
}
