import CairnDigest
import CairnStore
import Foundation
import Testing

/// The audit log: what happened, who did it, in order, per tenant.
@Suite struct EventTests {
    let acme = tenant("acme")
    let globex = tenant("globex")

    @Test func writesAreRecordedInOrderWithTheirFacts() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let start = fixture.clock.now
        let content = pseudoRandomBytes(1234, seed: 601)

        let first = try await store.stage(
            tenant: acme, providerId: provider("excititor:oci-openvex"), mimeType: "application/json", content: content,
            actor: alice)
        fixture.clock.advance(by: 1.5)
        let upload = try await store.beginUpload(
            tenant: acme, providerId: provider("p"), mimeType: "text/plain", actor: bob)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: content, actor: bob)
        let second = try await store.commitUpload(uploadId: upload.uploadId, actor: bob)
        fixture.clock.advance(by: 2)
        _ = try await store.setQuota(
            tenant: acme, maxBytes: .set(5000), maxArtifacts: .unchanged, actor: Actor("uid:1001"))
        _ = try await store.setQuota(tenant: acme, maxBytes: .remove, maxArtifacts: .set(9), actor: alice)
        #expect(try await store.delete(tenant: acme, artifactId: first.meta.artifactId, actor: bob) == false)
        #expect(try await store.delete(tenant: acme, artifactId: second.meta.artifactId, actor: alice) == true)

        let page = try store.events(tenant: acme)
        #expect(page.nextCursor == nil)
        let events = page.events
        #expect(events.map(\.seq) == [1, 2, 3, 4, 5, 6])
        #expect(
            events.map(\.action) == [
                "artifact.created", "artifact.created", "quota.set", "quota.set", "artifact.deleted",
                "artifact.deleted",
            ])
        #expect(events.map(\.actor) == ["alice", "bob", "uid:1001", "alice", "bob", "alice"])
        #expect(events.map(\.at) == [start, start + 1.5, start + 3.5, start + 3.5, start + 3.5, start + 3.5])
        #expect(
            events.map(\.artifactId) == [
                first.meta.artifactId, second.meta.artifactId, nil, nil, first.meta.artifactId, second.meta.artifactId,
            ])
        let digest = SHA256Hasher.digest(content)
        #expect(events.map(\.sha256) == [digest, digest, nil, nil, digest, digest])
        #expect(events.map(\.providerId) == ["excititor:oci-openvex", "p", nil, nil, "excititor:oci-openvex", "p"])
        #expect(
            events.map(\.detail) == [
                #"{"sizeBytes":1234,"deduplicated":false}"#,
                #"{"sizeBytes":1234,"deduplicated":true}"#,
                #"{"maxBytes":5000,"maxArtifacts":null}"#,
                #"{"maxBytes":null,"maxArtifacts":9}"#,
                #"{"blobFreed":false}"#,
                #"{"blobFreed":true}"#,
            ])
        // The actor of a creation is the artifact's stagedBy.
        #expect(events[0].actor == first.meta.stagedBy && events[1].actor == second.meta.stagedBy)
    }

    @Test func eventsPageThroughACursor() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        for seed in 0..<5 { try await stage(store, acme, pseudoRandomBytes(10, seed: 610 + UInt64(seed))) }
        let first = try store.events(tenant: acme, limit: 2)
        #expect(first.events.map(\.seq) == [1, 2])
        let cursor1 = try #require(first.nextCursor)
        let second = try store.events(tenant: acme, limit: 2, cursor: cursor1)
        #expect(second.events.map(\.seq) == [3, 4])
        let cursor2 = try #require(second.nextCursor)
        let third = try store.events(tenant: acme, limit: 2, cursor: cursor2)
        #expect(third.events.map(\.seq) == [5])
        #expect(third.nextCursor == nil)
        let exact = try store.events(tenant: acme, limit: 3, cursor: cursor1)
        #expect(exact.events.map(\.seq) == [3, 4, 5])
        #expect(exact.nextCursor == nil)
        // New events continue after the last cursor.
        try await stage(store, acme, [1])
        let more = try store.events(tenant: acme, limit: 10, cursor: cursor2)
        #expect(more.events.map(\.seq) == [5, 6])
    }

    @Test func aTenantSeesOnlyItsOwnEvents() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        try await stage(store, acme, [1, 2, 3])
        _ = try await store.setQuota(tenant: acme, maxBytes: .set(1), maxArtifacts: .unchanged, actor: alice)
        #expect(try store.events(tenant: globex).events.isEmpty)
        #expect(try store.events(tenant: globex).nextCursor == nil)

        let staged = try await stage(store, globex, [1, 2, 3], actor: bob)
        let globexEvents = try store.events(tenant: globex).events
        // Numbering is per tenant: it says nothing about other tenants.
        #expect(globexEvents.map(\.seq) == [1])
        #expect(globexEvents.map(\.actor) == ["bob"])
        #expect(globexEvents.first?.artifactId == staged.meta.artifactId)
        #expect(try store.events(tenant: acme).events.map(\.seq) == [1, 2])
        #expect(try store.events(tenant: tenant("acme2")).events.isEmpty)
        #expect(try store.events(tenant: tenant("acm")).events.isEmpty)
    }

    @Test func failedWritesRecordNoEvent() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        _ = try await store.setQuota(tenant: acme, maxBytes: .set(10), maxArtifacts: .unchanged, actor: alice)
        await expectStoreError(.quotaExceeded) { try await stage(store, acme, pseudoRandomBytes(11, seed: 620)) }
        await expectStoreError(.notFound) { try await store.delete(tenant: acme, artifactId: UUID(), actor: alice) }
        await expectStoreError(.digestMismatch) {
            try await store.stage(
                tenant: acme, providerId: provider("p"), mimeType: "a/b", content: [1],
                expectedSHA256: SHA256Hasher.digest([2]),
                actor: alice)
        }
        #expect(try store.events(tenant: acme).events.map(\.action) == ["quota.set"])
        try await stage(store, acme, [5])
        #expect(try store.events(tenant: acme).events.map(\.seq) == [1, 2])
    }
}
