import CairnDigest
import Foundation
import LMDB
import StoreLayout
import Testing

@testable import CairnStore

/// The scrub (`verifyBlobs`, `verifyBlob`) finds what reads would find, and
/// more: damaged data, a damaged chunk header (its marker or its XXH3 hash),
/// and a chunk replaced together with its header, in blobs of one chunk and
/// of several. (`MigrationTests` and `IntegrityTests` scrub SHA-256 headers.)
@Suite struct ScrubTests {
    let acme = tenant("acme")

    func corrupt(_ store: ArtifactStore) throws -> Set<SHA256Digest> {
        Set(try store.verifyBlobs(tenant: acme, maxBytes: 1 << 20).corrupt.map(\.sha256)).union(
            try pages(store).flatMap { $0.corrupt.map(\.sha256) })
    }

    /// Every page of a scrub in small steps, so that paging is exercised too.
    func pages(_ store: ArtifactStore) throws -> [VerificationPage] {
        var pages = [try store.verifyBlobs(tenant: acme, maxBytes: 1)]
        while let cursor = pages.last?.nextCursor {
            pages.append(try store.verifyBlobs(tenant: acme, cursor: cursor, maxBytes: 1))
        }
        return pages
    }

    /// The extent holding `content`'s chunks, read directly.
    func extent(of content: [UInt8], _ txn: borrowing Transaction, _ blobs: Database) throws -> UInt64 {
        let key = Keys.blob(tenant: "acme", sha256: SHA256Hasher.digest(content).bytes)
        guard let value = try txn.get(key, in: blobs) else { throw StoreTestFailure("no blob") }
        return try BlobRecord(decoding: Array(value)).extent
    }

    @Test func damageOfEveryKindIsFound() async throws {
        let directory = StoreDirectory()
        let data = pseudoRandomBytes(chunkBytes * 3 - 10, seed: 0x5C01)  // data damaged
        let prefix = pseudoRandomBytes(chunkBytes * 2 + 10, seed: 0x5C02)  // a chunk header's marker damaged
        let single = pseudoRandomBytes(40_000, seed: 0x5C03)  // one chunk, its header's XXH3 hash damaged
        let swapped = pseudoRandomBytes(chunkBytes * 2, seed: 0x5C04)  // a chunk replaced, header and all
        let intact = pseudoRandomBytes(chunkBytes + 1, seed: 0x5C05)
        let donor = pseudoRandomBytes(chunkBytes * 2, seed: 0x5C06)
        try await directory.withStore { store in
            for content in [data, prefix, single, swapped, intact, donor, []] {
                _ = try await stage(store, acme, content)
            }
            #expect(try corrupt(store).isEmpty)
            let all = try pages(store)
            #expect(all.reduce(0) { $0 + $1.checkedBlobs } == 7)
        }
        let flip = IntegrityTests()
        try flip.flipByte(in: directory, after: Array(data[chunkBytes * 2..<chunkBytes * 2 + 64]), delta: 5000)
        try flip.flipByte(in: directory, after: Array(prefix[chunkBytes..<chunkBytes + 64]), delta: -3)
        try flip.flipByte(in: directory, after: Array(single[..<64]), delta: -20)
        // Replace the second chunk of `swapped` with the donor's second chunk, header and all: every chunk
        // still matches its own header, only the whole blob's digest can tell.
        try directory.withRawWriteTransaction { txn in
            let blobs = try #require(try txn.openDatabase(DatabaseName.blobs.rawValue, create: false))
            let chunks = try #require(try txn.openDatabase(DatabaseName.chunks.rawValue, create: false))
            let from = try extent(of: donor, txn, blobs)
            let to = try extent(of: swapped, txn, blobs)
            let value = Array(try #require(try txn.get(Keys.chunk(extent: from, index: 1), in: chunks)))
            try txn.put(value, for: Keys.chunk(extent: to, index: 1), in: chunks)
        }
        try await directory.withStore { store in
            let expected = Set([data, prefix, single, swapped].map { SHA256Hasher.digest($0) })
            #expect(try corrupt(store) == expected)
            for content in [data, prefix, single, swapped] {
                let page = try store.verifyBlob(tenant: acme, sha256: SHA256Hasher.digest(content))
                #expect(page.corrupt.map(\.sha256) == [SHA256Hasher.digest(content)])
                #expect(page.corrupt.first?.artifactIds.count == 1)
            }
            for content in [intact, donor, []] {
                #expect(try store.verifyBlob(tenant: acme, sha256: SHA256Hasher.digest(content)).corrupt.isEmpty)
            }
            await expectStoreError(.notFound, .what("blob")) {
                try store.verifyBlob(tenant: acme, sha256: SHA256Hasher.digest([9, 9]))
            }
        }
    }
}
