import CairnDigest
import Foundation
import Testing

@testable import CairnStore

/// Imports that keep artifact ids: planning without writes, linking to held
/// content, ids given at staging and commit, conflicts and quotas.
@Suite struct ImportTests {
    let acme = tenant("acme")
    let beta = tenant("beta")

    func importing(_ content: [UInt8], id: UUID = UUID(), providerId: String = "p", mimeType: String = "x/y")
        -> ImportEntry
    {
        ImportEntry(
            artifactId: id, sha256: SHA256Hasher.digest(content), sizeBytes: UInt64(content.count),
            providerId: provider(providerId), mimeType: mimeType)
    }

    @Test func aPlanSaysWhatAnImportWouldDoAndWritesNothing() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let held = try await stage(store, acme, Array("held".utf8), providerId: provider("p"))
        let others = try await stage(store, beta, Array("theirs".utf8))
        let present = ImportEntry(
            artifactId: held.meta.artifactId, sha256: held.meta.sha256, sizeBytes: 4, providerId: provider("p"),
            mimeType: held.meta.mimeType)
        let entries = [
            present, importing(Array("held".utf8)), importing(Array("new".utf8)), importing(Array("new".utf8)),
            importing(Array("theirs".utf8), id: others.meta.artifactId),
            importing(Array("held".utf8), id: held.meta.artifactId, mimeType: "other/type"),
        ]
        let before = try store.manifest(tenant: acme)
        let plan = try store.planImport(tenant: acme, entries: entries)
        // Another tenant's id is no conflict: ids are each tenant's own.
        #expect(plan.dispositions == [.present, .link, .needsContent, .needsContent, .needsContent, .conflict])
        #expect(plan.newArtifacts == 4)
        #expect(plan.newBytes == 3 + 6)
        #expect(plan.quotaProblem == nil)
        #expect(try store.manifest(tenant: acme) == before)

        _ = try await store.setQuota(tenant: acme, maxBytes: .set(6), maxArtifacts: .unchanged, actor: alice)
        let over = try store.planImport(tenant: acme, entries: Array(entries[1...3]))
        #expect(over.quotaProblem?.code == .quotaExceeded)
        #expect(over.quotaProblem?.detail == .quota(kind: .bytes, limit: 6, used: 4, requested: 3))
    }

    @Test func importingLinksHeldContentUnderTheGivenIds() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(3000, seed: 0x1A)
        let firstId = UUID()
        let staged = try await store.stage(
            tenant: acme, providerId: provider("p"), mimeType: "x/y", content: content, artifactId: firstId,
            actor: alice)
        #expect(staged.meta.artifactId == firstId)
        let secondId = UUID()
        let thirdId = UUID()
        let entries = [
            importing(content, id: firstId), importing(content, id: secondId),
            importing(Array("absent".utf8), id: thirdId),
        ]
        let dispositions = try await store.importArtifacts(tenant: acme, entries: entries, actor: bob)
        #expect(dispositions == [.present, .link, .needsContent])
        #expect(try store.meta(tenant: acme, artifactId: secondId).sha256 == SHA256Hasher.digest(content))
        #expect(try store.meta(tenant: acme, artifactId: secondId).stagedBy == "bob")
        #expect(try readAll(store, acme, secondId) == content)
        #expect(try store.usage(tenant: acme).artifactCount == 2)
        #expect(try store.usage(tenant: acme).storedBytes == 3000)

        // Idempotent: a second run changes nothing.
        let events = try store.manifest(tenant: acme).events
        #expect(
            try await store.importArtifacts(tenant: acme, entries: entries, actor: bob) == [
                .present, .present, .needsContent,
            ])
        #expect(try store.manifest(tenant: acme).events == events)

        // Content sent with the id: a commit under it.
        let upload = try await store.beginUpload(tenant: acme, providerId: provider("p"), mimeType: "x/y", actor: alice)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: Array("absent".utf8), actor: alice)
        let committed = try await store.commitUpload(uploadId: upload.uploadId, artifactId: thirdId, actor: alice)
        #expect(committed.meta.artifactId == thirdId)
        #expect(try store.planImport(tenant: acme, entries: entries).dispositions == [.present, .present, .present])
    }

    @Test func anIdInUseIsAConflictAndNothingIsWritten() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let mine = try await stage(store, acme, Array("mine".utf8))
        _ = try await stage(store, acme, Array("beta".utf8))
        let before = try store.manifest(tenant: acme)
        await expectStoreError(.conflict, .field("artifactId")) {
            try await store.importArtifacts(
                tenant: acme,
                entries: [importing(Array("beta".utf8)), importing(Array("beta".utf8), id: mine.meta.artifactId)],
                actor: alice)
        }
        #expect(try store.manifest(tenant: acme) == before)
        await expectStoreError(.conflict, .field("artifactId")) {
            try await store.stage(
                tenant: acme, providerId: provider("p"), mimeType: "x/y", content: [1],
                artifactId: mine.meta.artifactId,
                actor: alice)
        }
        let upload = try await store.beginUpload(tenant: acme, providerId: provider("p"), mimeType: "x/y", actor: alice)
        await expectStoreError(.conflict) {
            try await store.commitUpload(uploadId: upload.uploadId, artifactId: mine.meta.artifactId, actor: alice)
        }
        // The upload stays open after the refused commit.
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == 0)
    }
}
