import CairnDigest
import CairnStore
import DamageSupport
import Foundation
import StoreLayout
import Testing

/// Stored bytes damaged on disk are detected on read; no damaged byte is
/// ever served, and undamaged content stays readable.
@Suite struct IntegrityTests {
    let acme = tenant("acme")

    /// Flips one byte of `data.mdb` at `delta` bytes from the only place
    /// where `pattern` occurs. The store must be closed.
    func flipByte(in directory: StoreDirectory, after pattern: [UInt8], delta: Int) throws {
        let found = try FileDamage.offsets(of: pattern, in: directory.dataFile)
        try #require(found.count == 1, "the pattern occurs \(found.count) times in data.mdb, not once")
        try FileDamage.flip(directory.dataFile, at: found[0] + delta)
    }

    @Test func aFlippedDataByteIsAnIntegrityErrorNamingTheBlob() async throws {
        let directory = StoreDirectory()
        let damaged = pseudoRandomBytes(chunkBytes + 100_000, seed: 0xC0FF_EE01)
        let intact = pseudoRandomBytes(50_000, seed: 0xC0FF_EE02)
        let (damagedId, intactId) = try await directory.withStore { store in
            (
                try await stage(store, acme, damaged).meta.artifactId,
                try await stage(store, acme, intact).meta.artifactId
            )
        }
        // A byte in the middle of the second chunk's data.
        try flipByte(in: directory, after: Array(damaged[chunkBytes..<chunkBytes + 64]), delta: 50_000)

        try await directory.withStore { store in
            let blob = StoreError.Detail.blob(SHA256Hasher.digest(damaged))
            await expectStoreError(.integrityError, blob) {
                try store.read(tenant: acme, artifactId: damagedId, length: damaged.count)
            }
            await expectStoreError(.integrityError, blob) {
                try store.read(tenant: acme, artifactId: damagedId, offset: UInt64(chunkBytes + 49_000), length: 10)
            }
            // A range that ends just before the damaged chunk still reads.
            let head = try store.read(tenant: acme, artifactId: damagedId, offset: 0, length: chunkBytes)
            #expect(head.bytes == Array(damaged[..<chunkBytes]))
            #expect(head.eof == false)
            // And so does another artifact.
            #expect(try readAll(store, acme, intactId) == intact)
            // What the store knows about the artifact is still there.
            #expect(try store.meta(tenant: acme, artifactId: damagedId).sha256 == SHA256Hasher.digest(damaged))
            #expect(try store.stat(tenant: acme, sha256: SHA256Hasher.digest(damaged)).refCount == 1)
        }
    }

    @Test func aFlippedChunkDigestIsAnIntegrityError() async throws {
        let directory = StoreDirectory()
        let damaged = pseudoRandomBytes(30_000, seed: 0xC0FF_EE03)
        let intact = pseudoRandomBytes(30_000, seed: 0xC0FF_EE04)
        let (damagedId, intactId) = try await directory.withStore { store in
            (
                try await stage(store, acme, damaged).meta.artifactId,
                try await stage(store, acme, intact).meta.artifactId
            )
        }
        // The chunk value is the data's digest, then the data: damage the digest.
        try flipByte(in: directory, after: Array(damaged[..<64]), delta: -5)
        try await directory.withStore { store throws in
            await expectStoreError(.integrityError, .blob(SHA256Hasher.digest(damaged))) {
                try store.read(tenant: acme, artifactId: damagedId, offset: 100, length: 1)
            }
            #expect(try readAll(store, acme, intactId) == intact)
        }
    }

    /// The header is 32 bytes in front of the data: the XXH3-128 of the data (-32 to -17), then the marker.
    @Test(arguments: [-32, -24, -17])
    func aWrongXXH3HashInAChunkHeaderIsAnIntegrityError(delta: Int) async throws {
        let directory = StoreDirectory()
        let damaged = pseudoRandomBytes(chunkBytes + 30_000, seed: 0xC0FF_EE06)
        let damagedId = try await directory.withStore { store in
            try await stage(store, acme, damaged).meta.artifactId
        }
        #expect(try directory.chunkHeaderForms(ofBlob: damaged) == [.xxh3, .xxh3])
        try flipByte(in: directory, after: Array(damaged[chunkBytes..<chunkBytes + 64]), delta: delta)
        try await directory.withStore { store throws in
            let digest = SHA256Hasher.digest(damaged)
            await expectStoreError(.integrityError, .blob(digest)) {
                try store.read(tenant: acme, artifactId: damagedId, offset: UInt64(chunkBytes) + 5, length: 1)
            }
            #expect(
                try store.read(tenant: acme, artifactId: damagedId, length: chunkBytes).bytes
                    == Array(damaged[..<chunkBytes]))
            #expect(try store.verifyBlob(tenant: acme, sha256: digest).corrupt.map(\.sha256) == [digest])
        }
    }

    @Test func chunksWithSHA256HeadersOfOlderLayoutsStillVerify() async throws {
        let directory = StoreDirectory()
        let several = pseudoRandomBytes(2 * chunkBytes + 1, seed: 0xC0FF_EE07)
        let single = pseudoRandomBytes(700, seed: 0xC0FF_EE08)
        let ids = try await directory.withStore { store in
            [
                try await stage(store, acme, several).meta.artifactId,
                try await stage(store, acme, single).meta.artifactId,
            ]
        }
        try directory.giveChunksSHA256Headers()
        #expect(try directory.chunkHeaderForms(ofBlob: several) == [.sha256, .sha256, .sha256])
        try await directory.withStore { store in
            #expect(try readAll(store, acme, ids[0]) == several)
            #expect(try readAll(store, acme, ids[1]) == single)
            let tail = try store.read(tenant: acme, artifactId: ids[0], offset: UInt64(2 * chunkBytes), length: 10)
            #expect(tail.bytes == [several.last!])
            let page = try store.verifyBlobs(tenant: acme)
            #expect(page.checkedBlobs == 2 && page.corrupt.isEmpty)
        }
    }

    @Test func anOpenUploadWithDamagedChunksRefusesToContinue() async throws {
        let directory = StoreDirectory()
        let content = pseudoRandomBytes(40_000, seed: 0xC0FF_EE05)
        let uploadId = try await directory.withStore { store in
            let upload = try await store.beginUpload(
                tenant: acme, providerId: provider("p"), mimeType: "application/octet-stream", actor: alice)
            _ = try await store.append(
                uploadId: upload.uploadId, offset: 0, bytes: Array(content[..<30_000]), actor: alice)
            return upload.uploadId
        }
        try flipByte(in: directory, after: Array(content[..<64]), delta: 20_000)
        try await directory.withStore { store in
            #expect(try store.uploadStatus(uploadId: uploadId, actor: alice).offset == 30_000)
            // Rebuilding the running digest reads every stored chunk, verified.
            await expectStoreError(.integrityError) {
                try await store.append(
                    uploadId: uploadId, offset: 30_000, bytes: Array(content[30_000...]), actor: alice)
            }
            await expectStoreError(.integrityError) { try await store.commitUpload(uploadId: uploadId, actor: alice) }
            #expect(try store.usage(tenant: acme).artifactCount == 0)
            try await store.abortUpload(uploadId: uploadId, actor: alice)
        }
    }
}
