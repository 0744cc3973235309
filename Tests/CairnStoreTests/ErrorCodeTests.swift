import CairnDigest
import CairnStore
import Foundation
import Testing

/// Each of the contract's error codes, with its detail, and nothing written
/// when a write fails.
@Suite struct ErrorCodeTests {
    let acme = tenant("acme")

    func begin(
        _ store: ArtifactStore, declaredSize: UInt64? = nil, expectedSHA256: SHA256Digest? = nil
    ) async throws -> UploadStatus {
        try await store.beginUpload(
            tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", declaredSize: declaredSize,
            expectedSHA256: expectedSHA256, actor: alice)
    }

    /// Usage, artifacts and events of `acme`, to show a failure wrote nothing.
    func snapshot(_ store: ArtifactStore) throws -> (TenantUsage, [ArtifactMeta], [AuditEvent]) {
        (try store.usage(tenant: acme), try allArtifacts(store, tenant: acme), try allEvents(store, tenant: acme))
    }

    @Test func notFoundNamesWhatIsMissing() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        try await stage(store, acme, [1, 2, 3])
        let nowhere = UUID()
        await expectStoreError(.notFound, .what("artifact")) { try store.meta(tenant: acme, artifactId: nowhere) }
        await expectStoreError(.notFound, .what("artifact")) {
            try store.read(tenant: acme, artifactId: nowhere, length: 1)
        }
        await expectStoreError(.notFound, .what("artifact")) {
            try await store.delete(tenant: acme, artifactId: nowhere, actor: alice)
        }
        await expectStoreError(.notFound, .what("blob")) {
            try store.stat(tenant: acme, sha256: SHA256Hasher.digest([9]))
        }
        await expectStoreError(.notFound, .what("upload")) { try store.uploadStatus(uploadId: nowhere, actor: alice) }
        await expectStoreError(.notFound, .what("upload")) {
            try await store.append(uploadId: nowhere, offset: 0, bytes: [1], actor: alice)
        }
        await expectStoreError(.notFound, .what("upload")) {
            try await store.commitUpload(uploadId: nowhere, actor: alice)
        }
        await expectStoreError(.notFound, .what("upload")) {
            try await store.abortUpload(uploadId: nowhere, actor: alice)
        }
        #expect(try store.usage(tenant: acme).artifactCount == 1)
        #expect(try allEvents(store, tenant: acme).count == 1)
    }

    @Test func aDeletedArtifactIsNotFound() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let staged = try await stage(store, acme, [4, 5, 6])
        let id = staged.meta.artifactId
        #expect(try await store.delete(tenant: acme, artifactId: id, actor: alice))
        await expectStoreError(.notFound, .what("artifact")) { try store.meta(tenant: acme, artifactId: id) }
        await expectStoreError(.notFound, .what("artifact")) { try store.read(tenant: acme, artifactId: id, length: 3) }
        await expectStoreError(.notFound, .what("artifact")) {
            try await store.delete(tenant: acme, artifactId: id, actor: alice)
        }
        #expect(try store.usage(tenant: acme).artifactCount == 0)
        #expect(try allEvents(store, tenant: acme).map(\.action) == ["artifact.created", "artifact.deleted"])
    }

    @Test func tooLargeAtStageBeginAndAppend() async throws {
        let fixture = try StoreFixture { $0.maxArtifactBytes = 1000 }
        let store = fixture.store
        await expectStoreError(.tooLarge, .limit(1000)) {
            try await stage(store, acme, pseudoRandomBytes(1001, seed: 81))
        }
        await expectStoreError(.tooLarge, .limit(1000)) { try await begin(store, declaredSize: 1001) }
        #expect(try store.health().openUploads == 0)
        #expect(try store.usage(tenant: acme).artifactCount == 0)
        // The limit itself is allowed.
        try await stage(store, acme, pseudoRandomBytes(1000, seed: 82))

        let content = pseudoRandomBytes(1000, seed: 83)
        let upload = try await begin(store)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: Array(content[..<600]), actor: alice)
        await expectStoreError(.tooLarge, .limit(1000)) {
            try await store.append(
                uploadId: upload.uploadId, offset: 600, bytes: pseudoRandomBytes(401, seed: 84), actor: alice)
        }
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == 600)
        _ = try await store.append(uploadId: upload.uploadId, offset: 600, bytes: Array(content[600...]), actor: alice)
        // The refused append left no trace in the running digest.
        let committed = try await store.commitUpload(
            uploadId: upload.uploadId, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        #expect(try readAll(store, acme, committed.meta.artifactId) == content)
    }

    @Test func digestMismatchAtStage() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(3000, seed: 85)
        let wrong = SHA256Hasher.digest([0])
        await expectStoreError(.digestMismatch, .digests(expected: wrong, actual: SHA256Hasher.digest(content))) {
            try await store.stage(
                tenant: acme, providerId: provider("p"), mimeType: "text/plain", content: content,
                expectedSHA256: wrong, actor: alice)
        }
        let (usage, artifacts, events) = try snapshot(store)
        #expect(usage.artifactCount == 0 && usage.storedBytes == 0)
        #expect(artifacts.isEmpty && events.isEmpty)
        let right = try await store.stage(
            tenant: acme, providerId: provider("p"), mimeType: "text/plain", content: content,
            expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        #expect(right.deduplicated == false)
    }

    @Test func digestMismatchAtCommitWithTheDigestGivenAtBegin() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(2500, seed: 86)
        let expected = SHA256Hasher.digest(pseudoRandomBytes(2500, seed: 87))
        let upload = try await begin(store, expectedSHA256: expected)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: content, actor: alice)
        await expectStoreError(.digestMismatch, .digests(expected: expected, actual: SHA256Hasher.digest(content))) {
            try await store.commitUpload(uploadId: upload.uploadId, actor: alice)
        }
        // The digest given at begin holds even when the commit names the right one.
        await expectStoreError(.digestMismatch, .digests(expected: expected, actual: SHA256Hasher.digest(content))) {
            try await store.commitUpload(
                uploadId: upload.uploadId, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        }
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == 2500)
        #expect(try store.usage(tenant: acme).artifactCount == 0)
        try await store.abortUpload(uploadId: upload.uploadId, actor: alice)
    }

    @Test func digestMismatchAtCommitWithTheDigestGivenAtCommit() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(chunkBytes + 3, seed: 88)
        let upload = try await begin(store)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: content, actor: alice)
        let wrong = SHA256Hasher.digest(Array(content.dropFirst()))
        await expectStoreError(.digestMismatch, .digests(expected: wrong, actual: SHA256Hasher.digest(content))) {
            try await store.commitUpload(uploadId: upload.uploadId, expectedSHA256: wrong, actor: alice)
        }
        let (usage, artifacts, events) = try snapshot(store)
        #expect(usage.artifactCount == 0 && artifacts.isEmpty && events.isEmpty)
        let committed = try await store.commitUpload(
            uploadId: upload.uploadId, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        #expect(try readAll(store, acme, committed.meta.artifactId) == content)
    }

    @Test func sizeMismatchShortOfTheDeclaredSizeAndPastIt() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(1000, seed: 89)
        let upload = try await begin(store, declaredSize: 1000)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: Array(content[..<400]), actor: alice)
        await expectStoreError(.sizeMismatch, .sizes(expected: 1000, actual: 400)) {
            try await store.commitUpload(uploadId: upload.uploadId, actor: alice)
        }
        await expectStoreError(.sizeMismatch, .sizes(expected: 1000, actual: 1001)) {
            try await store.append(
                uploadId: upload.uploadId, offset: 400, bytes: pseudoRandomBytes(601, seed: 90), actor: alice)
        }
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == 400)
        #expect(try store.usage(tenant: acme).artifactCount == 0)
        _ = try await store.append(uploadId: upload.uploadId, offset: 400, bytes: Array(content[400...]), actor: alice)
        let committed = try await store.commitUpload(
            uploadId: upload.uploadId, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        #expect(try readAll(store, acme, committed.meta.artifactId) == content)
    }

    @Test func offsetMismatchReportsTheCurrentOffset() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(300, seed: 91)
        let upload = try await begin(store)
        await expectStoreError(.offsetMismatch, .offset(0)) {
            try await store.append(uploadId: upload.uploadId, offset: 5, bytes: [1], actor: alice)
        }
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: Array(content[..<100]), actor: alice)
        for wrong: UInt64 in [0, 99, 101, 1 << 40] {
            await expectStoreError(.offsetMismatch, .offset(100)) {
                try await store.append(uploadId: upload.uploadId, offset: wrong, bytes: [2], actor: alice)
            }
        }
        // A repeated append (a retry after a lost answer) is refused, not stored twice.
        await expectStoreError(.offsetMismatch, .offset(100)) {
            try await store.append(uploadId: upload.uploadId, offset: 0, bytes: Array(content[..<100]), actor: alice)
        }
        _ = try await store.append(uploadId: upload.uploadId, offset: 100, bytes: Array(content[100...]), actor: alice)
        let committed = try await store.commitUpload(
            uploadId: upload.uploadId, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        #expect(try readAll(store, acme, committed.meta.artifactId) == content)
    }

    @Test func invalidParams() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let staged = try await stage(store, acme, pseudoRandomBytes(100, seed: 92))
        let id = staged.meta.artifactId

        for limit in [0, -1, 1001] {
            await expectStoreError(.invalidArgument, .field("limit")) { try store.list(tenant: acme, limit: limit) }
            await expectStoreError(.invalidArgument, .field("limit")) {
                try store.list(tenant: acme, providerId: provider("p"), limit: limit)
            }
            await expectStoreError(.invalidArgument, .field("limit")) { try store.events(tenant: acme, limit: limit) }
        }
        #expect(try store.list(tenant: acme, limit: 1000).artifacts.count == 1)
        #expect(try store.list(tenant: acme, limit: 1).artifacts.count == 1)

        let badCursors = [
            "", "garbage", "c1.", "c1.0001", "c2.0000000000000001", "c1.000000000000000g", "c1.ffffffffffffffff",
            "c1.00000000000000001", " c1.0000000000000001", "C1.0000000000000001",
        ]
        for cursor in badCursors {
            await expectStoreError(.invalidArgument, .field("cursor")) { try store.list(tenant: acme, cursor: cursor) }
            await expectStoreError(.invalidArgument, .field("cursor")) {
                try store.events(tenant: acme, cursor: cursor)
            }
        }

        for mimeType in ["", "text/plain\n", "tëxt/plain", String(repeating: "a", count: 256), "a\u{0}b"] {
            await expectStoreError(.invalidArgument, .field("mimeType")) {
                try await store.stage(
                    tenant: acme, providerId: provider("p"), mimeType: mimeType, content: [1], actor: alice)
            }
            await expectStoreError(.invalidArgument, .field("mimeType")) {
                try await store.beginUpload(tenant: acme, providerId: provider("p"), mimeType: mimeType, actor: alice)
            }
        }
        let longest = try await store.stage(
            tenant: acme, providerId: provider("p"), mimeType: String(repeating: "a", count: 255), content: [1],
            actor: alice)
        #expect(longest.meta.mimeType.count == 255)
        let spaced = try await store.stage(
            tenant: acme, providerId: provider("p"), mimeType: "text/plain; charset=utf-8", content: [2], actor: alice)
        #expect(spaced.meta.mimeType == "text/plain; charset=utf-8")

        await expectStoreError(.invalidArgument, .field("length")) {
            try store.read(tenant: acme, artifactId: id, length: -1)
        }
        // The end itself is a valid offset: no bytes, at the end. An offset
        // past the end is clamped to it.
        for offset: UInt64 in [100, 101, UInt64.max] {
            let atEnd = try store.read(tenant: acme, artifactId: id, offset: offset, length: 10)
            #expect(atEnd.bytes.isEmpty && atEnd.eof && atEnd.sizeBytes == 100 && atEnd.offset == 100)
        }
        // A range past the end is clamped.
        let clamped = try store.read(tenant: acme, artifactId: id, offset: 90, length: Int.max)
        #expect(clamped.bytes == Array(pseudoRandomBytes(100, seed: 92)[90...]) && clamped.eof)

        #expect(try store.health().openUploads == 0)
        #expect(try store.usage(tenant: acme).artifactCount == 3)
    }

    /// A cursor is `c1.` and 16 lowercase hex digits; Swift's integer
    /// parser also takes a sign, which the store never writes.
    @Test func aCursorWithASignIsRefused() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        try await stage(store, acme, [1])
        for cursor in ["c1.+000000000000001", "c1.-000000000000000"] {
            await expectStoreError(.invalidArgument, .field("cursor")) { try store.list(tenant: acme, cursor: cursor) }
            await expectStoreError(.invalidArgument, .field("cursor")) {
                try store.events(tenant: acme, cursor: cursor)
            }
        }
    }
}
