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

    /// `contents` and their bytes, one after the other, as a batch sends them.
    func attached(_ contents: [[UInt8]]) -> (contents: [ImportContent], bytes: [UInt8]) {
        (
            contents.map { ImportContent(sha256: SHA256Hasher.digest($0), sizeBytes: UInt64($0.count)) },
            contents.flatMap { $0 }
        )
    }

    @Test func aBatchCreatesFromHeldAndBroughtContentInOneTransaction() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let held = Array("held".utf8)
        _ = try await stage(store, acme, held)
        let fresh = pseudoRandomBytes(5000, seed: 0x2B)
        let empty: [UInt8] = []
        let entries = [
            importing(held), importing(fresh), importing(fresh, mimeType: "text/plain"), importing(empty),
            importing(Array("missing".utf8)),
        ]
        // `held` is brought again and ignored; `fresh` once serves two entries.
        let (contents, bytes) = attached([fresh, empty, held])
        let dispositions = try await store.importArtifacts(
            tenant: acme, entries: entries, contents: contents, bytes: bytes, actor: bob)
        #expect(dispositions == [.link, .link, .link, .link, .needsContent])
        #expect(try readAll(store, acme, entries[1].artifactId) == fresh)
        #expect(try readAll(store, acme, entries[2].artifactId) == fresh)
        #expect(try store.meta(tenant: acme, artifactId: entries[3].artifactId).sizeBytes == 0)
        let usage = try store.usage(tenant: acme)
        #expect(usage.artifactCount == 5)
        #expect(usage.storedBytes == UInt64(held.count + fresh.count))
        #expect(usage.logicalBytes == UInt64(2 * held.count + 2 * fresh.count))
        #expect(try store.verifyEventChain(tenant: acme, anchor: nil).problems.isEmpty)

        // Again: nothing changes, not even an event.
        let manifest = try store.manifest(tenant: acme)
        #expect(
            try await store.importArtifacts(
                tenant: acme, entries: entries, contents: contents, bytes: bytes, actor: bob)
                == [.present, .present, .present, .present, .needsContent])
        #expect(try store.manifest(tenant: acme) == manifest)
    }

    @Test func aBatchIsAllOrNothing() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let taken = try await stage(store, acme, Array("taken".utf8))
        let one = Array("one".utf8)
        let two = Array("two".utf8)
        let before = try store.manifest(tenant: acme)
        let (contents, bytes) = attached([one, two])

        // A conflict after entries that would have been created.
        await expectStoreError(.conflict, .field("artifactId")) {
            try await store.importArtifacts(
                tenant: acme, entries: [importing(one), importing(two, id: taken.meta.artifactId)],
                contents: contents, bytes: bytes, actor: alice)
        }
        // A content that is not what its digest says.
        var lying = bytes
        lying[0] ^= 1
        await expectStoreError(.digestMismatch) {
            try await store.importArtifacts(
                tenant: acme, entries: [importing(one), importing(two)], contents: contents, bytes: lying, actor: alice)
        }
        // Sizes that do not add up to the bytes.
        await expectStoreError(.invalidArgument, .field("contents")) {
            try await store.importArtifacts(
                tenant: acme, entries: [importing(one)], contents: contents, bytes: Array(bytes.dropLast()),
                actor: alice)
        }
        // An entry whose size is not that of the content brought for its digest.
        var wrongSize = importing(one)
        wrongSize.sizeBytes = 4
        await expectStoreError(.conflict) {
            try await store.importArtifacts(
                tenant: acme, entries: [importing(two), wrongSize], contents: contents, bytes: bytes, actor: alice)
        }
        // A quota the second artifact would pass.
        _ = try await store.setQuota(tenant: acme, maxBytes: .unchanged, maxArtifacts: .set(2), actor: alice)
        let withQuota = try store.manifest(tenant: acme)
        await expectStoreError(.quotaExceeded) {
            try await store.importArtifacts(
                tenant: acme, entries: [importing(one), importing(two)], contents: contents, bytes: bytes, actor: alice)
        }
        #expect(try store.manifest(tenant: acme) == withQuota)
        #expect(withQuota.artifacts == before.artifacts)
        #expect(try store.usage(tenant: acme).storedBytes == 5)
    }
}
