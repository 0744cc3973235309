import CairnDigest
import Foundation
import StoreLayout
import Testing

@testable import CairnStore

/// The store split into content and metadata file, and put back together: what off-host backups
/// send and restore.
@Suite struct DetachedContentTests {
    let acme = tenant("acme")
    let beta = tenant("beta")

    func scratch() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("cairn-detached-\(UUID().uuidString)").path
    }

    @Test func aMetadataFileRefilledWithItsContentRestoresToTheSameStore() async throws {
        let source = StoreDirectory()
        let (snapshot, metadata, refilled, restored) = (scratch(), scratch(), scratch(), scratch())
        defer {
            for path in [snapshot, metadata, refilled, restored] { try? FileManager.default.removeItem(atPath: path) }
        }
        let large = pseudoRandomBytes(chunkBytes * 2 + 77, seed: 0xDE7A)
        let partial = pseudoRandomBytes(chunkBytes + 5, seed: 0x0BE1)
        let (manifest, ids, uploadId) = try await source.withStore { store in
            let ids = [
                try await stage(store, acme, large).meta.artifactId,
                try await stage(store, beta, large).meta.artifactId,
                try await stage(store, beta, Array("small".utf8)).meta.artifactId,
            ]
            let gone = try await stage(store, acme, Array("gone".utf8)).meta.artifactId
            _ = try await store.delete(tenant: acme, artifactId: gone, actor: alice)
            let upload = try await store.beginUpload(
                tenant: acme, providerId: provider("p"), mimeType: "x/y", actor: alice)
            _ = try await store.append(uploadId: upload.uploadId, offset: 0, bytes: partial, actor: alice)
            return (try store.backup(to: snapshot).manifest, ids, upload.uploadId)
        }
        // Every extent of live content: three blobs (one per tenant and digest) and the upload.
        var contents: [ContentExtent: [UInt8]] = [:]
        do {
            let copy = try ArtifactStore.openReadOnly(directory: snapshot, logger: quietLogger)
            for extent in try copy.contentExtents() {
                contents[extent] = try copy.contentBytes(of: extent, range: 0..<extent.sizeBytes)
            }
        }
        #expect(contents.count == 4)
        #expect(contents.values.filter { $0 == large }.count == 2)
        #expect(
            contents.contains {
                $0.key.owner == .upload(uploadId: withUnsafeBytes(of: uploadId.uuid) { Array($0) })
                    && $0.value == partial
            })
        for (extent, bytes) in contents {
            if case .blob(_, let digest) = extent.owner { #expect(SHA256Hasher.digest(bytes) == digest) }
        }

        let file = try ArtifactStore.openReadOnly(directory: snapshot, logger: quietLogger).writeMetadataFile(
            into: metadata)
        #expect(file.sizeBytes < UInt64(large.count), "the metadata file holds no content")
        // Without its content, the metadata file does not restore: every blob fails verification.
        #expect(throws: RestoreRefusal.self) {
            try ArtifactStore.restore(
                dataFile: metadata + "/data.mdb", into: restored, expected: manifest, expectedFile: nil,
                logger: quietLogger)
        }
        #expect(!FileManager.default.fileExists(atPath: restored))

        try FileManager.default.createDirectory(atPath: refilled, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: metadata + "/data.mdb", toPath: refilled + "/data.mdb")
        let refill = try ContentRefill(directory: refilled, contentBytes: UInt64(large.count * 3))
        #expect(Set(refill.extents) == Set(contents.keys))
        for extent in refill.extents {
            let bytes = contents[extent]!
            // A chunk at a time for the large content, as a restore streams it.
            var offset = 0
            repeat {
                let end = min(bytes.count, offset + chunkBytes)
                try refill.write(Array(bytes[offset..<end]), at: UInt64(offset), to: extent)
                offset = end
            } while offset < bytes.count
        }
        try refill.finish()
        let report = try ArtifactStore.restore(
            dataFile: refilled + "/data.mdb", into: restored, expected: manifest, expectedFile: nil, logger: quietLogger
        )
        #expect(report.manifest == manifest)
        let store = try ArtifactStore.open(directory: restored, logger: quietLogger)
        #expect(try readAll(store, acme, ids[0]) == large)
        #expect(try readAll(store, beta, ids[2]) == Array("small".utf8))
        // The open upload resumes where it was.
        _ = try await store.append(
            uploadId: uploadId, offset: UInt64(partial.count), bytes: Array("more".utf8), actor: alice)
    }

    /// A compacted copy has no free page to spare; emptying its content must still fit.
    @Test func theMetadataFileOfAStoreOfManySmallContentsIsWritten() async throws {
        let source = StoreDirectory()
        let (snapshot, metadata) = (scratch(), scratch())
        defer { for path in [snapshot, metadata] { try? FileManager.default.removeItem(atPath: path) } }
        let manifest = try await source.withStore { store in
            // Many at once, so that they share group commits.
            for batch in 0..<30 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in batch * 100..<(batch + 1) * 100 {
                        group.addTask { _ = try await stage(store, acme, pseudoRandomBytes(4096, seed: UInt64(index))) }
                    }
                    try await group.waitForAll()
                }
            }
            return try store.backup(to: snapshot, flushes: false).manifest
        }
        let file = try ArtifactStore.openReadOnly(directory: snapshot, logger: quietLogger).writeMetadataFile(
            into: metadata)
        #expect(file.sizeBytes < 3000 * 4096 / 4)
        let store = try ArtifactStore.openReadOnly(directory: metadata, logger: quietLogger)
        #expect(try store.contentExtents().count == 3000)
        #expect(try store.storeManifest() == manifest)
    }
}
