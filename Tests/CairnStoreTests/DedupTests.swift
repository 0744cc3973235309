import CairnDigest
import CairnStore
import Foundation
import StoreLayout
import Testing

/// Content is stored once per tenant, with exact reference counts, and
/// freed with its last artifact.
@Suite struct DedupTests {
    let acme = tenant("acme")

    @Test func sameContentIsStoredOnceWithExactReferenceCounts() async throws {
        let directory = StoreDirectory()
        let content = pseudoRandomBytes(chunkBytes + 1000, seed: 11)
        let digest = SHA256Hasher.digest(content)
        let size = UInt64(content.count)
        let firstStagedAt = directory.clock.now

        try await directory.withStore { store in
            let first = try await stage(store, acme, content)
            directory.clock.advance(by: 5)
            let second = try await store.stage(
                tenant: acme, providerId: provider("other"), mimeType: "text/plain", content: content, actor: bob)
            let third = try await stage(store, acme, content)
            let unrelated = try await stage(store, acme, pseudoRandomBytes(100, seed: 12))
            #expect(first.deduplicated == false)
            #expect(second.deduplicated)
            #expect(third.deduplicated)
            #expect(unrelated.deduplicated == false)
            #expect(Set([first, second, third].map(\.meta.artifactId)).count == 3)
            #expect(second.meta.sha256 == digest && second.meta.sizeBytes == size)
            #expect(second.meta.stagedBy == "bob" && second.meta.mimeType == "text/plain")

            let ids = [first, second, third].map(\.meta.artifactId)
            var stat = try store.stat(tenant: acme, sha256: digest)
            #expect(stat.refCount == 3)
            #expect(stat.artifactIds.count == 3)
            #expect(stat.artifactIds == ids.sorted { $0.uuidString.lowercased() < $1.uuidString.lowercased() })
            #expect(stat.sizeBytes == size)
            #expect(stat.sha256 == digest)
            #expect(stat.storedAt == firstStagedAt)

            var usage = try store.usage(tenant: acme)
            #expect(usage.artifactCount == 4)
            #expect(usage.storedBytes == size + 100)
            #expect(usage.logicalBytes == 3 * size + 100)

            for id in ids { #expect(try readAll(store, acme, id) == content) }

            // Deleting one keeps the blob for the others.
            #expect(try await store.delete(tenant: acme, artifactId: second.meta.artifactId, actor: alice) == false)
            stat = try store.stat(tenant: acme, sha256: digest)
            #expect(stat.refCount == 2)
            #expect(Set(stat.artifactIds) == [first.meta.artifactId, third.meta.artifactId])
            #expect(try readAll(store, acme, third.meta.artifactId) == content)
            usage = try store.usage(tenant: acme)
            #expect(usage.artifactCount == 3 && usage.storedBytes == size + 100 && usage.logicalBytes == 2 * size + 100)

            #expect(try await store.delete(tenant: acme, artifactId: first.meta.artifactId, actor: alice) == false)
            #expect(try store.stat(tenant: acme, sha256: digest).refCount == 1)

            // Deleting the last frees it.
            #expect(try await store.delete(tenant: acme, artifactId: third.meta.artifactId, actor: alice) == true)
            await expectStoreError(.notFound, .what("blob")) { try store.stat(tenant: acme, sha256: digest) }
            await expectStoreError(.notFound, .what("artifact")) {
                try store.meta(tenant: acme, artifactId: third.meta.artifactId)
            }
            usage = try store.usage(tenant: acme)
            #expect(usage.artifactCount == 1 && usage.storedBytes == 100 && usage.logicalBytes == 100)

            try store.flush()
            #expect(try store.health().pendingReclaim == 0)
            #expect(try store.stat(tenant: acme, sha256: unrelated.meta.sha256).refCount == 1)
        }
        // What is left on disk: the unrelated artifact's one chunk and nothing else.
        #expect(try directory.rawCount(of: .chunks) == 1)
        #expect(try directory.rawCount(of: .blobs) == 1)
        #expect(try directory.rawCount(of: .blobArtifacts) == 1)
        #expect(try directory.rawCount(of: .garbage) == 0)
    }

    @Test func anUploadOfHeldContentIsDeduplicatedAndItsChunksReclaimed() async throws {
        let directory = StoreDirectory()
        let content = pseudoRandomBytes(2 * chunkBytes + 10, seed: 13)
        let digest = SHA256Hasher.digest(content)
        try await directory.withStore { store in
            let staged = try await stage(store, acme, content)
            let upload = try await store.beginUpload(
                tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream",
                declaredSize: UInt64(content.count), actor: alice)
            _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: content, actor: alice)
            let committed = try await store.commitUpload(
                uploadId: upload.uploadId, expectedSHA256: digest, actor: alice)
            #expect(committed.deduplicated)
            #expect(committed.meta.sha256 == digest)
            let stat = try store.stat(tenant: acme, sha256: digest)
            #expect(stat.refCount == 2)
            #expect(Set(stat.artifactIds) == [staged.meta.artifactId, committed.meta.artifactId])
            let usage = try store.usage(tenant: acme)
            #expect(usage.storedBytes == UInt64(content.count))
            #expect(usage.logicalBytes == 2 * UInt64(content.count))
            #expect(try readAll(store, acme, committed.meta.artifactId) == content)
            try store.flush()
            #expect(try store.health().pendingReclaim == 0)
            #expect(try store.health().openUploads == 0)
        }
        // Only one copy's chunks remain: the upload's duplicate extent was reclaimed.
        #expect(try directory.rawCount(of: .chunks) == 3)
    }

    @Test func stagingHeldContentReusesAnUploadedBlob() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(5000, seed: 14)
        let upload = try await store.beginUpload(
            tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", actor: alice)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: content, actor: alice)
        let committed = try await store.commitUpload(uploadId: upload.uploadId, actor: alice)
        #expect(committed.deduplicated == false)
        let staged = try await stage(store, acme, content)
        #expect(staged.deduplicated)
        #expect(try store.stat(tenant: acme, sha256: staged.meta.sha256).refCount == 2)
        #expect(try store.usage(tenant: acme).storedBytes == 5000)
    }

    @Test func contentStagedAgainAfterItWasFreedIsStoredAgain() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(3000, seed: 15)
        let first = try await stage(store, acme, content)
        #expect(try await store.delete(tenant: acme, artifactId: first.meta.artifactId, actor: alice))
        let again = try await stage(store, acme, content)
        #expect(again.deduplicated == false)
        #expect(try store.stat(tenant: acme, sha256: again.meta.sha256).refCount == 1)
        #expect(try store.usage(tenant: acme).storedBytes == 3000)
        #expect(try readAll(store, acme, again.meta.artifactId) == content)
        try store.flush()
        #expect(try store.health().pendingReclaim == 0)
        #expect(try readAll(store, acme, again.meta.artifactId) == content)
    }

    @Test func emptyContentIsDeduplicatedToo() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let first = try await stage(store, acme, [])
        let second = try await stage(store, acme, [])
        #expect(first.deduplicated == false)
        #expect(second.deduplicated)
        #expect(first.meta.sha256 == SHA256Hasher.digest([UInt8]()))
        let stat = try store.stat(tenant: acme, sha256: first.meta.sha256)
        #expect(stat.refCount == 2 && stat.sizeBytes == 0)
        let usage = try store.usage(tenant: acme)
        #expect(usage.artifactCount == 2 && usage.storedBytes == 0 && usage.logicalBytes == 0)
        #expect(try await store.delete(tenant: acme, artifactId: first.meta.artifactId, actor: alice) == false)
        #expect(try await store.delete(tenant: acme, artifactId: second.meta.artifactId, actor: alice))
        await expectStoreError(.notFound, .what("blob")) { try store.stat(tenant: acme, sha256: first.meta.sha256) }
    }
}
