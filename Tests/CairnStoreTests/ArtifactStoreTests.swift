import CairnDigest
import CairnStore
import Foundation
import Testing

@Suite struct ArtifactStoreTests {
    @Test func stageReadDeleteRoundTrip() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(3 * (1 << 20) + 17, seed: 1)
        let staged = try await store.stage(
            tenant: tenant("acme"), providerId: provider("p"), mimeType: "application/octet-stream",
            content: content, actor: alice)
        #expect(staged.deduplicated == false)
        #expect(staged.meta.sha256 == SHA256Hasher.digest(content))
        let whole = try store.read(
            tenant: tenant("acme"), artifactId: staged.meta.artifactId, length: content.count + 10)
        #expect(whole.bytes == content)
        #expect(whole.eof)
        let middle = try store.read(
            tenant: tenant("acme"), artifactId: staged.meta.artifactId, offset: 1_000_000, length: 100_000)
        #expect(middle.bytes == Array(content[1_000_000..<1_100_000]))
        #expect(!middle.eof)

        let again = try await store.stage(
            tenant: tenant("acme"), providerId: provider("p"), mimeType: "text/plain", content: content, actor: alice)
        #expect(again.deduplicated)
        var usage = try store.usage(tenant: tenant("acme"))
        #expect(usage.artifactCount == 2)
        #expect(usage.storedBytes == UInt64(content.count))
        #expect(usage.logicalBytes == 2 * UInt64(content.count))

        #expect(
            try await store.delete(tenant: tenant("acme"), artifactId: staged.meta.artifactId, actor: alice) == false)
        #expect(try await store.delete(tenant: tenant("acme"), artifactId: again.meta.artifactId, actor: alice) == true)
        usage = try store.usage(tenant: tenant("acme"))
        #expect(usage.artifactCount == 0 && usage.storedBytes == 0 && usage.logicalBytes == 0)
        try store.flush()
        #expect(try store.health().pendingReclaim == 0)
    }

    @Test func uploadInPiecesThenCommit() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let content = pseudoRandomBytes(2 * (1 << 20) + 5000, seed: 2)
        let begun = try await store.beginUpload(
            tenant: tenant("acme"), providerId: provider("p"), mimeType: "application/json",
            declaredSize: UInt64(content.count), actor: alice)
        var offset: UInt64 = 0
        for piece in stride(from: 0, to: content.count, by: 700_001) {
            let end = min(content.count, piece + 700_001)
            offset = try await store.append(
                uploadId: begun.uploadId, offset: offset, bytes: Array(content[piece..<end]), actor: alice)
        }
        #expect(offset == UInt64(content.count))
        let committed = try await store.commitUpload(
            uploadId: begun.uploadId, expectedSHA256: SHA256Hasher.digest(content), actor: alice)
        let back = try store.read(tenant: tenant("acme"), artifactId: committed.meta.artifactId, length: content.count)
        #expect(back.bytes == content)
    }
}
