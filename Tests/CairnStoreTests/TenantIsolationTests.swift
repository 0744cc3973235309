import CairnDigest
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
}
