import CairnDigest
import CairnStore
import Foundation
import LMDB
import StoreLayout

/// The integrity scrub: `verifyBlobs` over a tenant's blobs against
/// `openssl dgst -sha256` over the same bytes, in the same run.
extension StoreBench {
    /// The rate the issue asks of a scrub: at least 0.7 × openssl's, i.e. at most 1/0.7 of its time.
    static let scrubTargetRatio = 1 / 0.7

    func measureScrub(in workDirectory: String, tools: Tools) async throws -> [Measurement] {
        let size = UInt64(scrubMib) << 20
        let blobSize = UInt64(scrubBlobMib) << 20
        let path = workDirectory + "/scrub.bin"
        progress("generating \(scrubMib) MiB of random bytes in \(path)")
        try generateRandomFile(at: path, size: size, piece: 4 << 20)
        let file = try InputFile(path: path)
        defer { file.close() }

        let storeDirectory = workDirectory + "/store-scrub"
        try? FileManager.default.removeItem(atPath: storeDirectory)
        let blobs = Int((size + blobSize - 1) / blobSize)
        do {
            let store = try ArtifactStore.open(directory: storeDirectory, logger: storeLogger)
            var offset: UInt64 = 0
            while offset < size {
                let count = min(blobSize, size - offset)
                let upload = try await store.beginUpload(
                    tenant: benchTenant, providerId: benchProvider, mimeType: "application/octet-stream",
                    declaredSize: count, actor: benchActor)
                var done: UInt64 = 0
                while done < count {
                    let bytes = try file.read(at: offset + done, count: Int(min(4 << 20, count - done)))
                    done = try await store.append(
                        uploadId: upload.uploadId, offset: done, bytes: bytes, actor: benchActor)
                }
                _ = try await store.commitUpload(uploadId: upload.uploadId, actor: benchActor)
                offset += count
            }
            try store.flush()
            progress("staged \(blobs) blobs of \(scrubBlobMib) MiB for the scrub")
        }
        // The store is closed here; its last reference went with the scope.
        if scrubLegacyHeaders {
            try Self.giveChunksSHA256Headers(in: storeDirectory)
            progress("gave every chunk the SHA-256 header of layouts 1 to 4")
        }
        let store = try ArtifactStore.open(directory: storeDirectory, logger: storeLogger)

        var openssl: [Double] = []
        var scrub: [Double] = []
        for repetition in 1...repetitions {
            let tag = "[scrub \(repetition)/\(repetitions)]"
            openssl.append(try tools.openssl(path))
            progress("\(tag) openssl dgst -sha256: \(seconds(openssl.last!)) s")
            var page: VerificationPage? = nil
            scrub.append(try timed { page = try store.verifyBlobs(tenant: benchTenant, maxBytes: .max) })
            guard let page, page.checkedBytes == size, page.corrupt.isEmpty, page.checkedBlobs == blobs else {
                throw BenchError("the scrub did not check every byte clean: \(String(describing: page))")
            }
            progress("\(tag) verifyBlobs: \(seconds(scrub.last!)) s")
        }
        if !keep { try? FileManager.default.removeItem(atPath: storeDirectory) }
        let opensslM = Measurement(
            group: "scrub", name: "openssl dgst -sha256 (file page-cache hot)", bytes: size, seconds: openssl)
        return [
            opensslM,
            Measurement(
                group: "scrub", name: "verifyBlobs over every blob (chunks and whole blobs)", bytes: size,
                operations: blobs, seconds: scrub, limit: ("openssl", opensslM.medianSeconds),
                target: Self.scrubTargetRatio),
        ]
    }

    /// Rewrites every chunk header of the closed store as layouts 1 to 4
    /// wrote it: the SHA-256 of the chunk's data.
    static func giveChunksSHA256Headers(in storeDirectory: String) throws {
        let environment = try Environment(path: storeDirectory, configuration: .init(mapSize: 4 << 30))
        try environment.withWriteTransaction { txn in
            guard let chunks = try txn.openDatabase(DatabaseName.chunks.rawValue, create: false) else { return }
            var keys: [[UInt8]] = []
            try txn.withCursor(on: chunks) { cursor in
                var entry = try cursor.first()
                while let current = entry {
                    keys.append(Array(current.key))
                    entry = try cursor.next()
                }
            }
            for key in keys {
                guard let value = try txn.get(key, in: chunks) else { continue }
                let data = Array(value[ChunkHeader.byteCount...])
                try txn.put(SHA256Hasher.digest(data).bytes + data, for: key, in: chunks)
            }
        }
    }
}
