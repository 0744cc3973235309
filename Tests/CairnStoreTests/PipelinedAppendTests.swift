import CairnDigest
import CairnStore
import Foundation
import Testing

/// Appends accepted before earlier ones are stored (`beginAppend`): the
/// writer stores them together, each still succeeds or fails on its own,
/// and a failure leaves the upload where the stored bytes end.
@Suite struct PipelinedAppendTests {
    let acme = tenant("acme")

    func begin(_ store: ArtifactStore, declaredSize: UInt64? = nil) async throws -> UUID {
        try await store.beginUpload(
            tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", declaredSize: declaredSize,
            actor: alice
        ).uploadId
    }

    /// Commits the upload expecting `content`'s digest and reads it back.
    func expectCommitReadsBack(_ store: ArtifactStore, _ uploadId: UUID, _ content: [UInt8]) async throws {
        let committed = try await store.commitUpload(
            uploadId: uploadId, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        #expect(try readAll(store, acme, committed.meta.artifactId) == content)
    }

    /// Pieces of odd sizes, so that chunks are split and merged across
    /// appends that are all in flight at once.
    @Test func appendsInFlightReadBackExactly() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(5 * chunkBytes + 12345, seed: 61)
        let uploadId = try await begin(store, declaredSize: UInt64(content.count))
        let sizes = [1, chunkBytes - 1, 3 * chunkBytes + 7, 100, chunkBytes]
        var pending: [PendingAppend] = []
        var offset = 0
        for size in sizes + [content.count - sizes.reduce(0, +)] {
            let accepted = try await store.beginAppend(
                uploadId: uploadId, offset: UInt64(offset), bytes: Array(content[offset..<offset + size]),
                actor: alice)
            offset += size
            #expect(accepted.end == UInt64(offset))
            pending.append(accepted)
        }
        for accepted in pending { #expect(try await accepted.stored() == accepted.end) }
        #expect(try store.uploadStatus(uploadId: uploadId, actor: alice).offset == UInt64(content.count))
        try await expectCommitReadsBack(store, uploadId, content)
    }

    /// The second of three appends in flight passes the declared size: it
    /// fails with SIZE_MISMATCH, the third behind it with OFFSET_MISMATCH at
    /// the stored offset, and the upload resumes from there.
    @Test func aFailedAppendFailsTheOnesBehindItAndTheUploadResumes() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(3 * chunkBytes, seed: 62)
        let uploadId = try await begin(store, declaredSize: UInt64(content.count))
        let first = try await store.beginAppend(
            uploadId: uploadId, offset: 0, bytes: Array(content[..<chunkBytes]), actor: alice)
        let tooLong = pseudoRandomBytes(3 * chunkBytes, seed: 63)
        let second = try await store.beginAppend(
            uploadId: uploadId, offset: UInt64(chunkBytes), bytes: tooLong, actor: alice)
        // Refused when it is accepted or when it is stored, depending on
        // whether the writer has already failed the second.
        let third = Task {
            try await store.beginAppend(uploadId: uploadId, offset: second.end, bytes: [1, 2, 3], actor: alice)
                .stored()
        }

        #expect(try await first.stored() == UInt64(chunkBytes))
        await expectStoreError(.sizeMismatch) { try await second.stored() }
        await expectStoreError(.offsetMismatch, .offset(UInt64(chunkBytes))) { try await third.value }

        let resumeAt = try store.uploadStatus(uploadId: uploadId, actor: alice).offset
        #expect(resumeAt == UInt64(chunkBytes))
        // The running digest follows the stored bytes, not the refused ones.
        let rest = try await store.beginAppend(
            uploadId: uploadId, offset: resumeAt, bytes: Array(content[chunkBytes...]), actor: alice)
        #expect(try await rest.stored() == UInt64(content.count))
        try await expectCommitReadsBack(store, uploadId, content)
    }

    /// An append must follow the ones already accepted, stored or not.
    @Test func anAppendAtTheStoredOffsetBehindAcceptedOnesIsRefused() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let uploadId = try await begin(store)
        let first = try await store.beginAppend(uploadId: uploadId, offset: 0, bytes: [1, 2, 3], actor: alice)
        await expectStoreError(.offsetMismatch, .offset(3)) {
            try await store.beginAppend(uploadId: uploadId, offset: 0, bytes: [9], actor: alice)
        }
        #expect(try await first.stored() == 3)
    }
}
