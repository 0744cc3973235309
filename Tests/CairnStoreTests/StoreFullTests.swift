import CairnDigest
import CairnStore
import Foundation
import Testing

/// At its size limit the store refuses writes with STORE_FULL, loses
/// nothing, and recovers when space is freed.
@Suite struct StoreFullTests {
    let acme = tenant("acme")
    static let initialMapSize = 4 << 20
    static let mapSizeLimit = 16 << 20

    static func configure(_ configuration: inout ArtifactStore.Configuration) {
        configuration.initialMapSize = initialMapSize
        configuration.mapSizeLimit = mapSizeLimit
    }

    @Test func stagingUntilFullThenRecovering() async throws {
        let fixture = try StoreFixture(configure: Self.configure)
        let store = fixture.store
        let (staged, failure) = try await stageUntilRefused(store, acme, count: 64, size: chunkBytes, seed: 700)
        let error = try #require(failure, "64 MiB fit in a store limited to 16 MiB")
        #expect(error.code == .storeFull)
        #expect(error.detail == StoreError.Detail.none)
        // The map grew past its initial size before the limit was reached.
        #expect(staged.count * chunkBytes > Self.initialMapSize, "only \(staged.count) MiB were stored")
        let health = try store.health()
        #expect(health.usedBytes > UInt64(Self.initialMapSize))
        #expect(health.usedBytes <= UInt64(Self.mapSizeLimit))
        #expect(health.sizeLimitBytes == UInt64(Self.mapSizeLimit))

        // The failed write left no trace.
        let usage = try store.usage(tenant: acme)
        #expect(usage.artifactCount == UInt64(staged.count))
        #expect(usage.storedBytes == UInt64(staged.count * chunkBytes))
        #expect(try allArtifacts(store, tenant: acme).map(\.artifactId) == staged.map(\.id))
        #expect(try allEvents(store, tenant: acme).count == staged.count)
        // A second attempt fails the same way, still with nothing written.
        await expectStoreError(.storeFull) { try await stage(store, acme, pseudoRandomBytes(chunkBytes, seed: 799)) }
        #expect(try store.usage(tenant: acme) == usage)

        // What was stored reads back.
        for (id, content) in staged { #expect(try readAll(store, acme, id) == content) }

        // Deleting works at the limit, and once reclaimed, the space is reused.
        #expect(try await store.delete(tenant: acme, artifactId: staged[0].id, actor: alice))
        #expect(try await store.delete(tenant: acme, artifactId: staged[1].id, actor: alice))
        try store.flush()
        #expect(try store.health().pendingReclaim == 0)
        let small = try await stage(store, acme, pseudoRandomBytes(1000, seed: 800))
        #expect(try readAll(store, acme, small.meta.artifactId) == pseudoRandomBytes(1000, seed: 800))
        let big = try await stage(store, acme, pseudoRandomBytes(chunkBytes, seed: 801))
        #expect(try readAll(store, acme, big.meta.artifactId) == pseudoRandomBytes(chunkBytes, seed: 801))
        for (id, content) in staged.dropFirst(2) { #expect(try readAll(store, acme, id) == content) }
    }

    @Test func anAppendThatDoesNotFitLeavesTheUploadWhereItWas() async throws {
        let fixture = try StoreFixture(configure: Self.configure)
        let store = fixture.store
        let upload = try await store.beginUpload(
            tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", actor: alice)
        var offset: UInt64 = 0
        var appended: [UInt8] = []
        var failure: StoreError?
        for index in 0..<64 {
            let piece = pseudoRandomBytes(chunkBytes, seed: 900 + UInt64(index))
            do {
                offset = try await store.append(uploadId: upload.uploadId, offset: offset, bytes: piece, actor: alice)
                appended += piece
            } catch let error as StoreError {
                failure = error
                break
            }
        }
        #expect(failure?.code == .storeFull)
        #expect(offset > UInt64(Self.initialMapSize))
        #expect(try store.uploadStatus(uploadId: upload.uploadId, actor: alice).offset == offset)
        // The refused bytes are not in the running digest: the upload commits as stored.
        let committed = try await store.commitUpload(
            uploadId: upload.uploadId, expectedSHA256: SHA256Hasher.digest(appended), actor: alice)
        #expect(committed.meta.sizeBytes == offset)
        let head = try store.read(tenant: acme, artifactId: committed.meta.artifactId, length: 4096)
        #expect(head.bytes == Array(appended[..<4096]))
        let tail = try store.read(
            tenant: acme, artifactId: committed.meta.artifactId, offset: offset - 4096, length: 4096)
        #expect(tail.bytes == Array(appended.suffix(4096)) && tail.eof)
    }
}

extension StoreFullTests {
    @Test func theLimitHoldsAcrossARestart() async throws {
        let directory = StoreDirectory()
        let staged = try await directory.withStore(Self.configure) { store in
            var staged: [(id: UUID, content: [UInt8])] = []
            for index in 0..<64 {
                let content = pseudoRandomBytes(chunkBytes, seed: 1000 + UInt64(index))
                guard let committed = try? await stage(store, acme, content) else { break }
                staged.append((committed.meta.artifactId, content))
            }
            return staged
        }
        #expect(staged.count > 4 && staged.count < 64)
        try await directory.withStore(Self.configure) { store in
            #expect(try store.usage(tenant: acme).artifactCount == UInt64(staged.count))
            for (id, content) in staged { #expect(try readAll(store, acme, id) == content) }
            await expectStoreError(.storeFull) {
                try await stage(store, acme, pseudoRandomBytes(chunkBytes, seed: 1099))
            }
            #expect(try await store.delete(tenant: acme, artifactId: staged[0].id, actor: alice))
            #expect(try await store.delete(tenant: acme, artifactId: staged[1].id, actor: alice))
            try store.flush()
            let again = try await stage(store, acme, pseudoRandomBytes(chunkBytes, seed: 1098))
            #expect(try readAll(store, acme, again.meta.artifactId) == pseudoRandomBytes(chunkBytes, seed: 1098))
        }
    }

    /// LMDB reuses a page only two commits after the one that freed it. At
    /// the limit, a write that needs the pages the last reclamation freed
    /// must still get them.
    @Test func spaceFreedByADeleteIsUsableByTheNextWrite() async throws {
        let fixture = try StoreFixture(configure: Self.configure)
        let store = fixture.store
        var staged: [UUID] = []
        for index in 0..<64 {
            guard
                let committed = try? await stage(store, acme, pseudoRandomBytes(chunkBytes, seed: 1400 + UInt64(index)))
            else { break }
            staged.append(committed.meta.artifactId)
        }
        try #require(staged.count > 4 && staged.count < 64)
        #expect(try await store.delete(tenant: acme, artifactId: staged[0], actor: alice))
        try store.flush()
        #expect(try store.health().pendingReclaim == 0)
        // As big as the one deleted: it fits where that one was.
        let content = pseudoRandomBytes(chunkBytes, seed: 1499)
        let replacement = try await stage(store, acme, content)
        #expect(try readAll(store, acme, replacement.meta.artifactId) == content)
    }
}
