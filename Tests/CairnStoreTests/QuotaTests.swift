import CairnDigest
import CairnStore
import Foundation
import Testing

/// Quotas refuse a write that would pass them, with exact figures, and
/// nothing else.
@Suite struct QuotaTests {
    let acme = tenant("acme")

    func setQuota(_ store: ArtifactStore, bytes: QuotaChange = .unchanged, artifacts: QuotaChange = .unchanged)
        async throws
    {
        _ = try await store.setQuota(tenant: acme, maxBytes: bytes, maxArtifacts: artifacts, actor: alice)
    }

    func begin(
        _ store: ArtifactStore, declaredSize: UInt64? = nil, expectedSHA256: SHA256Digest? = nil
    ) async throws -> UploadStatus {
        try await store.beginUpload(
            tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", declaredSize: declaredSize,
            expectedSHA256: expectedSHA256, actor: alice)
    }

    @Test func byteQuotaAtStage() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        try await setQuota(store, bytes: .set(1000))
        let six = pseudoRandomBytes(600, seed: 61)
        try await stage(store, acme, six)
        let eventCount = try allEvents(store, tenant: acme).count

        await expectStoreError(.quotaExceeded, .quota(kind: .bytes, limit: 1000, used: 600, requested: 401)) {
            try await stage(store, acme, pseudoRandomBytes(401, seed: 62))
        }
        var usage = try store.usage(tenant: acme)
        #expect(usage.artifactCount == 1 && usage.storedBytes == 600 && usage.logicalBytes == 600)
        #expect(try allEvents(store, tenant: acme).count == eventCount)
        #expect(try allArtifacts(store, tenant: acme).count == 1)

        // Reaching the quota exactly is allowed.
        try await stage(store, acme, pseudoRandomBytes(400, seed: 63))
        #expect(try store.usage(tenant: acme).storedBytes == 1000)
        await expectStoreError(.quotaExceeded, .quota(kind: .bytes, limit: 1000, used: 1000, requested: 1)) {
            try await stage(store, acme, [7])
        }
        // Content the tenant already holds costs no stored bytes.
        let again = try await stage(store, acme, six)
        #expect(again.deduplicated)
        // Nor does empty content.
        try await stage(store, acme, [])
        usage = try store.usage(tenant: acme)
        #expect(usage.artifactCount == 4 && usage.storedBytes == 1000 && usage.logicalBytes == 1600)
    }

    @Test func artifactQuotaAtStage() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        try await setQuota(store, artifacts: .set(2))
        let content = pseudoRandomBytes(50, seed: 64)
        try await stage(store, acme, content)
        try await stage(store, acme, pseudoRandomBytes(50, seed: 65))
        // A duplicate is still an artifact.
        await expectStoreError(.quotaExceeded, .quota(kind: .artifacts, limit: 2, used: 2, requested: 1)) {
            try await stage(store, acme, content)
        }
        #expect(try store.stat(tenant: acme, sha256: SHA256Hasher.digest(content)).refCount == 1)
        let usage = try store.usage(tenant: acme)
        #expect(usage.artifactCount == 2 && usage.logicalBytes == 100 && usage.maxArtifacts == 2)
    }

    @Test func aDeclaredSizeOverTheQuotaFailsAtBegin() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let held = pseudoRandomBytes(300, seed: 66)
        try await stage(store, acme, held)
        try await setQuota(store, bytes: .set(1000))

        await expectStoreError(.quotaExceeded, .quota(kind: .bytes, limit: 1000, used: 300, requested: 701)) {
            try await begin(store, declaredSize: 701)
        }
        #expect(try store.health().openUploads == 0)
        let exact = try await begin(store, declaredSize: 700)
        #expect(exact.offset == 0 && exact.declaredSize == 700)

        // A declared size over the quota is fine for content the tenant holds.
        let big = pseudoRandomBytes(2000, seed: 67)
        try await setQuota(store, bytes: .remove)
        let bigStaged = try await stage(store, acme, big)
        try await setQuota(store, bytes: .set(2300))
        await expectStoreError(.quotaExceeded, .quota(kind: .bytes, limit: 2300, used: 2300, requested: 2000)) {
            try await begin(
                store, declaredSize: 2000, expectedSHA256: SHA256Hasher.digest(pseudoRandomBytes(2000, seed: 68)))
        }
        let duplicate = try await begin(store, declaredSize: 2000, expectedSHA256: bigStaged.meta.sha256)
        _ = try await store.append(uploadId: duplicate.uploadId, offset: 0, bytes: big, actor: alice)
        let committed = try await store.commitUpload(uploadId: duplicate.uploadId, actor: alice)
        #expect(committed.deduplicated)
        #expect(try store.usage(tenant: acme).storedBytes == 2300)
    }

    @Test func artifactQuotaAtBegin() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        try await setQuota(store, artifacts: .set(1))
        try await stage(store, acme, [1, 2, 3])
        await expectStoreError(.quotaExceeded, .quota(kind: .artifacts, limit: 1, used: 1, requested: 1)) {
            try await begin(store)
        }
        #expect(try store.health().openUploads == 0)
    }

    @Test func byteQuotaAtCommit() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        try await setQuota(store, bytes: .set(1000))
        let content = pseudoRandomBytes(1001, seed: 69)
        let upload = try await begin(store)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: content, actor: alice)
        await expectStoreError(.quotaExceeded, .quota(kind: .bytes, limit: 1000, used: 0, requested: 1001)) {
            try await store.commitUpload(uploadId: upload.uploadId, actor: alice)
        }
        // The upload stays open and nothing was counted.
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == 1001)
        let usage = try store.usage(tenant: acme)
        #expect(usage.artifactCount == 0 && usage.storedBytes == 0 && usage.logicalBytes == 0)
        #expect(try allEvents(store, tenant: acme).map(\.action) == ["quota.set"])

        try await setQuota(store, bytes: .set(1001))
        let committed = try await store.commitUpload(
            uploadId: upload.uploadId, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        #expect(try readAll(store, acme, committed.meta.artifactId) == content)
        #expect(try store.usage(tenant: acme).storedBytes == 1001)
    }

    @Test func theQuotaIsEnforcedAgainAtCommit() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        try await setQuota(store, bytes: .set(1000), artifacts: .set(2))
        // Open uploads reserve nothing: a stage in between can use up the quota.
        let upload = try await begin(store, declaredSize: 600)
        _ = try await store.append(
            uploadId: upload.uploadId, offset: 0, bytes: pseudoRandomBytes(600, seed: 70), actor: alice)
        try await stage(store, acme, pseudoRandomBytes(500, seed: 71))
        await expectStoreError(.quotaExceeded, .quota(kind: .bytes, limit: 1000, used: 500, requested: 600)) {
            try await store.commitUpload(uploadId: upload.uploadId, actor: alice)
        }
        try await stage(store, acme, [9])
        await expectStoreError(.quotaExceeded, .quota(kind: .artifacts, limit: 2, used: 2, requested: 1)) {
            try await store.commitUpload(uploadId: upload.uploadId, actor: alice)
        }
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == 600)
        #expect(try store.usage(tenant: acme).artifactCount == 2)
    }

    @Test func setQuotaSetsLeavesAndRemoves() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        try await stage(store, acme, pseudoRandomBytes(800, seed: 72))
        var usage = try await store.setQuota(tenant: acme, maxBytes: .set(100), maxArtifacts: .set(5), actor: alice)
        // Lowering below current usage is allowed; it refuses further writes.
        #expect(usage.maxBytes == 100 && usage.maxArtifacts == 5)
        #expect(usage.storedBytes == 800 && usage.artifactCount == 1 && usage.tenant == acme)
        #expect(try store.usage(tenant: acme) == usage)
        await expectStoreError(.quotaExceeded, .quota(kind: .bytes, limit: 100, used: 800, requested: 1)) {
            try await stage(store, acme, [1])
        }
        usage = try await store.setQuota(tenant: acme, maxBytes: .unchanged, maxArtifacts: .remove, actor: alice)
        #expect(usage.maxBytes == 100 && usage.maxArtifacts == nil)
        usage = try await store.setQuota(tenant: acme, maxBytes: .remove, maxArtifacts: .unchanged, actor: alice)
        #expect(usage.maxBytes == nil && usage.maxArtifacts == nil)
        try await stage(store, acme, [1])
        #expect(try store.usage(tenant: acme).storedBytes == 801)

        // An unused tenant has zero usage and no quotas.
        let fresh = try store.usage(tenant: tenant("nobody"))
        #expect(fresh.artifactCount == 0 && fresh.storedBytes == 0 && fresh.logicalBytes == 0)
        #expect(fresh.maxBytes == nil && fresh.maxArtifacts == nil)
    }

    @Test func quotasSurviveARestart() async throws {
        let directory = StoreDirectory()
        try await directory.withStore { store in
            _ = try await store.setQuota(tenant: acme, maxBytes: .set(10), maxArtifacts: .set(3), actor: alice)
        }
        try await directory.withStore { store in
            let usage = try store.usage(tenant: acme)
            #expect(usage.maxBytes == 10 && usage.maxArtifacts == 3)
            await expectStoreError(.quotaExceeded, .quota(kind: .bytes, limit: 10, used: 0, requested: 11)) {
                try await stage(store, acme, pseudoRandomBytes(11, seed: 73))
            }
        }
    }
}
