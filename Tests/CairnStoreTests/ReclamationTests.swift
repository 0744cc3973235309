import CairnDigest
import CairnStore
import Foundation
import StoreLayout
import Testing

/// Freed content is reclaimed completely, in batches, and nothing else with it.
@Suite struct ReclamationTests {
    let acme = tenant("acme")

    /// Content of `chunks` chunks, each a different repeated byte (cheap to make).
    func layered(chunks: Int, extra: Int) -> [UInt8] {
        var content: [UInt8] = []
        content.reserveCapacity(chunks * chunkBytes + extra)
        for index in 0..<chunks {
            content += [UInt8](repeating: UInt8(truncatingIfNeeded: index &* 37 &+ 1), count: chunkBytes)
        }
        content += pseudoRandomBytes(extra, seed: 1300)
        return content
    }

    @Test func aBlobOfMoreChunksThanABatchIsReclaimedWithoutTouchingItsNeighbours() async throws {
        let directory = StoreDirectory()
        let big = layered(chunks: 66, extra: 5)
        let before = pseudoRandomBytes(chunkBytes + 3, seed: 1301)
        let after = pseudoRandomBytes(2 * chunkBytes, seed: 1302)
        try await directory.withStore { store in
            let first = try await stage(store, acme, before)
            let doomed = try await stage(store, acme, big)
            let last = try await stage(store, acme, after)
            #expect(try await store.delete(tenant: acme, artifactId: doomed.meta.artifactId, actor: alice))
            try store.flush()
            #expect(try store.health().pendingReclaim == 0)
            #expect(try readAll(store, acme, first.meta.artifactId) == before)
            #expect(try readAll(store, acme, last.meta.artifactId) == after)
        }
        #expect(try directory.rawCount(of: .chunks) == 4)
        #expect(try directory.rawCount(of: .garbage) == 0)
    }

    @Test func anAbortedUploadOfManyChunksIsReclaimed() async throws {
        let directory = StoreDirectory()
        let piece = [UInt8](repeating: 0x5A, count: 8 * chunkBytes)
        try await directory.withStore { store in
            let kept = try await stage(store, acme, [1, 2, 3])
            let upload = try await store.beginUpload(
                tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", actor: alice)
            var offset: UInt64 = 0
            for _ in 0..<9 {
                offset = try await store.append(uploadId: upload.uploadId, offset: offset, bytes: piece, actor: alice)
            }
            try await store.abortUpload(uploadId: upload.uploadId, actor: alice)
            try store.flush()
            let health = try store.health()
            #expect(health.pendingReclaim == 0 && health.openUploads == 0)
            #expect(try readAll(store, acme, kept.meta.artifactId) == [1, 2, 3])
        }
        #expect(try directory.rawCount(of: .chunks) == 1)
    }

    /// `flush()` waits for reclamation: when it returns, every extent freed
    /// before it (here by one expiry of many uploads) is gone.
    @Test func flushWaitsForEveryPendingExtent() async throws {
        let fixture = try StoreFixture { $0.uploadIdleTimeout = .seconds(60) }
        let store = fixture.store
        for round in 0..<3 {
            for _ in 0..<40 {
                let upload = try await store.beginUpload(
                    tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", actor: alice)
                _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: [1, 2, 3], actor: alice)
            }
            fixture.clock.advance(by: 61)
            #expect(try await store.expireIdleUploads() == 40)
            try store.flush()
            #expect(try store.health().pendingReclaim == 0, "round \(round)")
        }
    }
}
