import CairnDigest
import Dispatch
import Foundation
import StoreLayout
import Testing

@testable import CairnStore

/// Uploads: invisible until committed, owned by who began them, resumable
/// across restarts, expiring when idle.
@Suite struct UploadTests {
    let acme = tenant("acme")

    func begin(
        _ store: ArtifactStore, declaredSize: UInt64? = nil, expectedSHA256: SHA256Digest? = nil, actor: Actor = alice
    ) async throws -> UploadStatus {
        try await store.beginUpload(
            tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", declaredSize: declaredSize,
            expectedSHA256: expectedSHA256, actor: actor)
    }

    @Test func nothingOfAnUploadIsVisibleBeforeItsCommit() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(chunkBytes + 500, seed: 41)
        let started = fixture.clock.now
        let upload = try await begin(store, declaredSize: UInt64(content.count))
        #expect(upload.offset == 0)
        #expect(upload.declaredSize == UInt64(content.count))
        #expect(upload.startedAt == started && upload.updatedAt == started)

        fixture.clock.advance(by: 7)
        let offset = try await store.append(
            uploadId: upload.uploadId, offset: 0, bytes: Array(content[..<1000]), actor: alice)
        #expect(offset == 1000)
        let status = try store.uploadStatus(uploadId: upload.uploadId, actor: alice)
        #expect(status.uploadId == upload.uploadId)
        #expect(status.tenant == acme)
        #expect(status.offset == 1000)
        #expect(status.declaredSize == UInt64(content.count))
        #expect(status.startedAt == started)
        #expect(status.updatedAt == started.addingTimeInterval(7))

        #expect(try store.list(tenant: acme).artifacts.isEmpty)
        #expect(try store.list(tenant: acme, providerId: provider("p")).artifacts.isEmpty)
        let usage = try store.usage(tenant: acme)
        #expect(usage.artifactCount == 0 && usage.logicalBytes == 0 && usage.storedBytes == 0)
        #expect(try store.events(tenant: acme).events.isEmpty)
        await expectStoreError(.notFound) { try store.stat(tenant: acme, sha256: SHA256Hasher.digest(content)) }
        #expect(try store.health().openUploads == 1)

        _ = try await store.append(
            uploadId: upload.uploadId, offset: 1000, bytes: Array(content[1000...]), actor: alice)
        let committed = try await store.commitUpload(uploadId: upload.uploadId, actor: alice)
        #expect(committed.meta.sha256 == SHA256Hasher.digest(content))
        #expect(committed.meta.sizeBytes == UInt64(content.count))
        #expect(committed.meta.stagedBy == "alice")
        #expect(committed.meta.stagedAt == started.addingTimeInterval(7))
        #expect(try store.list(tenant: acme).artifacts == [committed.meta])
        #expect(try store.meta(tenant: acme, artifactId: committed.meta.artifactId) == committed.meta)
        #expect(try store.usage(tenant: acme).storedBytes == UInt64(content.count))
        #expect(try store.health().openUploads == 0)
        await expectStoreError(.notFound, .what("upload")) {
            try store.uploadStatus(uploadId: upload.uploadId, actor: alice)
        }
        await expectStoreError(.notFound, .what("upload")) {
            try await store.append(uploadId: upload.uploadId, offset: UInt64(content.count), bytes: [1], actor: alice)
        }
        await expectStoreError(.notFound, .what("upload")) {
            try await store.commitUpload(uploadId: upload.uploadId, actor: alice)
        }
    }

    @Test func appendsAcrossChunkBoundariesReadBackExactly() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let pieces = [1, chunkBytes - 2, 1, 3, chunkBytes, 100, 0, 7]
        let content = pseudoRandomBytes(pieces.reduce(0, +), seed: 42)
        let upload = try await begin(store, declaredSize: UInt64(content.count))
        var offset = 0
        for piece in pieces {
            let next = try await store.append(
                uploadId: upload.uploadId, offset: UInt64(offset), bytes: Array(content[offset..<offset + piece]),
                actor: alice)
            offset += piece
            #expect(next == UInt64(offset))
        }
        let committed = try await store.commitUpload(
            uploadId: upload.uploadId, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        let id = committed.meta.artifactId
        #expect(try readAll(store, acme, id) == content)
        for (start, length) in [
            (0, 1), (chunkBytes - 1, 2), (chunkBytes, 1), (2 * chunkBytes - 5, 20), (content.count - 3, 10),
        ] {
            let range = try store.read(tenant: acme, artifactId: id, offset: UInt64(start), length: length)
            let end = min(content.count, start + length)
            #expect(range.bytes == Array(content[start..<end]), "range at \(start)")
            #expect(range.eof == (end == content.count))
            #expect(range.offset == UInt64(start))
        }
    }

    @Test func anAbortedUploadIsNotFoundAndItsChunksAreReclaimed() async throws {
        let directory = StoreDirectory()
        try await directory.withStore { store in
            let upload = try await begin(store)
            _ = try await store.append(
                uploadId: upload.uploadId, offset: 0, bytes: pseudoRandomBytes(chunkBytes + 1, seed: 43), actor: alice)
            try await store.abortUpload(uploadId: upload.uploadId, actor: alice)
            let id = upload.uploadId
            await expectStoreError(.notFound, .what("upload")) { try store.uploadStatus(uploadId: id, actor: alice) }
            await expectStoreError(.notFound, .what("upload")) {
                try await store.append(uploadId: id, offset: UInt64(chunkBytes + 1), bytes: [1], actor: alice)
            }
            await expectStoreError(.notFound, .what("upload")) {
                try await store.commitUpload(uploadId: id, actor: alice)
            }
            await expectStoreError(.notFound, .what("upload")) {
                try await store.abortUpload(uploadId: id, actor: alice)
            }
            try store.flush()
            let health = try store.health()
            #expect(health.openUploads == 0 && health.pendingReclaim == 0)
            #expect(try store.usage(tenant: acme).artifactCount == 0)
        }
        #expect(try directory.rawCount(of: .chunks) == 0)
        #expect(try directory.rawCount(of: .uploads) == 0)
    }

    @Test func anUploadBegunByAliceIsNotFoundForBob() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(3000, seed: 44)
        let upload = try await begin(store, declaredSize: 3000)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: Array(content[..<1000]), actor: alice)
        let id = upload.uploadId
        let nowhere = UUID()

        let status = await expectStoreError(.notFound, .what("upload")) {
            try store.uploadStatus(uploadId: id, actor: bob)
        }
        #expect(status == (await expectStoreError(.notFound) { try store.uploadStatus(uploadId: nowhere, actor: bob) }))
        let append = await expectStoreError(.notFound, .what("upload")) {
            try await store.append(uploadId: id, offset: 1000, bytes: Array(content[1000...]), actor: bob)
        }
        #expect(
            append
                == (await expectStoreError(.notFound) {
                    try await store.append(uploadId: nowhere, offset: 1000, bytes: [1], actor: bob)
                }))
        let commit = await expectStoreError(.notFound, .what("upload")) {
            try await store.commitUpload(uploadId: id, actor: bob)
        }
        #expect(
            commit
                == (await expectStoreError(.notFound) { try await store.commitUpload(uploadId: nowhere, actor: bob) }))
        let abort = await expectStoreError(.notFound, .what("upload")) {
            try await store.abortUpload(uploadId: id, actor: bob)
        }
        #expect(
            abort == (await expectStoreError(.notFound) { try await store.abortUpload(uploadId: nowhere, actor: bob) }))

        // Alice's upload is untouched by all that.
        #expect(try store.uploadStatus(uploadId: id, actor: alice).offset == 1000)
        _ = try await store.append(uploadId: id, offset: 1000, bytes: Array(content[1000...]), actor: alice)
        let committed = try await store.commitUpload(
            uploadId: id, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        #expect(try readAll(store, acme, committed.meta.artifactId) == content)
    }

    @Test func zeroByteArtifactsByStageAndByUpload() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let empty = SHA256Hasher.digest([UInt8]())
        let staged = try await store.stage(
            tenant: acme, providerId: provider("p"), mimeType: "text/plain", content: [], expectedSHA256: empty,
            actor: alice)
        #expect(staged.meta.sizeBytes == 0 && staged.meta.sha256 == empty)

        let declared = try await begin(store, declaredSize: 0)
        let viaDeclared = try await store.commitUpload(uploadId: declared.uploadId, expectedSHA256: empty, actor: alice)
        let undeclared = try await begin(store)
        _ = try await store.append(uploadId: undeclared.uploadId, offset: 0, bytes: [], actor: alice)
        let viaUndeclared = try await store.commitUpload(uploadId: undeclared.uploadId, actor: alice)
        #expect(viaDeclared.deduplicated && viaUndeclared.deduplicated)

        for artifact in [staged, viaDeclared, viaUndeclared] {
            let range = try store.read(tenant: acme, artifactId: artifact.meta.artifactId, length: 100)
            #expect(range.bytes.isEmpty && range.eof && range.sha256 == empty && range.sizeBytes == 0)
            #expect(try store.meta(tenant: acme, artifactId: artifact.meta.artifactId).sizeBytes == 0)
        }
        let usage = try store.usage(tenant: acme)
        #expect(usage.artifactCount == 3 && usage.storedBytes == 0 && usage.logicalBytes == 0)
        #expect(try store.stat(tenant: acme, sha256: empty).refCount == 3)
    }

    @Test func anUploadResumesAfterARestart() async throws {
        let directory = StoreDirectory()
        let content = pseudoRandomBytes(2 * chunkBytes + 300_000, seed: 45)
        let split = chunkBytes + chunkBytes / 2
        let uploadId = try await directory.withStore { store in
            let upload = try await begin(store, declaredSize: UInt64(content.count))
            _ = try await store.append(
                uploadId: upload.uploadId, offset: 0, bytes: Array(content[..<split]), actor: alice)
            return upload.uploadId
        }
        try await directory.withStore { store in
            let status = try store.uploadStatus(uploadId: uploadId, actor: alice)
            #expect(status.offset == UInt64(split))
            #expect(status.declaredSize == UInt64(content.count))
            await expectStoreError(.offsetMismatch, .offset(UInt64(split))) {
                try await store.append(uploadId: uploadId, offset: 0, bytes: [1], actor: alice)
            }
            let end = try await store.append(
                uploadId: uploadId, offset: UInt64(split), bytes: Array(content[split...]), actor: alice)
            #expect(end == UInt64(content.count))
            // Both checks were rebuilt from the stored chunks: the bytes before the restart count.
            let committed = try await store.commitUpload(
                uploadId: uploadId, expectedSHA256: SHA256Hasher.digest(content),
                expectedXXH128: XXH3Hash128.hash(content), actor: alice)
            #expect(committed.meta.sha256 == SHA256Hasher.digest(content))
            #expect(try readAll(store, acme, committed.meta.artifactId) == content)
        }
    }

    @Test func aCompleteUploadCommitsAfterARestart() async throws {
        let directory = StoreDirectory()
        let content = pseudoRandomBytes(chunkBytes + 12_345, seed: 46)
        let digest = SHA256Hasher.digest(content)
        let uploadId = try await directory.withStore { store in
            let upload = try await begin(store, expectedSHA256: digest)
            _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: content, actor: alice)
            return upload.uploadId
        }
        try await directory.withStore { store in
            let committed = try await store.commitUpload(uploadId: uploadId, actor: alice)
            #expect(committed.meta.sha256 == digest)
            #expect(committed.meta.sizeBytes == UInt64(content.count))
            #expect(try readAll(store, acme, committed.meta.artifactId) == content)
        }
    }

    @Test func anIdleUploadExpires() async throws {
        let fixture = try StoreFixture { $0.uploadIdleTimeout = .seconds(60) }
        let store = fixture.store
        let upload = try await begin(store)
        _ = try await store.append(
            uploadId: upload.uploadId, offset: 0, bytes: pseudoRandomBytes(5000, seed: 47), actor: alice)
        fixture.clock.advance(by: 60)
        // Idle for exactly the timeout is not yet longer than it.
        #expect(try await store.expireIdleUploads() == 0)
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == 5000)
        fixture.clock.advance(by: 1)
        #expect(try await store.expireIdleUploads() == 1)
        await expectStoreError(.notFound, .what("upload")) {
            try store.uploadStatus(uploadId: upload.uploadId, actor: alice)
        }
        await expectStoreError(.notFound, .what("upload")) {
            try await store.append(uploadId: upload.uploadId, offset: 5000, bytes: [1], actor: alice)
        }
        await expectStoreError(.notFound, .what("upload")) {
            try await store.commitUpload(uploadId: upload.uploadId, actor: alice)
        }
        #expect(try await store.expireIdleUploads() == 0)
        try store.flush()
        let health = try store.health()
        #expect(health.openUploads == 0 && health.pendingReclaim == 0)
    }

    @Test func aBeginThatWaitedForABusyWriterIsNotExpiredByTheSweepAfterIt() async throws {
        let fixture = try StoreFixture { $0.uploadIdleTimeout = .seconds(60) }
        let store = fixture.store
        // The writer is busy (a long flush, say) while a begin and then an expiry sweep queue up
        // behind it; meanwhile more than the idle timeout passes.
        let hold = DispatchSemaphore(value: 0)
        store.writer.enqueue { hold.wait() }
        let begun = Task { try await begin(store) }
        while store.writer.waitingCount < 1 { try await Task.sleep(for: .milliseconds(2)) }
        let swept = Task { try await store.expireIdleUploads() }
        while store.writer.waitingCount < 2 { try await Task.sleep(for: .milliseconds(2)) }
        fixture.clock.advance(by: 61)
        hold.signal()
        let upload = try await begun.value
        #expect(try await swept.value == 0)
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == 0)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: [1, 2, 3], actor: alice)
    }

    @Test func anUploadWithAnAppendWaitingForTheWriterIsNotIdle() async throws {
        let fixture = try StoreFixture { $0.uploadIdleTimeout = .seconds(60) }
        let store = fixture.store
        let upload = try await begin(store)
        // A sweep queues up behind a busy writer, then an append is accepted behind it, and the
        // idle timeout passes before the writer gets to either.
        let hold = DispatchSemaphore(value: 0)
        store.writer.enqueue { hold.wait() }
        let swept = Task { try await store.expireIdleUploads() }
        while store.writer.waitingCount < 1 { try await Task.sleep(for: .milliseconds(2)) }
        let pending = try await store.beginAppend(
            uploadId: upload.uploadId, offset: 0, bytes: [1, 2, 3], actor: alice)
        fixture.clock.advance(by: 61)
        hold.signal()
        #expect(try await swept.value == 0)
        #expect(try await pending.stored() == 3)
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == 3)
    }

    @Test func anExpiredUploadIsNotFoundEvenBeforeItIsSwept() async throws {
        let fixture = try StoreFixture { $0.uploadIdleTimeout = .seconds(60) }
        let store = fixture.store
        let upload = try await begin(store, declaredSize: 10)
        _ = try await store.append(
            uploadId: upload.uploadId, offset: 0, bytes: Array(repeating: 1, count: 10), actor: alice)
        fixture.clock.advance(by: 61)
        let id = upload.uploadId
        await expectStoreError(.notFound, .what("upload")) { try store.uploadStatus(uploadId: id, actor: alice) }
        await expectStoreError(.notFound, .what("upload")) {
            try await store.append(uploadId: id, offset: 10, bytes: [], actor: alice)
        }
        await expectStoreError(.notFound, .what("upload")) { try await store.commitUpload(uploadId: id, actor: alice) }
        await expectStoreError(.notFound, .what("upload")) { try await store.abortUpload(uploadId: id, actor: alice) }
        #expect(try store.usage(tenant: acme).artifactCount == 0)
    }

    @Test func anAppendKeepsAnUploadAlive() async throws {
        let fixture = try StoreFixture { $0.uploadIdleTimeout = .seconds(60) }
        let store = fixture.store
        let content = pseudoRandomBytes(200, seed: 48)
        let upload = try await begin(store)
        fixture.clock.advance(by: 50)
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: Array(content[..<100]), actor: alice)
        fixture.clock.advance(by: 50)
        #expect(try await store.expireIdleUploads() == 0)
        _ = try await store.append(uploadId: upload.uploadId, offset: 100, bytes: Array(content[100...]), actor: alice)
        fixture.clock.advance(by: 59)
        let committed = try await store.commitUpload(
            uploadId: upload.uploadId, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        #expect(try readAll(store, acme, committed.meta.artifactId) == content)
    }

    @Test func anUploadIdleOverARestartExpiresWhenTheStoreOpens() async throws {
        let directory = StoreDirectory()
        let configure: (inout ArtifactStore.Configuration) -> Void = { $0.uploadIdleTimeout = .seconds(60) }
        let uploadId = try await directory.withStore(configure) { store in
            let upload = try await begin(store)
            _ = try await store.append(
                uploadId: upload.uploadId, offset: 0, bytes: pseudoRandomBytes(chunkBytes + 10, seed: 49), actor: alice)
            return upload.uploadId
        }
        directory.clock.advance(by: 61)
        try await directory.withStore(configure) { store in
            let health = try store.health()
            #expect(health.openUploads == 0 && health.pendingReclaim == 0)
            await expectStoreError(.notFound, .what("upload")) {
                try store.uploadStatus(uploadId: uploadId, actor: alice)
            }
        }
        #expect(try directory.rawCount(of: .chunks) == 0)
    }

    @Test func aFailedCommitLeavesTheUploadOpenAndUsageUnchanged() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(chunkBytes + 77, seed: 50)
        let digest = SHA256Hasher.digest(content)
        let wrong = SHA256Hasher.digest(Array(content.dropLast()))
        try await stage(store, acme, pseudoRandomBytes(10, seed: 51))
        let before = try store.usage(tenant: acme)
        let eventsBefore = try allEvents(store, tenant: acme)

        let upload = try await begin(store, declaredSize: UInt64(content.count))
        _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: content, actor: alice)
        await expectStoreError(.digestMismatch, .digests(expected: wrong, actual: digest)) {
            try await store.commitUpload(uploadId: upload.uploadId, expectedSHA256: wrong, actor: alice)
        }
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == UInt64(content.count))
        #expect(try store.usage(tenant: acme) == before)
        #expect(try allEvents(store, tenant: acme) == eventsBefore)
        #expect(try allArtifacts(store, tenant: acme).count == 1)
        await expectStoreError(.notFound) { try store.stat(tenant: acme, sha256: digest) }

        let committed = try await store.commitUpload(uploadId: upload.uploadId, expectedSHA256: digest, actor: alice)
        #expect(committed.deduplicated == false)
        #expect(try readAll(store, acme, committed.meta.artifactId) == content)
        #expect(try store.usage(tenant: acme).storedBytes == before.storedBytes + UInt64(content.count))
    }

    @Test func aWrongTransferCheckIsRefusedAndTheUploadStaysOpen() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(2 * chunkBytes + 99, seed: 52)
        let upload = try await begin(store, declaredSize: UInt64(content.count))
        for start in stride(from: 0, to: content.count, by: 100_000) {
            let end = min(content.count, start + 100_000)
            _ = try await store.append(
                uploadId: upload.uploadId, offset: UInt64(start), bytes: Array(content[start..<end]), actor: alice)
        }
        var damaged = content
        damaged[chunkBytes] ^= 0x80
        let wrong = XXH3Hash128.hash(damaged)
        await expectStoreError(.digestMismatch, .checksums(expected: wrong, actual: XXH3Hash128.hash(content))) {
            try await store.commitUpload(uploadId: upload.uploadId, expectedXXH128: wrong, actor: alice)
        }
        // A right sha256 does not let a wrong check through.
        await expectStoreError(.digestMismatch, .checksums(expected: wrong, actual: XXH3Hash128.hash(content))) {
            try await store.commitUpload(
                uploadId: upload.uploadId, expectedSHA256: SHA256Hasher.digest(content), expectedXXH128: wrong,
                actor: alice)
        }
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == UInt64(content.count))
        #expect(try allArtifacts(store, tenant: acme).isEmpty)

        let committed = try await store.commitUpload(
            uploadId: upload.uploadId, expectedXXH128: XXH3Hash128.hash(content), actor: alice)
        #expect(committed.meta.sha256 == SHA256Hasher.digest(content))
        #expect(try readAll(store, acme, committed.meta.artifactId) == content)
    }
}
