import CairnClient
import CairnDigest
import CairnManifest
import Foundation
import Testing

/// The sending plan of an import, without a server: what is attached once, what travels alone,
/// where batches end, and what is left out.
@Suite struct ImportBatchesTests {
    func artifact(_ content: String, size: UInt64? = nil) -> TenantManifest.Artifact {
        TenantManifest.Artifact(
            artifactId: UUID(), sha256: SHA256Hasher.digest(Array(content.utf8)),
            sizeBytes: size ?? UInt64(content.utf8.count), providerId: "p", mimeType: "x/y")
    }

    @Test func eachContentIsAttachedOnceAndPresentArtifactsAreLeftOut() {
        let artifacts = [artifact("aa"), artifact("aa"), artifact("bbb"), artifact("held"), artifact("cccc")]
        let statuses = ["needsContent", "needsContent", "present", "link", "needsContent"]
        let plan = ImportBatches(
            artifacts: artifacts, statuses: statuses, limits: .init(entries: 1000, bytes: 1 << 20, inlineBytes: 1024))
        #expect(plan.large == [])
        #expect(plan.batches == [.init(artifacts: [0, 1, 3, 4], contents: [0, 4], bytes: 6)])
    }

    @Test func batchesEndAtTheEntryAndByteLimits() {
        let artifacts = (0..<7).map { artifact("content \($0)") }  // 9 bytes each
        let plan = ImportBatches(
            artifacts: artifacts, statuses: Array(repeating: "needsContent", count: 7),
            limits: .init(entries: 3, bytes: 20, inlineBytes: 20))
        #expect(plan.batches.map(\.artifacts) == [[0, 1], [2, 3], [4, 5], [6]])
        #expect(plan.batches.allSatisfy { $0.bytes <= 20 })
        let byEntries = ImportBatches(
            artifacts: artifacts, statuses: Array(repeating: "link", count: 7),
            limits: .init(entries: 3, bytes: 20, inlineBytes: 20))
        #expect(byEntries.batches.map(\.artifacts) == [[0, 1, 2], [3, 4, 5], [6]])
        #expect(byEntries.batches.allSatisfy { $0.contents.isEmpty && $0.bytes == 0 })
    }

    @Test func largeContentsTravelAloneFirstAndTheirTwinsAreLinked() {
        let big = artifact("big", size: 5000)
        var twin = big
        twin.artifactId = UUID()
        let artifacts = [artifact("small"), big, twin]
        let plan = ImportBatches(
            artifacts: artifacts, statuses: ["needsContent", "needsContent", "needsContent"],
            limits: .init(entries: 10, bytes: 4096, inlineBytes: 8192))
        // The inline limit never passes the batch's byte limit.
        #expect(plan.large == [1])
        #expect(plan.batches == [.init(artifacts: [0, 2], contents: [0], bytes: 5)])
    }
}
